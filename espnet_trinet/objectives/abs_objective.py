"""The interface of an objective: one head and one loss on one student tap against one target source."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Dict, Tuple

import torch

from espnet_trinet.targets.abs_targets import Targets


@dataclass
class ObjectiveOutput:
    """What an objective computed on its frames.

    Attributes:
        per_frame: (N,) loss of each selected frame (summed over the target's dims).
        elements_per_frame: values each frame's loss sums (D for squared error, 1 for a
            cross-entropy): a mean per frame divides by N times this.
        stats: scalars for the log, e.g. ``pred_var`` (the spread of its predictions).
    """

    per_frame: torch.Tensor
    elements_per_frame: int
    stats: Dict[str, torch.Tensor] = field(default_factory=dict)


class AbsObjective(torch.nn.Module, ABC):
    """Configured by one entry of the config's ``objectives`` list.

    Attributes:
        name: logs its loss as ``loss_<name>`` and its stats as ``<stat>_<name>``.
        weight: its factor in the total loss.
        tap: the student output it reads: "final" (the encoder's output, after its final
            norm: what CTC fine-tuning sees) or "block:K" (the output of block K: "N",
            "N-1", or a block number).
        targets: the name of its target source.
        frames: "masked", "unmasked" or "all" (real frames with a target).
        sqrt_dim_scale: with ``loss_normalization: reference``, whether its sum is also
            scaled by 1/sqrt(D), as the TriNet and data2vec code scales every term; MT4SSL's
            and DinoSR's cross-entropies are not (``objectives/normalization.py``).
        also_reads: other target sources whose targets ``forward`` gets after ``frames``, in
            this order (data2vec-aqc's teacher direction reads the EMA teacher's targets).
    """

    name: str
    weight: float
    tap: str
    targets: str
    frames: str
    sqrt_dim_scale: bool = True
    also_reads: Tuple[str, ...] = ()

    @abstractmethod
    def forward(self, student: torch.Tensor, targets: Targets, frames: torch.Tensor, *others: Targets
                ) -> ObjectiveOutput:
        """student: (B, T, D) at ``tap``; frames: (B, T) bool, the frames that count; others:
        the targets of the ``also_reads`` sources."""
