"""DinoSR's online codebooks: assignment, the EMA of sums and counts, the teacher's freeze."""

from types import SimpleNamespace

import pytest
import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

from espnet_trinet.encoders.layerwise import embed_frames, embed_frames_without_dropout
from espnet_trinet.targets.abs_targets import TeacherInput
from espnet_trinet.targets.online_codebooks import OnlineCodebookTargets, codebook_perplexity, nearest_codewords
from espnet_trinet.targets.ema_layers import EMALayerTargets
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, load_batch, namespace_from_config

DINOSR = MINI_CONF / "pretrain_dinosr_tiny.yaml"


def _encoder(dim=16, heads=2):
    torch.manual_seed(0)
    return ConformerEncoder(20, output_size=dim, attention_heads=heads, linear_units=32, num_blocks=4,
                            input_layer="conv2d", macaron_style=True, use_cnn_module=True, cnn_module_kernel=3,
                            rel_pos_type="latest", pos_enc_layer_type="rel_pos",
                            selfattention_layer_type="rel_selfattn").train()


def _batch(encoder, feats, lengths, num_updates=0):
    x, pos_emb, masks = embed_frames(encoder, feats, lengths)
    return TeacherInput(x.detach(), pos_emb, masks, lambda: embed_frames_without_dropout(encoder, feats, lengths),
                        None, None, {}, num_updates)


def _hand_made_source(layers):
    """2 codebooks of 3 codewords of dim 2, the teacher's layers replaced by ``layers`` (2 x (1, T, 2))."""
    source = OnlineCodebookTargets(_encoder(dim=2, heads=1), top_k=2, codebook_size=3, codebook_decay=0.9).train()
    with torch.no_grad():
        # codewords [0, 0], [2, 0], [0, 2] (sum / count) and [1, 1], [-1, -1], [5, 5]
        source.codebook_sums.copy_(torch.tensor([[[0.0, 0.0], [4.0, 0.0], [0.0, 2.0]],
                                                 [[1.0, 1.0], [-1.0, -1.0], [5.0, 5.0]]]))
        source.codebook_counts.copy_(torch.tensor([[1.0, 2.0, 1.0], [1.0, 1.0, 1.0]]))
    source.layers = layers
    source.top_layers = lambda batch: (source.layers, torch.ones(1, source.layers[0].size(1), dtype=torch.bool))
    return source


def _still(source):
    """A student whose blocks are the teacher's own: the EMA step moves nothing."""
    return SimpleNamespace(encoders=source.teacher.model)


def _step(source, used, num_updates=0):
    targets = source(SimpleNamespace(num_updates=num_updates))
    source.observe(targets, used)
    return targets


def test_codebook_update_against_hand_math():
    layer0 = torch.tensor([[[0.1, 0.1], [1.8, 0.2], [1.9, -0.1]]])
    layer1 = torch.tensor([[[0.9, 1.2], [-1.0, -0.8], [4.0, 4.0]]])
    source = _hand_made_source([layer0, layer1])
    used = torch.tensor([[True, True, False]])  # frame 3 is not read by the objectives
    targets = _step(source, used)
    assert targets.values.tolist() == [[[0, 0], [1, 1], [1, 2]]] and targets.kind == "hard"
    assert source.num_groups == 2 and source.output_dim == 3
    source.on_update(0, _still(source))  # a student's blocks: the teacher's own (no move)
    source.on_update_boundary()
    # codebook 0: codewords 0 and 1 got a frame each; 2 none (kept)
    torch.testing.assert_close(source.codebook_counts[0], torch.tensor([0.9 * 1 + 0.1, 0.9 * 2 + 0.1, 1.0]))
    torch.testing.assert_close(source.codebook_sums[0], torch.tensor(
        [[0.01, 0.01], [0.9 * 4 + 0.1 * 1.8, 0.1 * 0.2], [0.0, 2.0]]))
    # codebook 1: frame 3 went to codeword 2, but it is not used: codeword 2 kept, bit for bit
    torch.testing.assert_close(source.codebook_counts[1], torch.tensor([1.0, 1.0, 1.0]))
    torch.testing.assert_close(source.codebook_sums[1], torch.tensor(
        [[0.9 + 0.09, 0.9 + 0.12], [-0.9 - 0.1, -0.9 - 0.08], [5.0, 5.0]]))
    assert source.codebook_sums[1, 2].tolist() == [5.0, 5.0]

    # a second update, one frame: [2, 0] -> codeword 1 of codebook 0 ([3.78, 0.02] / 1.9)
    source.layers = [torch.tensor([[[2.0, 0.0]]]), torch.tensor([[[5.0, 5.0]]])]
    targets = _step(source, torch.tensor([[True]]), num_updates=1)
    assert targets.values.tolist() == [[[1, 2]]]
    source.on_update(1, _still(source))
    torch.testing.assert_close(source.codebook_counts, torch.tensor([[1.0, 0.9 * 1.9 + 0.1, 1.0],
                                                                     [1.0, 1.0, 1.0]]))
    torch.testing.assert_close(source.codebook_sums[0, 1], torch.tensor([0.9 * 3.78 + 0.2, 0.9 * 0.02]))
    torch.testing.assert_close(source.codebook_sums[1, 2], torch.tensor([5.0, 5.0]))  # 0.9 * 5 + 0.1 * 5
    torch.testing.assert_close(source.codewords()[0, 1], source.codebook_sums[0, 1] / source.codebook_counts[0, 1])


def test_accumulated_batches_make_one_ema_step_and_a_skipped_update_drops_them():
    layers = [torch.tensor([[[1.8, 0.2]]]), torch.tensor([[[1.0, 1.0]]])]
    source = _hand_made_source(layers)
    before = source.state_dict()
    before = {k: v.clone() for k, v in before.items() if k.startswith("codebook")}
    _step(source, torch.tensor([[True]]))
    source.on_update_boundary()  # the update was skipped (non-finite loss): no step, statistics dropped
    source.on_update(0, _still(source))  # the next update sees none of them
    for key, value in before.items():
        assert torch.equal(getattr(source, key), value), key
    # two accumulated batches: their statistics summed into one step
    _step(source, torch.tensor([[True]]))
    _step(source, torch.tensor([[True]]))
    source.on_update(0, _still(source))
    torch.testing.assert_close(source.codebook_counts[0, 1], torch.tensor(0.9 * 2 + 0.1 * 2))
    torch.testing.assert_close(source.codebook_sums[0, 1], torch.tensor([0.9 * 4 + 0.1 * 3.6, 0.1 * 0.4]))


def test_observe_needs_the_last_training_forward():
    source = _hand_made_source([torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)])
    targets = _step(source, torch.tensor([[True, False]]))
    with pytest.raises(RuntimeError, match="last training forward"):
        source.observe(targets, torch.tensor([[True, False]]))  # its vectors were dropped after the first
    source.eval()
    with pytest.raises(RuntimeError, match="last training forward"):
        source.observe(source(SimpleNamespace(num_updates=0)), torch.tensor([[True, False]]))


def test_nearest_codeword_is_the_l2_nearest():
    torch.manual_seed(0)
    vectors, codewords = torch.randn(3, 50, 8), torch.randn(3, 10, 8)
    expected = torch.cdist(vectors, codewords).argmin(-1)
    assert torch.equal(nearest_codewords(vectors, codewords), expected)


def test_codebooks_start_instance_normed_in_persistent_float32_buffers():
    source = OnlineCodebookTargets(_encoder(), top_k=3, codebook_size=64)
    sums, counts = source.codebook_sums, source.codebook_counts
    assert sums.shape == (3, 64, 16) and counts.shape == (3, 64)
    assert sums.dtype == counts.dtype == torch.float32 and torch.equal(counts, torch.ones(3, 64))
    # each dim of each codebook: zero mean, unit variance over its codewords
    torch.testing.assert_close(sums.mean(dim=1), torch.zeros(3, 16), atol=1e-5, rtol=0)
    torch.testing.assert_close(sums.var(dim=1, unbiased=False), torch.ones(3, 16), atol=1e-4, rtol=0)
    assert {"codebook_sums", "codebook_counts"} <= set(source.state_dict())


def test_targets_are_the_nearest_codewords_of_the_instance_normed_ffn_layers():
    encoder = _encoder()
    feats, lengths = torch.randn(2, 80, 20), torch.tensor([80, 60])
    source = OnlineCodebookTargets(encoder, top_k=3, codebook_size=8).train()
    targets = source(_batch(encoder, feats, lengths))
    layers, valid = source.top_layers(_batch(encoder, feats, lengths))
    assert len(layers) == 3 and torch.equal(targets.frames, valid)
    for k, layer in enumerate(layers):
        expected = torch.cdist(layer[valid], source.codewords()[k]).argmin(-1)
        assert torch.equal(targets.values[..., k][valid], expected)
    assert (targets.values[~valid] == -1).all()  # padding frames have no id
    # the layers data2vec averages, from the code both share
    data2vec = EMALayerTargets(encoder, top_k=3)
    data2vec.teacher.load_state_dict(source.teacher.state_dict())
    assert torch.allclose(torch.stack(layers).mean(0), data2vec(_batch(encoder, feats, lengths)).values)


def test_float32_under_autocast_and_a_bfloat16_model():
    encoder = _encoder()
    feats, lengths = torch.randn(2, 80, 20), torch.tensor([80, 60])
    source = OnlineCodebookTargets(encoder, top_k=2, codebook_size=8).train()
    reference = source.codebook_sums.clone()
    source.to(torch.bfloat16)  # ESPnet's --train_dtype bfloat16 casts the whole model
    assert source.codebook_sums.dtype == source.codebook_counts.dtype == torch.float32
    assert torch.equal(source.codebook_sums, reference)  # not rounded on the way
    assert next(source.teacher.parameters()).dtype == torch.bfloat16
    encoder.to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        targets = source(_batch(encoder, feats.bfloat16(), lengths))
        source.observe(targets, targets.frames)
        source.on_update(0, encoder)
    assert targets.values.dtype == torch.int64
    assert source.codebook_sums.dtype == source.codebook_counts.dtype == torch.float32
    assert not torch.equal(source.codebook_sums, reference)


def test_the_teacher_follows_the_student_until_the_freeze_then_stays():
    encoder = _encoder()
    source = OnlineCodebookTargets(encoder, top_k=2, codebook_size=8, decay_start=0.5, decay_end=0.5,
                                   freeze_teacher_after=2)
    snapshots = []
    for num_updates in range(4):
        with torch.no_grad():
            for p in encoder.encoders.parameters():
                p.add_(0.1)
        before = [p.clone() for p in source.teacher.parameters()]
        source.on_update(num_updates, encoder)
        snapshots.append(any(not torch.equal(b, p) for b, p in zip(before, source.teacher.parameters())))
    # updates 1 and 2 (num_updates 0, 1 before them) move it; from update 3 on it is frozen
    assert snapshots == [True, True, False, False]
    assert source.decay(1) == 0.5 and source.decay(2) == source.decay(10**6) == 1.0


def test_perplexity_of_the_codeword_usage():
    assert float(codebook_perplexity(torch.tensor([[5.0, 5.0, 5.0, 5.0], [20.0, 0.0, 0.0, 0.0]]))) == \
        pytest.approx((4 + 1) / 2, abs=1e-5)
    assert torch.isnan(codebook_perplexity(torch.zeros(2, 4)))


def _dinosr(**target_conf):
    args = namespace_from_config(DINOSR, normalize="utterance_mvn", normalize_conf={},
                                 target_conf=dict(codebooks=target_conf))
    return TriNetTask.build_model(args)


@pytest.mark.slow
def test_the_model_learns_its_codebooks_from_the_masked_frames(audio_dirs):
    torch.manual_seed(0)
    model = _dinosr().train()
    source = model.targets["codebooks"]
    assert source.num_groups == 3 and len(model.objectives["codebook"].heads) == 3
    speech, lengths = load_batch(audio_dirs[0], 3)
    observed = []
    original_observe = source.observe
    source.observe = lambda targets, used: observed.append(used) or original_observe(targets, used)
    loss, stats, _ = model(speech, lengths)
    assert set(stats) >= {"loss_codebook", "codebook_ppl", "dead_codewords", "ema_decay", "pred_ppl", "pred_var",
                          "pred_ppl_codebook", "eff_rank"}
    assert 1.0 <= float(stats["codebook_ppl"]) <= 64 and 0 <= float(stats["dead_codewords"]) <= 64
    assert 1.0 <= float(stats["pred_ppl"]) <= 64
    (used,) = observed
    assert 0 < int(used.sum()) < int(source._gathered[0, :, -1].sum()) + 1  # the masked frames only
    assert int(source._gathered[0, :, -1].sum()) == int(used.sum())
    loss.backward()
    before = source.codebook_sums.clone()
    model.on_optimizer_step()
    model.on_update_boundary()
    assert not torch.equal(before, source.codebook_sums) and source._gathered is None
    # validation: nothing is gathered, the codebooks stay
    model.eval()
    with torch.no_grad():
        model(speech, lengths)
    assert source._pending is None and source._gathered is None


def test_a_state_dict_round_trip_restores_the_codebooks(audio_dirs):
    torch.manual_seed(0)
    model = _dinosr().train()
    speech, lengths = load_batch(audio_dirs[0], 2)
    model(speech, lengths)
    model.on_optimizer_step()
    state = model.state_dict()
    assert state["targets.codebooks.codebook_counts"].ne(1.0).any()
    torch.manual_seed(1)
    fresh = _dinosr()
    assert not torch.equal(fresh.targets["codebooks"].codebook_sums, state["targets.codebooks.codebook_sums"])
    fresh.load_state_dict(state)
    for name in ("codebook_sums", "codebook_counts"):
        assert torch.equal(getattr(fresh.targets["codebooks"], name), state[f"targets.codebooks.{name}"])
