"""Where the student's high-level targets come from: the frozen teacher run online,
or the same targets dumped once beforehand (``bin/dump_frozen_targets``).

Both sources give identical targets for the same audio, so the offline path makes
TriNet cost no more per step than data2vec while computing the same loss.
"""

from abc import ABC, abstractmethod
from typing import Optional, Tuple

import torch

from espnet_trinet.teachers.frozen_asr import FrozenASRTeacher, resolve_asr_files
from espnet_trinet.teachers.projectors import TeacherProjector, projector_kind


class AbsFrozenTargets(torch.nn.Module, ABC):
    """A source of frozen-teacher targets.

    Attributes:
        kind: "soft" (B, T, C) probabilities, "hard" (B, T) class ids or
            "regression" (B, T, D_t) features.
        output_dim: C (or D_t for regression): the size of the student's high-level head.
    """

    kind: str
    output_dim: int

    @abstractmethod
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        frozen_targets: Optional[torch.Tensor] = None,
        frozen_targets_lengths: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return (targets, target_lengths) for a batch, see ``kind`` for shapes."""


class OnlineFrozenTargets(AbsFrozenTargets):
    """Runs the frozen ASR teacher on every batch.

    Args:
        asr_train_config, asr_model_file: the teacher's ESPnet ASR experiment files.
        asr_model_zip: alternatively, a zip packed by ``espnet2.bin.pack asr``.
        projector: "ctc" (paper), "random" (reference code) or "regression".
        num_classes: C of the random projection.
        seed: seed of the random projection.
        temperature: softmax temperature of the "ctc" projector.
        output_dim: optional check: the C (or D_t) the config expects; a teacher with
            another size fails here, before training, instead of in the first loss.
            It lets one config serve both online and offline targets.
    """

    def __init__(
        self,
        asr_train_config: Optional[str] = None,
        asr_model_file: Optional[str] = None,
        asr_model_zip: Optional[str] = None,
        projector: str = "ctc",
        num_classes: int = 32,
        seed: int = 0,
        temperature: float = 1.0,
        output_dim: Optional[int] = None,
    ):
        super().__init__()
        config, model_file = resolve_asr_files(asr_train_config, asr_model_file, asr_model_zip)
        # A plain attribute (FrozenASRTeacher is no nn.Module): not saved, not trained.
        self.teacher = FrozenASRTeacher(config, model_file)
        if projector == "ctc" and self.teacher.ctc_linear is None:
            raise ValueError(f"projector 'ctc' needs a teacher with a CTC layer; {model_file} has none")
        self.projector = TeacherProjector(
            projector,
            teacher_dim=self.teacher.output_size,
            ctc_linear=self.teacher.ctc_linear,
            num_classes=num_classes,
            seed=seed,
            temperature=temperature,
        )
        self.kind = self.projector.kind
        self.output_dim = self.projector.output_dim
        if output_dim is not None and output_dim != self.output_dim:
            raise ValueError(
                f"frozen_teacher_conf.output_dim is {output_dim}, but the teacher {model_file} with projector "
                f"'{projector}' gives {self.output_dim}; set output_dim: {self.output_dim} (or drop it)"
            )

    @torch.no_grad()
    def forward(self, speech, speech_lengths, frozen_targets=None, frozen_targets_lengths=None):
        teacher_out, lengths = self.teacher.encode(speech, speech_lengths)
        return self.projector(teacher_out), lengths


class OfflineFrozenTargets(AbsFrozenTargets):
    """Reads targets dumped by ``python -m espnet_trinet.bin.dump_frozen_targets``.

    The data loader delivers them as ``frozen_targets`` (a ``kaldi_ark`` entry of
    ``--train_data_path_and_name_and_type``); ESPnet's loader casts everything to
    float, so hard ids are turned back into int64 here.

    Args:
        projector: the projector the targets were dumped with (decides the loss).
        output_dim: C (or D_t for regression), see the dump's ``targets_info.yaml``.
    """

    def __init__(self, projector: str = "random", output_dim: Optional[int] = None):
        super().__init__()
        if output_dim is None:
            raise ValueError(
                "frozen_teacher 'offline' needs frozen_teacher_conf.output_dim: take it from the dump's "
                "targets_info.yaml (--frozen_teacher_conf output_dim=N)"
            )
        self.kind = projector_kind(projector)
        self.output_dim = output_dim

    def forward(self, speech, speech_lengths, frozen_targets=None, frozen_targets_lengths=None):
        if frozen_targets is None:
            raise ValueError(
                "frozen_teacher 'offline' needs 'frozen_targets' in the data: add "
                "'--train_data_path_and_name_and_type <dump>/targets.scp,frozen_targets,kaldi_ark' "
                "(and the same for valid)"
            )
        if self.kind == "hard":
            if frozen_targets.dim() != 2:
                raise ValueError(f"hard frozen targets must be (B, T) ids, got {tuple(frozen_targets.shape)}")
            return frozen_targets.round().long(), frozen_targets_lengths
        if frozen_targets.dim() != 3 or frozen_targets.size(-1) != self.output_dim:
            raise ValueError(
                f"{self.kind} frozen targets must be (B, T, {self.output_dim}), got "
                f"{tuple(frozen_targets.shape)}: were they dumped with another teacher or projector?"
            )
        return frozen_targets.float(), frozen_targets_lengths
