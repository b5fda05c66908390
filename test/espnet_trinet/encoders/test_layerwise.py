"""The block loop against ESPnet's own encoders, and its options (FFN taps, layer drop)."""

import pytest
import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

from espnet_trinet.encoders.layerwise import embed_frames, embed_frames_without_dropout, final_norm
from espnet_trinet.encoders.layerwise import layer_drop_rate, parse_block, run_blocks

SMALL = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=3, input_layer="conv2d")
ENCODERS = {
    "conformer": lambda **kw: ConformerEncoder(20, **SMALL, macaron_style=True, use_cnn_module=True,
                                               cnn_module_kernel=3, rel_pos_type="latest",
                                               pos_enc_layer_type="rel_pos", selfattention_layer_type="rel_selfattn",
                                               **kw),
    "transformer": lambda **kw: TransformerEncoder(20, **SMALL, **kw),
    "e_branchformer": lambda **kw: EBranchformerEncoder(20, output_size=16, attention_heads=2, linear_units=32,
                                                        num_blocks=3, input_layer="conv2d", cgmlp_linear_units=32,
                                                        cgmlp_conv_kernel=3, rel_pos_type="latest",
                                                        pos_enc_layer_type="rel_pos",
                                                        attention_layer_type="rel_selfattn", **kw),
}


def _feats():
    torch.manual_seed(0)
    return torch.randn(2, 60, 20), torch.tensor([60, 44])


@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_block_loop_equals_the_encoders_own_forward(kind):
    torch.manual_seed(0)
    encoder = ENCODERS[kind]().eval()
    feats, lengths = _feats()
    (out, hidden), olens, _ = encoder(feats, lengths, return_all_hs=True)
    x, pos_emb, masks = embed_frames(encoder, feats, lengths)
    hs = run_blocks(encoder.encoders, x, pos_emb, masks)
    assert len(hs) == len(hidden) == 3
    for ours, theirs in zip(hs, hidden):
        assert torch.equal(ours, theirs)
    assert torch.equal(final_norm(encoder, hs[-1]), out)
    assert torch.equal(masks.squeeze(1).sum(dim=1), olens)


def test_ffn_features_are_the_second_feed_forward_output_before_the_residual():
    torch.manual_seed(0)
    encoder = ENCODERS["conformer"]().eval()
    feats, lengths = _feats()
    x, pos_emb, masks = embed_frames(encoder, feats, lengths)
    ffn = run_blocks(encoder.encoders, x, pos_emb, masks, features="ffn")
    blocks = run_blocks(encoder.encoders, x, pos_emb, masks)
    # By hand through block 1: macaron FFN, attention, convolution, then the second FFN on its norm.
    b = encoder.encoders[0]
    h = x + 0.5 * b.feed_forward_macaron(b.norm_ff_macaron(x))
    q = b.norm_mha(h)
    h = h + b.self_attn(q, q, q, pos_emb, masks)
    h = h + b.conv_module(b.norm_conv(h))
    expected = b.feed_forward(b.norm_ff(h))
    assert torch.allclose(ffn[0], expected, atol=1e-6)
    assert torch.allclose(blocks[0], b.norm_final(h + 0.5 * expected), atol=1e-6)  # the block output
    assert not torch.allclose(ffn[1], blocks[1], atol=1e-2)  # the two are different targets


def test_layer_drop_skips_blocks_in_training_only_and_spares_the_last():
    torch.manual_seed(0)
    encoder = ENCODERS["conformer"](layer_drop_rate=0.3).train()
    assert layer_drop_rate(encoder) == 0.3
    assert layer_drop_rate(ENCODERS["e_branchformer"](layer_drop_rate=0.2)) == 0.2
    for block in encoder.encoders:
        block.dropout.p = 0.0  # so that outputs compare exactly
        block.self_attn.dropout.p = 0.0
        block.feed_forward.dropout.p = 0.0
        block.feed_forward_macaron.dropout.p = 0.0
    feats, lengths = _feats()
    x, pos_emb, masks = embed_frames(encoder, feats, lengths)
    every = run_blocks(encoder.encoders, x, pos_emb, masks, drop_rate=1.0, keep_last=1)
    assert torch.equal(every[0], x) and torch.equal(every[1], x)  # dropped: output = input
    assert torch.allclose(every[2], encoder.encoders[2]((x, pos_emb), masks)[0][0])  # the last one runs
    encoder.eval()
    kept = run_blocks(encoder.encoders, x, pos_emb, masks, drop_rate=1.0)
    assert not torch.equal(kept[0], x)  # no layer drop in eval mode (the EMA teacher)
    # Without layer drop no random number is drawn: the rest of the step sees the same stream.
    encoder.train()
    state = torch.get_rng_state()
    run_blocks(encoder.encoders, x, pos_emb, masks, drop_rate=0.0)
    assert torch.equal(torch.get_rng_state(), state)


def test_the_model_honours_the_encoders_layer_drop_rate(audio_dirs):
    from espnet_trinet.tasks.trinet import TriNetTask
    from trinet_testing import MINI_CONF, load_batch, namespace_from_config

    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    args.encoder_conf = {**args.encoder_conf, "layer_drop_rate": 1.0}
    args.model_conf = {**args.model_conf, "layer_drop_keep_last": 0}
    model = TriNetTask.build_model(args).train()
    assert model.layer_drop == dict(drop_rate=1.0, keep_last=0)
    speech, lengths = load_batch(audio_dirs[0], 2)
    loss, stats, _ = model(speech, lengths)
    # Every block dropped: the tap is the masked input itself, the loss still flows to the head.
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in model.encoder.encoders.parameters())
    assert model.objectives["struc"].head.weight.grad.abs().sum() > 0


def test_teacher_frames_without_dropout():
    torch.manual_seed(0)
    encoder = ENCODERS["conformer"](positional_dropout_rate=0.5).train()
    feats, lengths = _feats()
    student, _, _ = embed_frames(encoder, feats, lengths)
    clean, _, _ = embed_frames_without_dropout(encoder, feats, lengths)
    again, _, _ = embed_frames_without_dropout(encoder, feats, lengths)
    assert encoder.embed.training  # the mode is restored
    assert torch.equal(clean, again) and not torch.equal(clean, student)
    assert not clean.requires_grad
    encoder.eval()
    assert torch.equal(clean, embed_frames(encoder, feats, lengths)[0])


def test_blocks_are_named_from_the_top_or_by_number():
    assert [parse_block(s, 12) for s in ("N", "N-1", "N-11", 1, "12")] == [11, 10, 0, 0, 11]
    for bad in ("N-12", "13", "0", "last", "N+1"):
        with pytest.raises(ValueError):
            parse_block(bad, 12)


def test_layer_drop_on_several_gpus_needs_unused_parameters():
    from espnet_trinet.tasks.trinet import TriNetTask
    from trinet_testing import MINI_CONF, namespace_from_config

    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={}, ngpu=2)
    args.encoder_conf = {**args.encoder_conf, "layer_drop_rate": 0.05}
    with pytest.raises(ValueError, match="layer_drop_rate 0.05 on several GPUs needs unused_parameters: true"):
        TriNetTask.build_model(args)
    args.unused_parameters = True
    TriNetTask.build_model(args)
