"""data2vec-aqc's quantised targets: both views through one quantiser, its penalties, padding."""

import pytest
import torch
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

from espnet_trinet.targets.abs_targets import TeacherInput
from espnet_trinet.targets.quantized_frames import QuantizedFrameTargets


def _encoder():
    return TransformerEncoder(input_size=20, output_size=16, attention_heads=2, linear_units=32, num_blocks=2,
                              input_layer="linear")


def _batch(clean, student, lengths, num_updates=0):
    masks = (torch.arange(clean.size(1)).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(1)
    return TeacherInput(clean.detach(), None, masks, None, None, None, {}, num_updates, None, None, clean, student)


def test_both_views_are_quantised_apart_and_padding_is_zero():
    torch.manual_seed(0)
    source = QuantizedFrameTargets(_encoder(), groups=2, entries=8, quantized_dim=8, output_dim=6).eval()
    clean = torch.randn(2, 7, 16, requires_grad=True)
    student = clean + torch.randn(2, 7, 16)
    lengths = torch.tensor([7, 4])
    targets = source(_batch(clean, student, lengths))
    assert targets.kind == "quantized" and targets.values.shape == targets.student_values.shape == (2, 7, 6)
    assert torch.equal(targets.frames, torch.tensor([[True] * 7, [True] * 4 + [False] * 3]))
    assert float(targets.values[1, 4:].detach().abs().sum()) == 0.0
    assert float(targets.student_values[1, 4:].detach().abs().sum()) == 0.0
    assert not torch.equal(targets.values[0], targets.student_values[0])
    # The student view of the clean frames themselves gives the clean targets (eval: argmax codes).
    same = source(_batch(clean, clean, lengths))
    assert same.student_values is same.values
    torch.testing.assert_close(same.values, targets.values)


def test_penalties_are_weighted_and_train_the_frames_and_the_quantiser():
    torch.manual_seed(0)
    source = QuantizedFrameTargets(_encoder(), groups=2, entries=8, quantized_dim=8, output_dim=6,
                                   diversity_weight=0.1, feature_penalty_weight=10.0).train()
    clean = torch.randn(2, 5, 16, requires_grad=True)
    lengths = torch.tensor([5, 3])
    targets = source(_batch(clean, clean * 1.0, lengths, num_updates=1000))
    valid_frames = torch.cat([clean[0], clean[1, :3]])
    assert float(targets.stats["feature_pen"]) == pytest.approx(float(valid_frames.detach().pow(2).mean()), rel=1e-6)
    assert float(targets.losses["feature_pen"].detach()) == pytest.approx(10 * float(targets.stats["feature_pen"]), rel=1e-6)
    assert float(targets.losses["diversity"].detach()) == pytest.approx(0.1 * float(targets.stats["diversity"]), rel=1e-6)
    assert float(targets.stats["temp"]) == pytest.approx(2.0 * 0.999995 ** 1000)
    (targets.values.sum() + sum(targets.losses.values())).backward()
    assert float(clean.grad.abs().sum()) > 0
    assert all(p.grad is not None for p in source.parameters())


def test_views_of_different_lengths_are_refused():
    source = QuantizedFrameTargets(_encoder(), groups=2, entries=8, quantized_dim=8, output_dim=6)
    with pytest.raises(ValueError, match="keep each utterance's length"):
        source(_batch(torch.randn(2, 5, 16), torch.randn(2, 6, 16), torch.tensor([5, 5])))
