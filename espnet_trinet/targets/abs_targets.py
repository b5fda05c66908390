"""The interface of a target source: what the teachers see, what they give back.

A source (EMA-teacher layers, the frozen ASR teacher, dumped labels, ...) is built once by
the task, runs once per batch on the intact input (``forward``), may move after every
optimizer update (``on_update``: the EMA step) and may fail before training if it cannot
fit the student (``check_fits``). Sources never import the model: what they need of the
student comes in ``TeacherInput`` and ``StudentInput``.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

# Kinds of target, which decide the loss an objective applies (objectives/linear.py;
# "quantized": vectors a contrastive objective tells apart, objectives/cross_contrastive.py).
TARGET_KINDS = ("regression", "soft", "hard", "quantized")


@dataclass
class Targets:
    """One source's targets for a batch, on the student's frames.

    Attributes:
        values: (B, T, C) float (kind "regression" or "soft"), (B, T) int64 ids ("hard"), or
            (B, T, G) int64 ids for a source of G id sets (``num_groups``: one per codebook).
        frames: (B, T) bool, the frames that have a target.
        kind: one of ``TARGET_KINDS``.
        stats: scalars for the training log (e.g. the EMA decay).
        student_values: the same targets of the student's own view, (B, T, C), when the
            source also reads it (data2vec-aqc's quantiser: the augmented copy); else None.
        losses: terms a trainable source adds to the batch loss, already weighted (the
            quantiser's diversity penalty); logged as ``loss_<name>``.
    """

    values: torch.Tensor
    frames: torch.Tensor
    kind: str
    stats: Dict[str, torch.Tensor] = field(default_factory=dict)
    student_values: Optional[torch.Tensor] = None
    losses: Dict[str, torch.Tensor] = field(default_factory=dict)

    def repeated(self, clones: int) -> "Targets":
        """The targets of M clones of each utterance: (B * M, T, ...), row b * M + m = row b
        (the student view's order); one teacher pass serves every clone."""
        if clones == 1:
            return self
        student = None if self.student_values is None else self.student_values.repeat_interleave(clones, dim=0)
        return Targets(self.values.repeat_interleave(clones, dim=0), self.frames.repeat_interleave(clones, dim=0),
                       self.kind, self.stats, student, self.losses)


@dataclass
class TeacherInput:
    """What a source may read of a batch.

    Attributes:
        frames: (B, T, D) the student's frames after subsampling (train mode: with its
            positional dropout), detached.
        pos_emb: relative positional embedding of ``frames`` or None.
        masks: (B, 1, T) bool valid frames.
        embed_without_dropout: the same frames, computed again in eval mode (no dropout).
        speech, speech_lengths: (B, S) waveform and (B,) lengths.
        data: the batch's other data entries by name (e.g. ``frozen_targets``, ``*_lengths``).
        num_updates: optimizer updates so far.
        features, feature_lengths: (B, L, F) normalised features before subsampling and (B,)
            lengths, for a teacher with its own copy of the subsampling (``ema_scope: encoder``).
        clean_frames: ``frames`` with their gradient, and student_frames: (B, T, D) the
            subsampled frames of the student's own waveform (its augmented copy, data2vec-aqc;
            else ``clean_frames``), with gradient: only a trainable source (``trainable``)
            reads these, everything else runs without gradient.
    """

    frames: torch.Tensor
    pos_emb: Optional[torch.Tensor]
    masks: torch.Tensor
    embed_without_dropout: Callable[[], Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]]
    speech: torch.Tensor
    speech_lengths: torch.Tensor
    data: Dict[str, torch.Tensor]
    num_updates: int
    features: Optional[torch.Tensor] = None
    feature_lengths: Optional[torch.Tensor] = None
    clean_frames: Optional[torch.Tensor] = None
    student_frames: Optional[torch.Tensor] = None

    @property
    def valid(self) -> torch.Tensor:
        """(B, T) bool."""
        return self.masks.squeeze(1)


@dataclass
class StudentInput:
    """The student's view of the audio, for fit checks: sampling rate, frames per length.

    Attributes:
        fs: the frontend's sampling rate (None without a frontend).
        summary: its frontend and subsampling settings, for messages.
        frames: audio samples per utterance -> student frames after subsampling.
    """

    fs: Optional[int]
    summary: str
    frames: Optional[Callable[[Sequence[int]], List[int]]]


class AbsTargets(torch.nn.Module, ABC):
    """A source of targets, built from its ``conf`` in the config's ``targets`` list.

    Attributes:
        kind: one of ``TARGET_KINDS``.
        output_dim: C, the size of a head predicting these targets (classes or dims).
        num_groups: id sets per frame of a "hard" source (DinoSR: one per codebook; 1:
            values are (B, T)); every objective is built knowing it.
        data_key: the data entry the source reads from the batch (None: none), e.g.
            ``frozen_targets`` for dumped frozen-teacher targets.
        needs_finetuned_teacher: a method with this source pretrains after another
            method was fine-tuned (TriNet's frozen teacher).
        trainable: the source has parameters the loss trains (data2vec-aqc's quantiser): it
            runs with gradient and its targets are not constants.
    """

    kind: str
    output_dim: int
    num_groups: int = 1
    data_key: Optional[str] = None
    # The recipe must fine-tune a teacher before a method with this source can pretrain.
    needs_finetuned_teacher: bool = False
    trainable: bool = False

    @abstractmethod
    def forward(self, batch: TeacherInput) -> Targets:
        """The batch's targets, aligned to the student's (B, T) frames."""

    def observe(self, targets: Targets, used: torch.Tensor) -> None:
        """In training, after the objectives: the (B, T) bool frames they read of ``targets``.

        A source that learns from its own targets (DinoSR's codebooks move towards the
        teacher outputs at the masked frames) gathers what it needs here and applies it in
        ``on_update``; it may add scalars to ``targets.stats`` for the log.
        """

    def on_update(self, num_updates: int, student_encoder: torch.nn.Module) -> None:
        """After each optimizer update (``num_updates`` before it): e.g. the EMA step."""

    def on_update_boundary(self) -> None:
        """At every update boundary, after ``on_update`` or instead of it when the update was
        skipped (a NaN/inf loss or gradient): e.g. drop what ``observe`` gathered for it."""

    def check_fits(self, student: StudentInput, data_files: Sequence[Path]) -> None:
        """Fail, before training, if the targets cannot fit the student.

        Args:
            student: the student's frontend and subsampling.
            data_files: the files of ``data_key`` in the training and validation data.
        """

    def resolved_conf(self) -> Dict:
        """Settings found while building (e.g. ``output_dim`` from a dump), written back
        into the config, so that ``config.yaml`` rebuilds the same model without them."""
        return {}
