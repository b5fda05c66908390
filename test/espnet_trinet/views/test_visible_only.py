"""data2vec 2.0's student view: clones, removal before the blocks, restoring in place."""

import pytest
import torch

from espnet_trinet.encoders.layerwise import embed_frames, run_blocks
from espnet_trinet.tasks.trinet import TriNetTask
from espnet_trinet.views import visible_only
from espnet_trinet.views.visible_only import VisibleOnlyView, shrink_pos_emb, visible_first
from trinet_testing import MINI_CONF, load_batch, namespace_from_config

DATA2VEC2 = MINI_CONF / "pretrain_data2vec2_tiny.yaml"


def _masks(lengths, T):
    return (torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)).unsqueeze(1)


def test_clones_get_their_own_masks_and_only_visible_frames_stay():
    torch.manual_seed(0)
    view = VisibleOnlyView(dim=8, start_prob=0.5, span=3, clones=4)
    x = torch.randn(2, 30, 8)
    out = view(x, None, _masks([30, 21], 30))
    assert out.clones == 4 and out.masked.shape == (8, 30) and out.valid.shape == (8, 30)
    for b in range(2):
        rows = out.masked[b * 4:(b + 1) * 4]
        assert len({tuple(r.tolist()) for r in rows}) == 4, "each clone has its own mask"
    kept = out.valid & ~out.masked
    assert torch.equal(out.kept, kept)
    # The blocks' input: each row's kept frames, in order, left-aligned; padding 0.
    counts = kept.sum(dim=1)
    assert out.x.size(1) == int(counts.max()) < 30
    assert torch.equal(out.masks.squeeze(1).sum(dim=1), counts)
    for row in range(8):
        frames = kept[row].nonzero().squeeze(1)
        torch.testing.assert_close(out.x[row, : len(frames)], x[row // 4, frames])
        assert out.x[row, len(frames):].abs().sum() == 0
    assert not out.masked[4:, 21:].any() and not out.valid[4:, 21:].any()  # padding is never masked


def test_restore_puts_each_output_at_its_frame_and_fills_the_removed_ones():
    torch.manual_seed(0)
    view = VisibleOnlyView(dim=8, start_prob=0.5, span=3, clones=3, noise_std=0.01)
    x = torch.randn(2, 25, 8) + 5.0  # far from the noise
    out = view(x, None, _masks([25, 17], 25))
    restored = view.restore(out, out.x)  # identity blocks
    assert restored.shape == (6, 25, 8)
    repeated = x.repeat_interleave(3, dim=0)
    torch.testing.assert_close(restored[out.kept], repeated[out.kept])
    removed = out.valid & out.masked
    assert removed.any() and restored[removed].abs().max() < 0.1 and restored[removed].std() > 0  # noise
    assert restored[~out.valid].abs().sum() == 0

    token_view = VisibleOnlyView(dim=8, start_prob=0.5, span=3, clones=1, fill="token")
    with torch.no_grad():
        token_view.fill_token.fill_(7.0)
    out = token_view(x, None, _masks([25, 17], 25))
    restored = token_view.restore(out, out.x)
    assert torch.all(restored[out.valid & out.masked] == 7.0)


def test_a_view_that_keeps_the_masked_frames_is_the_span_mask_student_with_clones():
    torch.manual_seed(0)
    view = VisibleOnlyView(dim=8, clones=2, remove_masked=False)
    x = torch.randn(1, 40, 8)
    out = view(x, None, _masks([40], 40))
    assert out.kept is None and out.x.shape == (2, 40, 8)
    assert torch.equal(out.x[out.masked], view.mask_emb.expand(int(out.masked.sum()), 8))
    assert view.restore(out, out.x) is out.x


def test_relative_positions_are_cut_around_distance_zero():
    T, new = 7, 4
    distances = torch.arange(T - 1, -T, -1).float().view(1, -1, 1)  # ESPnet's latest: +T-1 .. -(T-1)
    cut = shrink_pos_emb(distances, T, new)
    assert cut.squeeze().tolist() == list(range(new - 1, -new, -1))
    legacy = torch.arange(T).float().view(1, T, 1)
    assert shrink_pos_emb(legacy, T, new).squeeze().tolist() == [0, 1, 2, 3]
    assert shrink_pos_emb(None, T, new) is None
    assert visible_first(torch.tensor([[False, True, False, True]])).tolist() == [[1, 3]]


def _model(encoder=None, encoder_conf=None, **view_conf):
    overrides = dict(normalize="utterance_mvn", normalize_conf={})
    args = namespace_from_config(DATA2VEC2, **overrides)
    if encoder is not None:
        args.encoder, args.encoder_conf = encoder, encoder_conf
    args.view_conf = {**args.view_conf, **view_conf}
    return TriNetTask.build_model(args)


def test_removed_frames_never_reach_the_blocks(audio_dirs):
    torch.manual_seed(0)
    model = _model(clones=3)
    speech, lengths = load_batch(audio_dirs[0], 3)
    seen, views = [], []
    model.view.register_forward_hook(lambda _m, _i, out: views.append(out))
    for block in model.encoder.encoders:
        block.register_forward_pre_hook(lambda _m, inputs: seen.append((inputs[0][0].shape, inputs[1].sum(dim=-1))))
    loss, stats, weight = model(speech, lengths)
    view = views[0]
    kept_per_row = (view.valid & ~view.masked).sum(dim=1)
    assert len(seen) == 4  # every block ran once, on the compacted sequence
    for shape, frames in seen:
        assert shape[0] == 9 and shape[1] == int(kept_per_row.max()) < view.valid.size(1)
        assert torch.equal(frames.squeeze(1), kept_per_row)
    assert int(weight) == 3  # utterances, not clones
    assert 0.3 < float(stats["mask_ratio"]) < 0.6
    loss.backward()
    assert model.objectives["struc"].blocks[0].conv.weight.grad is not None


TRANSFORMER = dict(output_size=96, attention_heads=4, linear_units=256, num_blocks=3, dropout_rate=0.0,
                   positional_dropout_rate=0.0, attention_dropout_rate=0.0, input_layer="conv2d",
                   normalize_before=True)


def _blocks_two_ways(model, speech, lengths):
    """(visible-only block outputs restored, full-sequence outputs with the masked frames left
    out of attention, kept frames), on the same view."""
    model.eval()
    feats, feats_lengths = model._features(speech, lengths)
    x, pos_emb, masks = embed_frames(model.encoder, feats, feats_lengths)
    view = model.view(x, pos_emb, masks)
    visible = model.view.restore(view, run_blocks(model.encoder.encoders, view.x, view.pos_emb, view.masks)[-1])
    full_x = x.repeat_interleave(view.clones, dim=0)
    # ESPnet's (B, 1, T) mask hides key frames from attention: the masked frames are not read.
    full = run_blocks(model.encoder.encoders, full_x, pos_emb, view.kept.unsqueeze(1))[-1]
    return visible, full, view.kept


def test_transformer_visible_only_forward_equals_the_full_forward(audio_dirs, monkeypatch):
    """The faithful case: absolute positions are added before removal, and a transformer block
    reads other frames only through attention, so encoding only the visible frames is the full
    encoder with the masked frames left out - with no masked frame at all, the plain full forward."""
    torch.manual_seed(0)
    speech, lengths = load_batch(audio_dirs[0], 3)
    model = _model("transformer", TRANSFORMER, clones=2)
    visible, full, kept = _blocks_two_ways(model, speech, lengths)
    assert (~kept).any()
    torch.testing.assert_close(visible[kept], full[kept], rtol=1e-4, atol=1e-5)

    monkeypatch.setattr(visible_only, "compute_span_mask", lambda lengths, T, *a: torch.zeros(len(lengths), T,
                                                                                             dtype=torch.bool))
    visible, _, kept = _blocks_two_ways(model, speech, lengths)
    feats, feats_lengths = model._features(speech, lengths)
    x, pos_emb, masks = embed_frames(model.encoder, feats, feats_lengths)
    plain = run_blocks(model.encoder.encoders, x, pos_emb, masks)[-1].repeat_interleave(2, dim=0)
    torch.testing.assert_close(visible[kept], plain[kept], rtol=1e-4, atol=1e-5)


def test_conformer_sees_the_compacted_sequence(audio_dirs):
    """The stated approximation: the conformer's convolution module and relative positions read
    the visible frames as neighbours, so its visible-only outputs are not the full encoder's."""
    torch.manual_seed(0)
    speech, lengths = load_batch(audio_dirs[0], 2)
    model = _model(clones=1)
    visible, full, kept = _blocks_two_ways(model, speech, lengths)
    assert (visible[kept] - full[kept]).abs().max() > 1e-2


def test_an_utterance_masked_whole_keeps_its_first_frame():
    view = VisibleOnlyView(dim=4, start_prob=1.0, span=5, clones=2)
    out = view(torch.randn(2, 6, 4), None, _masks([4, 6], 6))  # spans of 5 cover 4 frames whole
    kept = out.kept.sum(dim=1)
    assert bool((kept >= 1).all()) and out.x.size(1) >= 1
    assert not out.masked[0, 0] and not out.masked[1, 0]


def test_bad_settings_fail():
    with pytest.raises(ValueError, match="clones must be >= 1"):
        VisibleOnlyView(dim=8, clones=0)
    with pytest.raises(ValueError, match="fill must be one of"):
        VisibleOnlyView(dim=8, fill="zeros")
