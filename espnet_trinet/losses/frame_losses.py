"""Per-frame losses: each returns one value per selected frame, shape (N,).

How those are reduced to the batch loss (a mean per frame, or the reference code's
sums) is the model's ``loss_normalization`` (``objectives/normalization.py``).
"""

import torch
import torch.nn.functional as F


def squared_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over dims (data2vec's L_struc, eq. 2).

    Args:
        pred, target: (N, D) frames.
    Returns:
        (N,) float32.
    """
    return ((pred.float() - target.float()) ** 2).sum(dim=-1)


def soft_cross_entropy(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to soft targets, -sum_c p_c log q_c (paper eq. 3).

    Args:
        logits: (N, C) student scores; probs: (N, C) target distribution.
    Returns:
        (N,) float32.
    """
    return -(probs.float() * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1)


def hard_cross_entropy(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to class ids (the reference code's random-projection targets, k-means units).

    Args:
        logits: (N, C); ids: (N,) int64.
    Returns:
        (N,) float32.
    """
    return F.cross_entropy(logits.float(), ids.long(), reduction="none")
