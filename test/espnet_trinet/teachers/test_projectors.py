import math

import pytest
import torch

from espnet_trinet.losses.frame_losses import hard_cross_entropy, masked_mse, soft_cross_entropy
from espnet_trinet.teachers.projectors import TeacherProjector


def test_ctc_projector_gives_softmax_of_teacher_ctc_layer():
    ctc = torch.nn.Linear(3, 4)
    teacher_out = torch.randn(2, 5, 3)
    proj = TeacherProjector("ctc", 3, ctc_linear=ctc, temperature=2.0)
    expected = torch.softmax(ctc(teacher_out) / 2.0, dim=-1)
    assert proj.kind == "soft" and proj.output_dim == 4
    assert torch.allclose(proj(teacher_out), expected, atol=1e-6)


def test_random_projector_is_seeded_fixed_and_not_saved():
    a = TeacherProjector("random", 8, num_classes=32, seed=3)
    b = TeacherProjector("random", 8, num_classes=32, seed=3)
    c = TeacherProjector("random", 8, num_classes=32, seed=4)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, c.weight)
    assert a.state_dict() == {}
    ids = a(torch.randn(2, 7, 8))
    assert ids.shape == (2, 7) and ids.dtype == torch.long and int(ids.max()) < 32


def test_regression_projector_is_identity():
    x = torch.randn(1, 4, 6)
    proj = TeacherProjector("regression", 6)
    assert proj.kind == "regression" and proj.output_dim == 6
    assert torch.equal(proj(x), x)


def test_unknown_projector_is_rejected():
    with pytest.raises(ValueError, match="projector must be one of"):
        TeacherProjector("kmeans", 4)


def test_soft_cross_entropy_on_hand_made_tensors():
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]])  # q = (.5,.5), (.75,.25)
    probs = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    frames = torch.tensor([[True, True]])
    expected = (-math.log(0.5) + -(0.5 * math.log(0.75) + 0.5 * math.log(0.25))) / 2
    assert soft_cross_entropy(logits, probs, frames).item() == pytest.approx(expected, rel=1e-6)
    only_first = torch.tensor([[True, False]])
    assert soft_cross_entropy(logits, probs, only_first).item() == pytest.approx(math.log(2), rel=1e-6)


def test_hard_cross_entropy_on_hand_made_tensors():
    logits = torch.tensor([[[math.log(3.0), 0.0], [0.0, 0.0]]])
    ids = torch.tensor([[0, 1]])
    frames = torch.tensor([[True, True]])
    expected = (-math.log(0.75) - math.log(0.5)) / 2
    assert hard_cross_entropy(logits, ids, frames).item() == pytest.approx(expected, rel=1e-6)


def test_masked_mse_counts_only_selected_frames():
    pred = torch.tensor([[[1.0, 1.0], [5.0, 5.0]]])
    target = torch.tensor([[[0.0, 2.0], [0.0, 0.0]]])
    frames = torch.tensor([[True, False]])
    assert masked_mse(pred, target, frames).item() == pytest.approx(1.0)
    assert masked_mse(pred, target, torch.ones_like(frames)).item() == pytest.approx((1 + 1 + 25 + 25) / 4)
