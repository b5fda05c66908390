"""Dumped per-frame class labels (e.g. k-means units of a HuBERT-style iteration) as targets."""

import logging
from pathlib import Path
from typing import Optional, Sequence

import yaml

from espnet_trinet.labels.provenance import LABELS_INFO_FILE, check_labels_fit
from espnet_trinet.targets.abs_targets import AbsTargets, StudentInput, TeacherInput, Targets
from espnet_trinet.targets.alignment import align_to_student
from espnet_trinet.teachers.dump_files import check_first_entry

# LABELS_INFO_FILE, next to the labels' scp, says what made them (``kmeans_labels dump``): its
# num_classes, features, block and student frames are checked against the config and the student.
__all__ = ["FrameLabelTargets", "LABELS_INFO_FILE"]
LABEL_FEATURES = ("mfcc", "ssl")


class FrameLabelTargets(AbsTargets):
    """Class ids per student frame, read with the audio (a ``kaldi_ark`` data entry of (T,) ints).

    Args:
        num_classes: C; every label must be below it.
        data_key: the data entry holding the labels.
        features: what the labels must have been made from: "mfcc" or "ssl" (HuBERT's first
            and second iterations); None: not checked (labels from elsewhere). When set, the
            labels need their ``labels_info.yaml``.
        feature_layer: for "ssl": the block (1-based) whose outputs were clustered.
        feature_method: for "ssl": the recipe's name of the SSL method whose encoder made the
            features (e.g. "data2vec"); kept in the config for the recipe, not used in training.
        encoder, data_files: unused (the task offers them to every source).
    """

    kind = "hard"

    def __init__(self, num_classes: Optional[int] = None, data_key: str = "labels", features: Optional[str] = None,
                 feature_layer: Optional[int] = None, feature_method: Optional[str] = None, encoder=None,
                 data_files=None):
        super().__init__()
        if num_classes is None or num_classes < 2:
            raise ValueError(f"frame labels need num_classes >= 2, got {num_classes}")
        if features not in LABEL_FEATURES + (None,):
            raise ValueError(f"frame labels: features must be one of {LABEL_FEATURES} or null, got '{features}'")
        if features == "ssl" and feature_layer is None:
            raise ValueError("frame labels of features ssl need feature_layer: the block whose outputs were clustered")
        if features != "ssl" and (feature_layer is not None or feature_method is not None):
            raise ValueError(f"frame labels: feature_layer and feature_method apply to features ssl, not {features}")
        self.output_dim = int(num_classes)
        self.data_key = data_key
        self.features = features
        self.feature_layer = None if feature_layer is None else int(feature_layer)
        self.feature_method = feature_method

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
                check_labels_fit(info, info_path, student, self.output_dim, self.features, self.feature_layer)
            elif self.features is not None:
                raise ValueError(
                    f"labels of unknown provenance: {scp} has no {LABELS_INFO_FILE} next to it, so whether they were "
                    f"made from {self.features} features for this student is unknown; make them with "
                    "kmeans_labels dump (and merge), or set the target's conf.features: null for labels from elsewhere"
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
