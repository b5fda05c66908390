"""Frame-level losses on selected frames; each returns a scalar mean over those frames."""

from typing import Callable, Dict

import torch
import torch.nn.functional as F


def masked_mse(pred: torch.Tensor, target: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the selected frames and all dims (data2vec's L_struc, eq. 2).

    Args:
        pred, target: (B, T, D).
        frames: (B, T) bool, the frames that count.
    """
    diff = pred.float()[frames] - target.float()[frames]  # (N, D)
    return (diff**2).mean() if diff.numel() > 0 else pred.sum() * 0.0


def soft_cross_entropy(logits: torch.Tensor, probs: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to soft targets, -sum_c p_c log q_c, averaged over frames (paper eq. 3).

    Args:
        logits: (B, T, C) student scores.
        probs: (B, T, C) target distribution.
        frames: (B, T) bool.
    """
    log_q = F.log_softmax(logits.float()[frames], dim=-1)  # (N, C)
    loss = -(probs.float()[frames] * log_q).sum(dim=-1)
    return loss.mean() if loss.numel() > 0 else logits.sum() * 0.0


def hard_cross_entropy(logits: torch.Tensor, ids: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to class ids (the reference code's random-projection targets).

    Args:
        logits: (B, T, C); ids: (B, T) int64; frames: (B, T) bool.
    """
    selected = logits.float()[frames]
    if selected.numel() == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(selected, ids[frames].long())


# kind of frozen target (teachers/projectors.py) -> its loss
LOSS_FOR_TARGET_KIND: Dict[str, Callable[..., torch.Tensor]] = {
    "soft": soft_cross_entropy,
    "hard": hard_cross_entropy,
    "regression": masked_mse,
}
