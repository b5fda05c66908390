import pytest
import torch

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
