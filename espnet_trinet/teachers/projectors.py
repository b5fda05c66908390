"""How the frozen teacher's encoder output becomes the student's high-level target."""

from typing import Optional

import torch

# projector mode -> kind of target it produces (decides the loss, see losses/frame_losses.py)
PROJECTOR_KINDS = {
    "ctc": "soft",  # the paper (eq. 3): softmax of the teacher's CTC layer
    "random": "hard",  # the reference code: argmax of a fixed random Linear(D, C)
    "regression": "regression",  # the paper's ablation (eq. 2): the teacher output itself
}


def projector_kind(mode: str) -> str:
    if mode not in PROJECTOR_KINDS:
        raise ValueError(f"projector must be one of {sorted(PROJECTOR_KINDS)}, got '{mode}'")
    return PROJECTOR_KINDS[mode]


class TeacherProjector(torch.nn.Module):
    """Maps frozen-teacher frames to targets; holds no trainable or saved state.

    The CTC weights are a copy of the teacher's and the random matrix is rebuilt
    from its seed, so both are non-persistent buffers: they follow ``.to()`` but
    never enter the student's checkpoints.

    Args:
        mode: "ctc", "random" or "regression".
        teacher_dim: D_t, the teacher's encoder output size.
        ctc_linear: the teacher's ``ctc.ctc_lo`` (needed for mode "ctc").
        num_classes: C for mode "random" (reference code: 32).
        seed: seed of the random projection, so every process builds the same one.
        temperature: softmax temperature for mode "ctc".
    """

    def __init__(
        self,
        mode: str,
        teacher_dim: int,
        ctc_linear: Optional[torch.nn.Linear] = None,
        num_classes: int = 32,
        seed: int = 0,
        temperature: float = 1.0,
    ):
        super().__init__()
        self.mode = mode
        self.kind = projector_kind(mode)
        self.temperature = temperature
        self.seed = seed
        if mode == "ctc":
            if ctc_linear is None:
                raise ValueError("projector 'ctc' needs the teacher's CTC layer (ctc.ctc_lo)")
            self.register_buffer("weight", ctc_linear.weight.detach().clone(), persistent=False)
            self.register_buffer("bias", ctc_linear.bias.detach().clone(), persistent=False)
            self.output_dim = ctc_linear.out_features
        elif mode == "random":
            generator = torch.Generator().manual_seed(seed)
            weight = torch.empty(num_classes, teacher_dim)
            # Same init as nn.Linear's default (kaiming uniform, a=sqrt(5)), drawn from the seed.
            bound = 1.0 / teacher_dim**0.5
            weight.uniform_(-bound, bound, generator=generator)
            self.register_buffer("weight", weight, persistent=False)
            self.register_buffer("bias", torch.zeros(num_classes), persistent=False)
            self.output_dim = num_classes
        else:
            self.weight = self.bias = None
            self.output_dim = teacher_dim

    @torch.no_grad()
    def forward(self, teacher_out: torch.Tensor) -> torch.Tensor:
        """(B, T, D_t) teacher frames -> targets.

        Returns:
            "ctc": (B, T, C) probabilities; "random": (B, T) int64 class ids;
            "regression": (B, T, D_t) float32.
        """
        h = teacher_out.float()
        if self.mode == "regression":
            return h
        logits = torch.nn.functional.linear(h, self.weight.float(), self.bias.float())
        if self.mode == "ctc":
            return torch.softmax(logits / self.temperature, dim=-1)
        return logits.argmax(dim=-1)
