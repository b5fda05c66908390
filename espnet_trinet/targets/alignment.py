"""Putting targets computed at another frame count onto the student's frames."""

from typing import Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask

# A teacher and the student may differ by a frame or two at the end of an utterance
# (different padding in their frontends); more means a mismatch.
MAX_FRAME_MISMATCH = 2


def align_to_student(
    values: torch.Tensor, lengths: torch.Tensor, valid: torch.Tensor, source: str, fix: str
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Crop or zero-pad targets to the student's T frames; fail on a real mismatch.

    Args:
        values: (B, T', ...) targets.
        lengths: (B,) valid target frames.
        valid: (B, T) bool, the student's valid frames.
        source, fix: what the targets are and how to fix a mismatch, for the message.
    Returns:
        values (B, T, ...) and (B, T) bool frames valid in both.
    """
    student_lengths = valid.sum(dim=1)
    gap = (student_lengths - lengths.to(student_lengths.device)).abs().max()
    if gap > MAX_FRAME_MISMATCH:
        raise ValueError(
            f"{source} and student frames differ by {int(gap)} frames (student {student_lengths.tolist()}, "
            f"targets {lengths.tolist()}): {fix}"
        )
    num_frames = valid.size(1)
    target_valid = ~make_pad_mask(lengths, maxlen=values.size(1)).to(valid.device)
    if values.size(1) >= num_frames:
        return values[:, :num_frames], valid & target_valid[:, :num_frames]
    pad = num_frames - values.size(1)
    padded = torch.nn.functional.pad(values, (0, 0) * (values.dim() - 2) + (0, pad))
    target_valid = torch.nn.functional.pad(target_valid, (0, pad), value=False)
    return padded, valid & target_valid
