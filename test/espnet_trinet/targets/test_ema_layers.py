"""EMA-teacher targets: which features, which blocks, which input."""

import pytest
import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

from espnet_trinet.encoders.layerwise import embed_frames, embed_frames_without_dropout
from espnet_trinet.targets.abs_targets import TeacherInput
from espnet_trinet.targets.ema_layers import EMALayerTargets
from espnet_trinet.targets.layer_average import instance_norm_over_time


def _encoder():
    torch.manual_seed(0)
    return ConformerEncoder(20, output_size=16, attention_heads=2, linear_units=32, num_blocks=4,
                            input_layer="conv2d", macaron_style=True, use_cnn_module=True, cnn_module_kernel=3,
                            rel_pos_type="latest", pos_enc_layer_type="rel_pos",
                            selfattention_layer_type="rel_selfattn", positional_dropout_rate=0.5).train()


def _batch(encoder, feats, lengths, num_updates=0):
    x, pos_emb, masks = embed_frames(encoder, feats, lengths)  # train mode: with positional dropout
    return TeacherInput(x.detach(), pos_emb, masks, lambda: embed_frames_without_dropout(encoder, feats, lengths),
                        None, None, {}, num_updates)


def _ffn_outputs(blocks, x, pos_emb, masks):
    """Each block's second FFN output, by a hook of this test's own."""
    outputs = []
    hooks = [b.feed_forward.register_forward_hook(lambda m, i, o: outputs.append(o)) for b in blocks]
    h = (x, pos_emb)
    with torch.no_grad():
        for b in blocks:
            h, masks = b(h, masks)
    for hook in hooks:
        hook.remove()
    return outputs


def test_ffn_targets_average_the_instance_normed_ffn_outputs_of_blocks_1_to_3():
    encoder = _encoder()
    feats, lengths = torch.randn(2, 80, 20), torch.tensor([80, 60])
    source = EMALayerTargets(encoder, top_k=3, last_block="N-1", features="ffn", share_student_input=False)
    targets = source(_batch(encoder, feats, lengths))
    clean, pos_emb, masks = embed_frames_without_dropout(encoder, feats, lengths)
    ffn = _ffn_outputs(source.teacher.model, clean, pos_emb, masks)
    valid = masks.squeeze(1)
    expected = sum(instance_norm_over_time(f, valid) for f in ffn[:3]) / 3  # blocks 1-3 of 4 (N-1)
    assert torch.allclose(targets.values, expected, atol=1e-5)
    assert targets.kind == "regression" and torch.equal(targets.frames, valid)
    assert float(targets.stats["ema_decay"]) == pytest.approx(0.999)
    # the features are not the block outputs
    blocks = EMALayerTargets(encoder, top_k=3, last_block="N-1", features="block", share_student_input=False)
    blocks.teacher.load_state_dict(source.teacher.state_dict())
    assert not torch.allclose(blocks(_batch(encoder, feats, lengths)).values, targets.values, atol=1e-2)


def test_the_teacher_input_is_free_of_the_students_dropout_unless_shared():
    encoder = _encoder()
    feats, lengths = torch.randn(2, 80, 20), torch.tensor([80, 60])
    clean = EMALayerTargets(encoder, top_k=2, share_student_input=False)
    shared = EMALayerTargets(encoder, top_k=2, share_student_input=True)
    shared.teacher.load_state_dict(clean.teacher.state_dict())
    torch.manual_seed(1)
    batch_a = _batch(encoder, feats, lengths)
    torch.manual_seed(2)
    batch_b = _batch(encoder, feats, lengths)  # other positional dropout
    assert not torch.equal(batch_a.frames, batch_b.frames)
    assert torch.equal(clean(batch_a).values, clean(batch_b).values)  # the same targets: no dropout
    assert not torch.allclose(shared(batch_a).values, shared(batch_b).values)  # today's old behaviour


def test_ema_update_after_each_optimizer_step_follows_the_schedule():
    encoder = _encoder()
    source = EMALayerTargets(encoder, top_k=2, decay_start=0.9, decay_end=0.99, anneal_updates=10)
    before = [p.clone() for p in source.teacher.parameters()]
    with torch.no_grad():
        for p in encoder.encoders.parameters():
            p.add_(1.0)
    source.on_update(5, encoder)  # decay 0.9 + 0.09 * 5 / 10 = 0.945
    for b, t, s in zip(before, source.teacher.parameters(), encoder.encoders.parameters()):
        assert torch.allclose(t, 0.945 * b + 0.055 * s, atol=1e-6)
    assert not any(p.requires_grad for p in source.teacher.parameters())


# Recorded with the code before the EMA teacher's layers were shared with online_codebooks
# (commit 3a313a1, one thread): the refactoring must not move data2vec's targets.
GOLDEN = [
    (dict(top_k=3, last_block="N-1", features="ffn", share_student_input=False),
     266.927969657816, -24.593368620110994, [-0.013335, -0.23671, 0.051827, 0.964214]),
    (dict(top_k=2, last_block="N", features="block", share_student_input=True),
     435.7517967489548, 31.176395566907466, [-1.365513, -0.189287, 0.034866, -0.371525]),
]


@pytest.mark.parametrize("conf, abs_sum, weighted_sum, row", GOLDEN, ids=["ffn_clean", "block_shared"])
def test_targets_match_the_recorded_values(conf, abs_sum, weighted_sum, row):
    encoder = _encoder()
    torch.manual_seed(5)
    feats, lengths = torch.randn(2, 80, 20), torch.tensor([80, 60])
    source = EMALayerTargets(encoder, **conf)
    torch.manual_seed(7)  # the positional dropout of the shared input
    values = source(_batch(encoder, feats, lengths)).values.double()
    weights = torch.randn(values.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert values.shape == (2, 19, 16)
    assert float(values.abs().sum()) == pytest.approx(abs_sum, rel=1e-6)
    assert float((values * weights).sum()) == pytest.approx(weighted_sum, abs=1e-4)
    assert values[1, 5, :4].tolist() == pytest.approx(row, abs=1e-5)
