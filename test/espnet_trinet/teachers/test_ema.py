import pytest
import torch

from espnet_trinet.teachers.ema import EMATeacher, ema_decay


@pytest.mark.parametrize(
    "updates, expected",
    [(0, 0.999), (15000, 0.99945), (29999, 0.999 + 0.0009 * 29999 / 30000), (30000, 0.9999), (10**6, 0.9999)],
)
def test_decay_is_linear_then_constant(updates, expected):
    assert ema_decay(updates, 0.999, 0.9999, 30000) == pytest.approx(expected, abs=1e-12)


def test_one_update_against_hand_math():
    student = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    teacher = EMATeacher(student)
    with torch.no_grad():
        for p in teacher.model.parameters():
            p.fill_(1.0)
        for p in student.parameters():
            p.fill_(3.0)
        student[1].running_mean.fill_(5.0)
    teacher.update(student, decay=0.75)
    for p in teacher.model.parameters():
        assert torch.allclose(p, torch.full_like(p, 0.75 * 1.0 + 0.25 * 3.0))
    # buffers (batch-norm statistics) are copied, not averaged
    assert torch.equal(teacher.model[1].running_mean, torch.full((2,), 5.0))


def test_teacher_has_no_grad_and_stays_in_eval_mode():
    student = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    teacher = EMATeacher(student)
    parent = torch.nn.ModuleDict(dict(teacher=teacher))
    parent.train()
    assert not teacher.model.training
    assert all(not p.requires_grad for p in teacher.parameters())
    x = torch.ones(4, 2)
    assert torch.equal(teacher(x), teacher(x))  # dropout off


def test_a_frozen_teacher_takes_no_step():
    assert ema_decay(199999, 0.999, 0.9999, 30000, freeze_after=200000) == 0.9999
    assert ema_decay(200000, 0.999, 0.9999, 30000, freeze_after=200000) == 1.0
    assert ema_decay(10**6, 0.999, 0.9999, 30000) == 0.9999  # None: never frozen
    student = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    teacher = EMATeacher(student)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
        student[1].running_mean.fill_(5.0)
    teacher.update(student, decay=1.0)
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, before[key]), key  # buffers are not copied either
