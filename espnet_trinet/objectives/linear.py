"""A linear head whose loss follows the kind of its targets.

regression -> squared error (data2vec's struc loss, TriNet's L_regre ablation);
soft -> cross-entropy to a distribution (TriNet's paper: the teacher's CTC posteriors);
hard -> cross-entropy to class ids (TriNet's reference code: random-projection ids; k-means units).
"""

import torch

from espnet_trinet.losses.frame_losses import hard_cross_entropy, soft_cross_entropy, squared_error
from espnet_trinet.monitor.collapse import per_dim_std
from espnet_trinet.objectives.abs_objective import AbsObjective, ObjectiveOutput
from espnet_trinet.targets.abs_targets import Targets

LOSSES = {"regression": "squared error", "soft": "cross-entropy", "hard": "cross-entropy"}


class LinearPrediction(AbsObjective):
    """Linear(D, C) on one student tap, against one target source.

    Args:
        name, weight, tap, targets, frames, sqrt_dim_scale: see ``AbsObjective``.
        input_dim: D of the tap; output_dim: C of the target source.
        target_kind: the source's kind (decides the loss).
        num_groups: the source's id sets per frame; one head predicts one (codebooks need
            ``codebook_heads``).
    """

    def __init__(self, name: str, input_dim: int, output_dim: int, target_kind: str, tap: str = "final",
                 targets: str = "ema", frames: str = "masked", weight: float = 1.0, sqrt_dim_scale: bool = True,
                 num_groups: int = 1):
        super().__init__()
        if target_kind not in LOSSES:
            raise ValueError(f"objective '{name}': no loss for targets of kind '{target_kind}'")
        if num_groups != 1:
            raise ValueError(
                f"objective '{name}': its targets '{targets}' give {num_groups} ids per frame (one per codebook); "
                "a linear head predicts one: use type codebook_heads"
            )
        self.name, self.weight, self.tap, self.targets, self.frames = name, float(weight), tap, targets, frames
        self.sqrt_dim_scale = bool(sqrt_dim_scale)
        self.target_kind = target_kind
        self.head = torch.nn.Linear(input_dim, output_dim)

    def predict(self, student: torch.Tensor, targets: Targets) -> torch.Tensor:
        """(B, T, D) tap -> (B, T, C) predictions."""
        return self.head(student)

    def forward(self, student: torch.Tensor, targets: Targets, frames: torch.Tensor) -> ObjectiveOutput:
        pred = self.predict(student, targets)  # (B, T, C)
        selected, target = pred[frames], targets.values[frames]  # (N, C), (N, C) or (N,)
        if selected.size(0) == 0:
            # No frame to learn from: a zero that keeps the head in the graph (DDP waits for its gradient).
            return ObjectiveOutput((pred.sum() * 0.0).reshape(1), 1, dict(pred_var=pred.new_zeros(())))
        if self.target_kind == "regression":
            per_frame, elements = squared_error(selected, target), selected.size(-1)
        elif self.target_kind == "soft":
            per_frame, elements = soft_cross_entropy(selected, target), 1
        else:
            per_frame, elements = hard_cross_entropy(selected, target), 1
        stats = dict(pred_var=per_dim_std(selected))
        if self.target_kind == "regression":
            stats["target_var"] = per_dim_std(target)
        return ObjectiveOutput(per_frame, elements, stats)
