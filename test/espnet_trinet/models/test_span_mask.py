import torch

from espnet_trinet.models.span_mask import compute_span_mask


def _runs(row: torch.Tensor):
    """Lengths of consecutive True runs in a 1-D bool tensor."""
    runs, n = [], 0
    for v in row.tolist() + [False]:
        if v:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_mask_rate_matches_reference_settings():
    # p=0.65, L=10 with overlapping spans masks 1-(1-p/L)^L ~ 49% of frames in expectation.
    torch.manual_seed(0)
    lengths = torch.full((200,), 400)
    mask = compute_span_mask(lengths, 400, start_prob=0.65, span_length=10)
    rate = mask.float().mean().item()
    assert 0.44 < rate < 0.54, rate


def test_spans_are_at_least_span_length_and_padding_never_masked():
    torch.manual_seed(1)
    lengths = torch.tensor([120, 80, 37])
    mask = compute_span_mask(lengths, 120, start_prob=0.65, span_length=10)
    assert mask.shape == (3, 120)
    for b, n in enumerate(lengths.tolist()):
        assert not mask[b, n:].any()
        assert all(r >= 10 for r in _runs(mask[b, :n]))


def test_short_utterances_get_shorter_spans_and_empty_ones_none():
    lengths = torch.tensor([4, 0])
    mask = compute_span_mask(lengths, 6, start_prob=0.65, span_length=10)
    assert mask[0, :4].all() and not mask[0, 4:].any()
    assert not mask[1].any()


def test_start_prob_and_span_length_are_configurable():
    torch.manual_seed(2)
    lengths = torch.full((100,), 300)
    low = compute_span_mask(lengths, 300, start_prob=0.1, span_length=5).float().mean()
    high = compute_span_mask(lengths, 300, start_prob=0.9, span_length=5).float().mean()
    assert low < 0.15 < 0.5 < high


def test_generator_makes_masks_reproducible():
    lengths = torch.tensor([100, 60])
    a = compute_span_mask(lengths, 100, generator=torch.Generator().manual_seed(7))
    b = compute_span_mask(lengths, 100, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
