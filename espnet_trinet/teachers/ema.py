"""The EMA teacher: an exponential moving average of the student's encoder blocks."""

import copy
from typing import Optional

import torch


def ema_decay(
    num_updates: int,
    start: float = 0.999,
    end: float = 0.9999,
    anneal_updates: int = 30000,
    freeze_after: Optional[int] = None,
) -> float:
    """Decay used for the EMA step that follows optimizer update number ``num_updates``.

    Linear from ``start`` (at 0 updates) to ``end`` (at ``anneal_updates``), constant
    after, as in data2vec. ``num_updates`` counts optimizer updates, not forward
    passes, so it is independent of gradient accumulation.

    ``freeze_after`` (None: never): the teacher follows the student through the first
    ``freeze_after`` updates and is frozen from then on, decay 1.0 (DinoSR's
    ``freeze_teacher_step``; ``EMATeacher.update`` takes no step at decay 1.0).
    """
    if freeze_after is not None and num_updates >= freeze_after:
        return 1.0
    if anneal_updates <= 0 or num_updates >= anneal_updates:
        return end
    return start + (end - start) * num_updates / anneal_updates


class EMATeacher(torch.nn.Module):
    """A no-grad copy of a module, moved towards the student by ``update``.

    It is an ordinary submodule of the model, so it is saved in checkpoints, restored
    by ``--resume``, moved by ``.to()`` and identical across DDP ranks (every rank
    applies the same update to the same all-reduced student). It always runs in
    eval mode (no dropout; batch norm uses running statistics), as in data2vec.
    """

    def __init__(self, student: torch.nn.Module):
        super().__init__()
        self.model = copy.deepcopy(student)
        self.model.requires_grad_(False)
        self.model.eval()

    def train(self, mode: bool = True) -> "EMATeacher":
        # The teacher never trains: keep dropout off whatever the parent does.
        return super().train(False)

    @torch.no_grad()
    def update(self, student: torch.nn.Module, decay: float) -> None:
        """teacher <- decay * teacher + (1 - decay) * student; buffers are copied.

        decay 1.0 is a frozen teacher: nothing moves, not even the buffers (DinoSR skips
        the whole EMA step once its teacher is frozen).
        """
        if decay >= 1.0:
            return
        teacher_params = [p for p in self.model.parameters()]
        student_params = [p.detach() for p in student.parameters()]
        if len(teacher_params) != len(student_params):
            raise RuntimeError("EMA teacher and student have different parameter lists")
        torch._foreach_lerp_(teacher_params, student_params, 1.0 - decay)
        for t_buf, s_buf in zip(self.model.buffers(), student.buffers()):
            t_buf.copy_(s_buf)

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.model(*args, **kwargs)
