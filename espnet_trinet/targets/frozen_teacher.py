"""TriNet's third branch: targets from a frozen, CTC fine-tuned ASR teacher.

The teacher runs on every batch (``mode: online``) or its targets were dumped once
beforehand by ``bin/dump_frozen_targets`` and come with the audio (``mode: offline``);
both give identical targets for the same audio, so the offline path makes TriNet cost no
more per step than data2vec while computing the same loss.

The teacher itself is loaded only when targets are needed (training, a dump): a model
rebuilt from its ``config.yaml`` (inference, packing, analysis) needs none of its files.
"""

import logging
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch
import yaml

from espnet_trinet.targets.abs_targets import AbsTargets, StudentInput, TeacherInput, Targets
from espnet_trinet.targets.alignment import MAX_FRAME_MISMATCH, align_to_student
from espnet_trinet.teachers.dump_files import INFO_FILE, check_first_entry
from espnet_trinet.teachers.fit_checks import check_frame_rate, check_token_list, teacher_signature
from espnet_trinet.teachers.frozen_asr import FrozenASRTeacher, resolve_asr_files
from espnet_trinet.teachers.projectors import TeacherProjector, projector_kind

MODES = ("online", "offline")
FRAME_FIX = (
    "the teacher must use the same frame shift and subsampling as the student "
    "(frontend_conf.hop_length, encoder_conf.input_layer)"
)


class FrozenTeacherTargets(AbsTargets):
    """Targets from a frozen ESPnet ASR model, through a fixed projector.

    Args:
        mode: "online" (run the teacher in every step) or "offline" (read dumped targets).
        projector: "ctc" (paper: soft targets from the teacher's CTC layer), "random"
            (reference code: argmax of a fixed random Linear(D, num_classes)) or
            "regression" (the teacher's encoder output itself).
        num_classes, seed: the random projection's C and seed.
        temperature: softmax temperature of the "ctc" projector.
        output_dim: C (or D_t for regression). Online: found from the teacher if not set
            (a given value is checked); offline: read from the dump's targets_info.yaml if
            not set. Written into config.yaml once known.
        token_list: optional check: the token list the recipe fine-tunes with; with
            projector "ctc" it must be the teacher's.
        asr_train_config, asr_model_file, asr_model_zip: the teacher (online mode).
        data_key: the data entry of dumped targets (offline mode).
        encoder: unused (the task offers every source the student's encoder).
        data_files: {data name: files} of the training and validation data.
    """

    needs_finetuned_teacher = True

    def __init__(
        self,
        mode: str = "offline",
        projector: str = "ctc",
        num_classes: int = 32,
        seed: int = 0,
        temperature: float = 1.0,
        output_dim: Optional[int] = None,
        token_list: Optional[Union[str, List[str]]] = None,
        asr_train_config: Optional[str] = None,
        asr_model_file: Optional[str] = None,
        asr_model_zip: Optional[str] = None,
        data_key: str = "frozen_targets",
        encoder: Optional[torch.nn.Module] = None,
        data_files=None,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"frozen teacher mode must be one of {MODES}, got '{mode}'")
        self.mode = mode
        self.projector_mode = projector
        self.kind = projector_kind(projector)
        self.projector_conf = dict(num_classes=num_classes, seed=seed, temperature=temperature)
        self.token_list = token_list
        self.asr_files = dict(asr_train_config=asr_train_config, asr_model_file=asr_model_file,
                              asr_model_zip=asr_model_zip)
        self.data_key = data_key if mode == "offline" else None
        # Kept out of the module tree (a dict, not attributes): nothing of the teacher is
        # saved, trained or wrapped by DDP; it follows the input's device when it runs.
        self._lazy = dict(teacher=None, projector=None)
        self.output_dim = output_dim
        if output_dim is None:
            if mode == "online":
                self.output_dim = self.projector.output_dim  # loads the teacher
            else:
                self.output_dim = self._output_dim_of_dumps((data_files or {}).get(data_key, []))

    # ------------------------------------------------------------------ the teacher, when needed
    @property
    def teacher(self) -> FrozenASRTeacher:
        """The frozen ASR model, loaded (and checked against the config) on first use."""
        if self._lazy["teacher"] is None:
            config, model_file = resolve_asr_files(**self.asr_files)
            teacher = FrozenASRTeacher(config, model_file)
            check_token_list(self.projector_mode, teacher.token_list, self.token_list, str(model_file))
            self._lazy["teacher"] = teacher
        return self._lazy["teacher"]

    @property
    def projector(self) -> TeacherProjector:
        if self._lazy["projector"] is None:
            teacher = self.teacher
            if self.projector_mode == "ctc" and teacher.ctc_linear is None:
                raise ValueError(f"projector 'ctc' needs a teacher with a CTC layer; {teacher.model_path} has none")
            projector = TeacherProjector(
                self.projector_mode, teacher_dim=teacher.output_size, ctc_linear=teacher.ctc_linear,
                **self.projector_conf,
            )
            if self.output_dim is not None and self.output_dim != projector.output_dim:
                raise ValueError(
                    f"the frozen teacher's output_dim is {self.output_dim} in the config, but the teacher "
                    f"{teacher.model_path} with projector '{self.projector_mode}' gives {projector.output_dim}; "
                    f"set output_dim: {projector.output_dim} (or drop it)"
                )
            self._lazy["projector"] = projector
        return self._lazy["projector"]

    def _output_dim_of_dumps(self, files: Sequence[Path]) -> int:
        for scp in map(Path, files):
            info = scp.parent / INFO_FILE
            if info.is_file():
                return int(yaml.safe_load(info.read_text(encoding="utf-8"))["output_dim"])
        raise ValueError(
            f"frozen teacher 'offline' needs output_dim: none given, and no dump with {INFO_FILE} among the "
            f"'{self.data_key}' data ({[str(f) for f in files]}); add --train_data_path_and_name_and_type "
            f"<dump>/targets.scp,{self.data_key},kaldi_ark (and the same for valid)"
        )

    # ------------------------------------------------------------------ interface
    def check_fits(self, student: StudentInput, data_files: Sequence[Path]) -> None:
        if self.mode == "online":
            check_frame_rate(student, teacher_signature(self.teacher), str(self.teacher.model_path),
                             MAX_FRAME_MISMATCH)
            self.projector  # noqa: B018  (checks output_dim against the teacher)
            return
        if not data_files:
            raise ValueError(
                f"frozen teacher 'offline' needs its dumped targets in the training and validation data: add "
                f"--train_data_path_and_name_and_type <dump>/targets.scp,{self.data_key},kaldi_ark "
                "(and the same for valid)"
            )
        teachers = {}
        for scp in map(Path, data_files):
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
                    f"the config's frozen teacher has projector: {self.projector_mode}; set "
                    f"projector={info['projector']}, or dump the targets again with --projector {self.projector_mode}"
                )
            if int(info["output_dim"]) != self.output_dim:
                raise ValueError(
                    f"output_dim mismatch: {info_path} holds {info['kind']} targets of dim {info['output_dim']}, "
                    f"the config's frozen teacher has output_dim: {self.output_dim}; set "
                    f"output_dim={info['output_dim']} (or leave it out: it is read from that file)"
                )
            # The projection a dump was made with (random: classes and seed; ctc: temperature).
            for key, value in self.projector_conf.items():
                if info.get(key) is not None and info[key] != value:
                    raise ValueError(
                        f"{key} mismatch: {info_path} was dumped with {key} {info[key]}, the config's frozen "
                        f"teacher has {key}: {value}; set {key}={info[key]}, or dump the targets again"
                    )
            check_first_entry(scp, self.kind, self.output_dim)
            if "token_list" in info:
                check_token_list(self.projector_mode, info["token_list"], self.token_list, str(info_path))
            elif self.token_list is not None and self.projector_mode == "ctc":
                logging.warning(f"token list not checked: {info_path} predates the check (dump again to record it)")
            check_frame_rate(student, info, str(info_path), MAX_FRAME_MISMATCH)
            teachers[str(info_path)] = info.get("teacher_model_sha256", info.get("teacher_model"))
        if len(set(teachers.values())) > 1:
            raise ValueError(
                f"the training and validation targets come from different teachers: {teachers}; "
                "dump both with the same teacher"
            )

    @torch.no_grad()
    def teacher_targets(self, speech: torch.Tensor, speech_lengths: torch.Tensor):
        """Run the teacher and the projector: (B, T', C) or (B, T') targets and (B,) lengths."""
        teacher_out, lengths = self.teacher.encode(speech, speech_lengths)
        projector = self.projector.to(teacher_out.device)
        return projector(teacher_out), lengths

    def forward(self, batch: TeacherInput) -> Targets:
        if self.mode == "online":
            values, lengths = self.teacher_targets(batch.speech, batch.speech_lengths)
        else:
            values, lengths = self._dumped(batch.data)
        values, frames = align_to_student(values, lengths, batch.valid, "frozen-teacher targets", FRAME_FIX)
        return Targets(values, frames, self.kind)

    def _dumped(self, data):
        targets, lengths = data.get(self.data_key), data.get(f"{self.data_key}_lengths")
        if targets is None:
            raise ValueError(
                f"frozen teacher 'offline' needs '{self.data_key}' in the data: add "
                f"'--train_data_path_and_name_and_type <dump>/targets.scp,{self.data_key},kaldi_ark' "
                "(and the same for valid)"
            )
        # ESPnet's loader casts every array to float: hard ids come back to int64 here.
        if self.kind == "hard":
            if targets.dim() != 2:
                raise ValueError(f"hard frozen targets must be (B, T) ids, got {tuple(targets.shape)}")
            return targets.round().long(), lengths
        if targets.dim() != 3 or targets.size(-1) != self.output_dim:
            raise ValueError(
                f"{self.kind} frozen targets must be (B, T, {self.output_dim}), got "
                f"{tuple(targets.shape)}: were they dumped with another teacher or projector?"
            )
        return targets.float(), lengths

    def resolved_conf(self):
        return dict(output_dim=int(self.output_dim))
