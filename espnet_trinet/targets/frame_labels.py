"""Dumped per-frame class labels (e.g. k-means units of a HuBERT-style iteration) as targets."""

import logging
from pathlib import Path
from typing import Optional, Sequence

import yaml

from espnet_trinet.targets.abs_targets import AbsTargets, StudentInput, TeacherInput, Targets
from espnet_trinet.targets.alignment import align_to_student
from espnet_trinet.teachers.dump_files import check_first_entry

# Optional, next to the labels' scp: what made them; its num_classes is checked against the config.
LABELS_INFO_FILE = "labels_info.yaml"


class FrameLabelTargets(AbsTargets):
    """Class ids per student frame, read with the audio (a ``kaldi_ark`` data entry of (T,) ints).

    Args:
        num_classes: C; every label must be below it.
        data_key: the data entry holding the labels.
        encoder, data_files: unused (the task offers them to every source).
    """

    kind = "hard"

    def __init__(self, num_classes: Optional[int] = None, data_key: str = "labels", encoder=None, data_files=None):
        super().__init__()
        if num_classes is None or num_classes < 2:
            raise ValueError(f"frame labels need num_classes >= 2, got {num_classes}")
        self.output_dim = int(num_classes)
        self.data_key = data_key

    def check_fits(self, student: StudentInput, data_files: Sequence[Path]) -> None:
        if not data_files:
            raise ValueError(
                f"frame labels need the '{self.data_key}' data entry: add --train_data_path_and_name_and_type "
                f"<labels>.scp,{self.data_key},kaldi_ark (and the same for valid)"
            )
        for scp in map(Path, data_files):
            if not scp.is_file():
                logging.warning(f"{scp} does not exist; not checked here (the data loader names it)")
                continue
            info_path = scp.parent / LABELS_INFO_FILE
            if info_path.is_file():
                info = yaml.safe_load(info_path.read_text(encoding="utf-8")) or {}
                if "num_classes" in info and int(info["num_classes"]) != self.output_dim:
                    raise ValueError(
                        f"{info_path} says the labels have {info['num_classes']} classes, the config's "
                        f"num_classes is {self.output_dim}: set num_classes: {info['num_classes']}"
                    )
            check_first_entry(scp, self.kind, self.output_dim)

    def forward(self, batch: TeacherInput) -> Targets:
        labels, lengths = batch.data.get(self.data_key), batch.data.get(f"{self.data_key}_lengths")
        if labels is None:
            raise ValueError(f"frame labels: the batch has no '{self.data_key}' entry (see check_fits)")
        if labels.dim() != 2:
            raise ValueError(f"'{self.data_key}' must be (B, T) class ids, got {tuple(labels.shape)}")
        ids = labels.round().long()  # ESPnet's loader delivers every array as float
        values, frames = align_to_student(
            ids, lengths, batch.valid, f"the labels '{self.data_key}'",
            "labels must be written at the student's frame rate (one per frame after subsampling)",
        )
        return Targets(values, frames, self.kind)
