"""data2vec 2.0's conv decoder head: shapes, locality, padding, the reference's block layout."""

import pytest
import torch

from espnet_trinet.objectives.conv_decoder import ConvDecoderPrediction
from espnet_trinet.targets.abs_targets import Targets


def _decoder(**conf):
    conf = {**dict(input_dim=32, output_dim=32, target_kind="regression", layers=4, dim=16, kernel=7, groups=4,
                   input_dropout=0.0), **conf}
    return ConvDecoderPrediction("struc", **conf)


def _targets(lengths, T, C=32):
    frames = torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return Targets(torch.randn(len(lengths), T, C), frames, "regression")


def test_the_decoder_output_lines_up_with_the_frames_and_sees_only_its_neighbours():
    torch.manual_seed(0)
    decoder = _decoder()
    x = torch.randn(2, 40, 32, requires_grad=True)
    targets = _targets([40, 31], 40)
    pred = decoder.predict(x, targets)
    assert pred.shape == (2, 40, 32)
    pred[0, 20].sum().backward()
    reach = x.grad[0].abs().sum(dim=-1).nonzero().squeeze(1)
    # 4 layers of kernel 7: frame 20 reads frames 20 +- 12, centred (odd kernel, no shift).
    assert reach.min() == 8 and reach.max() == 32
    assert x.grad[1].abs().sum() == 0


def test_padding_frames_do_not_reach_the_real_ones():
    torch.manual_seed(0)
    decoder = _decoder()
    x = torch.randn(1, 30, 32)
    targets = _targets([20], 30)
    noisy = x.clone()
    noisy[0, 20:] = 100.0
    torch.testing.assert_close(decoder.predict(x, targets)[0, :20], decoder.predict(noisy, targets)[0, :20])


def test_the_loss_is_on_the_objectives_frames_and_trains_every_block():
    torch.manual_seed(0)
    decoder = _decoder()
    x = torch.randn(2, 30, 32)
    targets = _targets([30, 25], 30)
    frames = torch.zeros(2, 30, dtype=torch.bool)
    frames[:, 5:15] = True
    out = decoder(x, targets, frames)
    assert out.per_frame.shape == (20,) and out.elements_per_frame == 32
    expected = ((decoder.predict(x, targets)[frames] - targets.values[frames]) ** 2).sum(dim=-1)
    torch.testing.assert_close(out.per_frame, expected)
    out.per_frame.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters())
    # data2vec 2.0's blocks: non-affine LayerNorm; the first (D -> dim) has no residual, the others do.
    assert all(not block.norm.elementwise_affine for block in decoder.blocks)
    assert [block.residual for block in decoder.blocks] == [False, True, True, True]


def test_bad_decoder_settings_fail():
    with pytest.raises(ValueError, match="kernel must be odd"):
        _decoder(kernel=6)
    with pytest.raises(ValueError, match="groups 5 must divide"):
        _decoder(groups=5)
