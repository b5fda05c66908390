"""data2vec-style targets: the average of instance-normalised teacher layers."""

from typing import Sequence

import torch


def instance_norm_over_time(x: torch.Tensor, valid: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each channel of each utterance to zero mean, unit variance over its valid frames.

    Unlike ``F.instance_norm`` padding frames do not enter the statistics (they
    would shift the mean of short utterances in a padded batch); they come out 0.

    Args:
        x: (B, T, D) layer outputs.
        valid: (B, T) bool, True for real frames.
    Returns:
        (B, T, D) normalised float32 tensor.
    """
    x = x.float()
    w = valid.unsqueeze(-1).float()  # (B, T, 1)
    count = w.sum(dim=1, keepdim=True).clamp(min=1.0)  # (B, 1, 1)
    mean = (x * w).sum(dim=1, keepdim=True) / count
    var = (((x - mean) * w) ** 2).sum(dim=1, keepdim=True) / count
    return (x - mean) / torch.sqrt(var + eps) * w


def average_top_layers(
    hidden_states: Sequence[torch.Tensor],
    valid: torch.Tensor,
    last_layer: int,
    top_k: int,
) -> torch.Tensor:
    """Mean of the instance-normalised outputs of ``top_k`` blocks ending at ``last_layer``.

    Args:
        hidden_states: N tensors (B, T, D), the output of blocks 1..N.
        valid: (B, T) bool mask of real frames.
        last_layer: Python index into ``hidden_states`` of the top block used
            (-1 = block N, data2vec; -2 = block N-1, TriNet's reference code).
        top_k: how many consecutive blocks, ending at ``last_layer``.
    Returns:
        (B, T, D) float32 targets.
    """
    num_layers = len(hidden_states)
    end = last_layer % num_layers + 1  # exclusive, 1-based block count
    begin = end - top_k
    if top_k < 1 or begin < 0:
        raise ValueError(
            f"target_top_k={top_k} blocks ending at block {end} need at least "
            f"{top_k} blocks below it, but the encoder has {num_layers}"
        )
    layers = [instance_norm_over_time(h, valid) for h in hidden_states[begin:end]]
    return torch.stack(layers, dim=0).mean(dim=0)
