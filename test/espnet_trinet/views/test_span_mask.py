import torch

from espnet_trinet.views.span_mask import SpanMaskView, compute_span_mask, equalize_masked_counts


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


def test_equal_masked_counts_unmask_random_frames_of_the_same_spans():
    torch.manual_seed(0)
    lengths = torch.tensor([120, 90, 60, 120])
    mask = compute_span_mask(lengths, 120, start_prob=0.65, span_length=10)
    equal = equalize_masked_counts(mask)
    counts = equal.sum(dim=1)
    assert bool((counts == mask.sum(dim=1).min()).all())  # every utterance: the fewest
    assert not bool((equal & ~mask).any())  # only masked frames are given back
    shortest = int(mask.sum(dim=1).argmin())
    assert torch.equal(equal[shortest], mask[shortest])  # the utterance with the fewest keeps its mask
    # frames are dropped inside spans: a longer utterance ends up with unmasked holes
    longest = int(mask.sum(dim=1).argmax())
    assert len(_runs(equal[longest])) >= len(_runs(mask[longest]))


def test_span_mask_view_replaces_masked_frames_with_the_embedding():
    torch.manual_seed(0)
    view = SpanMaskView(dim=4, start_prob=0.5, span=3, require_same_masks=True)
    x = torch.randn(2, 30, 4)
    masks = torch.ones(2, 1, 30, dtype=torch.bool)
    masks[1, 0, 20:] = False
    out = view(x, None, masks)
    assert torch.equal(out.x[out.masked], view.mask_emb.expand(int(out.masked.sum()), 4))
    assert torch.equal(out.x[~out.masked], x[~out.masked])
    assert out.masked.sum(dim=1).tolist()[0] == out.masked.sum(dim=1).tolist()[1]  # require_same_masks
    assert not bool(out.masked[1, 20:].any())  # padding never masked
    assert torch.equal(out.frames("unmasked"), masks.squeeze(1) & ~out.masked)
    assert torch.equal(out.frames("all"), masks.squeeze(1))
