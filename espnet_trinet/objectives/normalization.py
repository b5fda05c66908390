"""How an objective's per-frame losses become its term of the batch loss.

frame_mean: the mean over its frames (and over dims for squared error) - each term is
    O(1) per frame, so the weights in the config are the weights that act;
reference: as the released TriNet and fairseq data2vec code - the losses summed over dims
    and frames, times 1/sqrt(D), divided by the number of masked frames of the batch (an
    objective with ``sqrt_dim_scale: false`` skips the 1/sqrt(D): MT4SSL's k-means
    cross-entropy and DinoSR's codebook cross-entropies are sums / masked frames). With
    equal weights that is about 27.7 x MSE + 0.08 x CE for TriNet base (D 768, a loss over
    all frames against one over the ~45 % masked ones; REFERENCE_AUDIT.md point 4).
"""

import math

import torch

LOSS_NORMALIZATIONS = ("frame_mean", "reference")


def normalized_loss(per_frame: torch.Tensor, elements_per_frame: int, how: str, dim: int,
                    num_masked: torch.Tensor, sqrt_dim_scale: bool = True) -> torch.Tensor:
    """Reduce (N,) per-frame losses to a scalar.

    Args:
        elements_per_frame: values each per-frame loss sums (frame_mean divides by it).
        how: one of ``LOSS_NORMALIZATIONS``.
        dim: D of the model (reference: the 1/sqrt(D) scale).
        num_masked: masked frames of the batch (reference: the normaliser).
        sqrt_dim_scale: reference: whether the sum is scaled by 1/sqrt(D).
    """
    if how == "frame_mean":
        return per_frame.sum() / (per_frame.numel() * elements_per_frame)
    if how == "reference":
        total = per_frame.sum() / math.sqrt(dim) if sqrt_dim_scale else per_frame.sum()
        return total / num_masked.clamp(min=1)
    raise ValueError(f"loss_normalization must be one of {LOSS_NORMALIZATIONS}, got '{how}'")
