"""The interface of a student view: what the student's blocks see of a batch.

The span-mask view replaces span-masked frames with a learned embedding (data2vec, TriNet);
the visible-only view (data2vec 2.0) makes M masked clones of each utterance, which share
one teacher pass (``clones``), and removes the masked frames before the blocks
(``restore`` puts the outputs back in place). A view may also give the student another
waveform (``student_speech``).
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional

import torch

FRAME_SETS = ("masked", "unmasked", "all")


@dataclass
class StudentView:
    """The student's input for one batch.

    Attributes:
        x: (B * clones, T', D) block input.
        pos_emb: its positional embedding, or None.
        masks: (B * clones, 1, T') bool valid frames of ``x``.
        masked: (B * clones, T) bool, the masked frames on the full time axis.
        valid: (B * clones, T) bool, the real (non-padding) frames on it.
        clones: M, the copies of each utterance (targets are repeated M times); clone m of
            utterance b is row b * M + m.
        kept: (B * clones, T) bool, the frames the blocks see, when the view removed the
            others (``x`` then holds them in order, left-aligned: T' <= T); None: ``x`` is
            on the full time axis.
    """

    x: torch.Tensor
    pos_emb: Optional[torch.Tensor]
    masks: torch.Tensor
    masked: torch.Tensor
    valid: torch.Tensor
    clones: int = 1
    kept: Optional[torch.Tensor] = None

    @property
    def seen(self) -> torch.Tensor:
        """(B * clones, T) bool: the real frames whose outputs the blocks computed."""
        return self.valid if self.kept is None else self.kept

    def frames(self, which: str) -> torch.Tensor:
        """(B * clones, T) bool: the masked, unmasked or all real frames."""
        if which == "masked":
            return self.masked
        if which == "unmasked":
            return self.valid & ~self.masked
        if which == "all":
            return self.valid
        raise ValueError(f"frames must be one of {FRAME_SETS}, got '{which}'")


class AbsStudentView(torch.nn.Module, ABC):
    """Builds the student's input from the subsampled frames of a batch."""

    @abstractmethod
    def forward(self, x: torch.Tensor, pos_emb: Optional[torch.Tensor], masks: torch.Tensor) -> StudentView:
        """x: (B, T, D) frames, pos_emb, masks (B, 1, T) -> the student's view."""

    def restore(self, view: StudentView, h: torch.Tensor) -> torch.Tensor:
        """A block output (B * clones, T', D) back on the full (B * clones, T, D) time axis."""
        return h

    def student_speech(self, speech: torch.Tensor, speech_lengths: torch.Tensor, data) -> torch.Tensor:
        """The waveform the student sees (default: the teachers' one)."""
        return speech

    @classmethod
    def data_preprocessor(cls, view_conf: dict, train: bool, seed: int) -> Optional[Callable]:
        """What the data loader must add to each utterance for this view, as an ESPnet
        preprocess function ``(utt_id, data) -> data`` (default: nothing, None)."""
        return None

    def check_data(self, fs: Optional[int]) -> None:
        """Fail before training if what the view reads cannot be used (``fs``: the frontend's rate)."""
