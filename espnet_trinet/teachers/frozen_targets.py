"""Where the student's high-level targets come from: the frozen teacher run online,
or the same targets dumped once beforehand (``bin/dump_frozen_targets``).

Both sources give identical targets for the same audio, so the offline path makes
TriNet cost no more per step than data2vec while computing the same loss.
"""

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import kaldiio
import numpy as np
import torch
import yaml

from espnet_trinet.teachers.compat import (
    INFO_FILE,
    StudentInput,
    check_frame_rate,
    check_token_list,
    teacher_signature,
)
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
    def check_fits(self, student: StudentInput, target_files: Sequence[Path], max_gap: int) -> None:
        """Fail, before training, if the targets do not fit the student (see ``teachers/compat.py``).

        Args:
            student: the student's frontend and subsampling.
            target_files: the ``targets.scp`` files of the training and validation data.
            max_gap: frames the teacher and the student may differ by per utterance.
        """

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
        token_list: optional check: the token list (tokens.txt or a list) the recipe
            fine-tunes with; with projector "ctc" it must be the teacher's.
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
        token_list: Optional[Union[str, List[str]]] = None,
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
        self.projector_mode = projector
        self.token_list = token_list
        check_token_list(projector, self.teacher.token_list, token_list, str(model_file))

    def check_fits(self, student, target_files, max_gap):
        if target_files:
            logging.warning(f"frozen_teacher 'online' ignores the dumped targets {[str(f) for f in target_files]}")
        check_frame_rate(student, teacher_signature(self.teacher), str(self.teacher.model_path), max_gap)

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
        token_list: optional check: the token list the recipe fine-tunes with; with
            projector "ctc" it must be the one the dump's teacher was fine-tuned with.
    """

    def __init__(
        self,
        projector: str = "random",
        output_dim: Optional[int] = None,
        token_list: Optional[Union[str, List[str]]] = None,
    ):
        super().__init__()
        if output_dim is None:
            raise ValueError(
                "frozen_teacher 'offline' needs frozen_teacher_conf.output_dim: take it from the dump's "
                "targets_info.yaml (--frozen_teacher_conf output_dim=N)"
            )
        self.kind = projector_kind(projector)
        self.output_dim = output_dim
        self.projector_mode = projector
        self.token_list = token_list

    def check_fits(self, student, target_files, max_gap):
        """Compare every dump's ``targets_info.yaml`` and first entry with the config and the student."""
        teachers = {}
        for scp in map(Path, target_files):
            if not scp.is_file():
                logging.warning(f"{scp} does not exist; not checked here (the data loader names it)")
                continue
            info_path = scp.parent / INFO_FILE
            if not info_path.is_file():
                raise FileNotFoundError(
                    f"{info_path} is missing: the dump in {scp.parent} did not finish or was not made by "
                    "dump_frozen_targets; run python -m espnet_trinet.bin.dump_frozen_targets for it again"
                )
            info = yaml.safe_load(info_path.read_text(encoding="utf-8"))
            if info["projector"] != self.projector_mode:
                raise ValueError(
                    f"projector mismatch: {info_path} holds '{info['projector']}' targets ({info['kind']}), "
                    f"the config has frozen_teacher_conf.projector: {self.projector_mode}; set "
                    f"projector={info['projector']}, or dump the targets again with --projector {self.projector_mode}"
                )
            if int(info["output_dim"]) != self.output_dim:
                raise ValueError(
                    f"output_dim mismatch: {info_path} holds {info['kind']} targets of dim {info['output_dim']}, "
                    f"the config has frozen_teacher_conf.output_dim: {self.output_dim}; set "
                    f"output_dim={info['output_dim']} (the recipe reads it from that file)"
                )
            _check_first_entry(scp, self.kind, self.output_dim)
            if "token_list" in info:
                check_token_list(self.projector_mode, info["token_list"], self.token_list, str(info_path))
            elif self.token_list is not None and self.projector_mode == "ctc":
                logging.warning(f"token list not checked: {info_path} predates the check (dump again to record it)")
            check_frame_rate(student, info, str(info_path), max_gap)
            teachers[str(info_path)] = info.get("teacher_model_sha256", info.get("teacher_model"))
        if len(set(teachers.values())) > 1:
            raise ValueError(
                f"the training and validation targets come from different teachers: {teachers}; "
                "dump both with the same teacher"
            )

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


def _check_first_entry(scp: Path, kind: str, output_dim: int) -> None:
    """Read the dump's first target and fail if its shape or ids do not fit ``kind`` and ``output_dim``."""
    with open(scp, encoding="utf-8") as f:
        first = f.readline().split(maxsplit=1)
    if len(first) != 2:
        raise ValueError(f"{scp} is empty or malformed (first line {first}); dump the targets again")
    key, location = first[0], first[1].strip()
    target = np.asarray(kaldiio.load_mat(location))
    if kind == "hard":
        fits = target.ndim == 1 and np.issubdtype(target.dtype, np.integer) and int(target.max(initial=0)) < output_dim
        expected = f"(T,) integer class ids below {output_dim}"
    else:
        fits = target.ndim == 2 and target.shape[1] == output_dim
        expected = f"(T, {output_dim}) {kind} targets"
    if not fits:
        largest = f", largest value {target.max():g}" if target.size else ""
        raise ValueError(
            f"{scp}: the first entry '{key}' has shape {target.shape} and dtype {target.dtype}{largest}, "
            f"but the config expects {expected}: the dump was made with another teacher or projector; "
            "dump the targets again (or fix frozen_teacher_conf)"
        )
