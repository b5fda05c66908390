"""What made a set of k-means labels (``labels_info.yaml``), and the checks that it still holds.

Labels are only as good as the features and the k-means model they came from. A label dump
records both (the k-means model's info, its checksum and, for ``ssl`` features, the checksum
of the SSL model that made the features); a resumed dump, a merge of parts, ``verify`` and the
pretraining fit check (``FrameLabelTargets.check_fits``) compare against that record, so that
labels of a retrained model or another k-means model fail with the fix instead of training on.
"""

import logging
from pathlib import Path
from typing import Dict, Optional, Union

from espnet_trinet.targets.abs_targets import StudentInput
from espnet_trinet.targets.alignment import MAX_FRAME_MISMATCH
from espnet_trinet.utils.files import file_sha256

# Written last by a dump or a merge: its done marker, with what made the labels.
LABELS_INFO_FILE = "labels_info.yaml"
# Written before the first label of a dump: a resumed dump checks it made the same labels.
LABELS_REQUEST_FILE = "labels_request.yaml"
# Keys two label sets must agree on to hold the same labels (paths are kept for messages only:
# a moved experiment is the same model).
IDENTITY_KEYS = ("features", "layer", "num_classes", "kmeans_sha256", "ssl_model_sha256", "student_grid",
                 "fs", "probe_samples", "probe_frames")
REMAKE = "make the labels again (kmeans_labels dump --force true, then merge)"


def labels_request(kmeans_info: Dict, kmeans_file: Union[str, Path]) -> Dict:
    """The provenance of labels made with the k-means model of ``kmeans_info`` (in ``kmeans_file``)."""
    return dict(
        kmeans_info,
        kmeans_file=str(kmeans_file),
        kmeans_sha256=file_sha256(kmeans_file),
        num_classes=int(kmeans_info["num_clusters"]),
        ssl_model_sha256=kmeans_info.get("ssl_model_sha256"),  # None for mfcc: an identity key either way
    )


def check_same_labels(recorded: Dict, request: Dict, where: Union[str, Path], fix: str) -> None:
    """Fail, naming every difference, if ``recorded`` labels were made otherwise than ``request`` asks."""
    differences = []
    for key in IDENTITY_KEYS:
        if key not in recorded:
            differences.append(f"{key}: not recorded")
        elif recorded[key] != request.get(key):
            differences.append(f"{key}: {recorded[key]} there, {request.get(key)} now")
    if differences:
        raise ValueError(f"{where} holds labels made with another k-means model or features: "
                         + "; ".join(differences) + f"; {fix}")


def check_ssl_model_unchanged(info: Dict, where: Union[str, Path]) -> None:
    """For ``ssl`` features: fail if the recorded SSL model file has changed since (retrained)."""
    if info.get("features") != "ssl":
        return
    path, recorded = info.get("ssl_model_file"), info.get("ssl_model_sha256")
    if not path or not recorded:
        raise ValueError(f"{where}: labels of ssl features without the SSL model's checksum; {REMAKE}")
    if not Path(path).is_file():
        logging.warning(f"{where}: the SSL model {path} the labels were made from is gone; not checked")
        return
    now = file_sha256(path)
    if now != recorded:
        raise ValueError(
            f"stale labels: {where} was made from the SSL model {path} with sha256 {recorded}, the file now has "
            f"{now}: it was retrained or replaced since; learn the k-means on it again and make the labels again"
        )


def check_label_frame_rate(student: StudentInput, info: Dict, where: Union[str, Path]) -> None:
    """Fail unless the labels were made for the student's sampling rate and frames (probe lengths)."""
    if student.frames is None:
        logging.warning("frame rate of the labels not checked: the student has no frontend (--input_size)")
        return
    if "fs" not in info or "probe_frames" not in info:
        raise ValueError(f"{where} records no student frames (fs, probe_frames); {REMAKE}")
    if student.fs != info["fs"]:
        raise ValueError(
            f"sampling rate mismatch: {where} was made for {info['fs']} Hz audio, the student's frontend reads "
            f"{student.fs} Hz; {REMAKE} with this student's config (kmeans_labels learn --student_config)"
        )
    student_frames = student.frames(info["probe_samples"])
    gap, samples, label_frames, frames = max(
        (abs(a - b), n, a, b) for n, a, b in zip(info["probe_samples"], info["probe_frames"], student_frames)
    )
    if gap > MAX_FRAME_MISMATCH:
        raise ValueError(
            f"frame rate mismatch: for {samples / info['fs']:g} s of audio {where} has {label_frames} labels, the "
            f"student makes {frames} frames (labels for {info.get('frontend')}, student {student.summary}); a "
            f"label belongs to one student frame: {REMAKE} with this student's config (learn --student_config)"
        )


def check_labels_fit(
    info: Dict, where: Union[str, Path], student: StudentInput, num_classes: int,
    features: Optional[str] = None, layer: Optional[int] = None,
) -> None:
    """Fail if labels (their ``labels_info.yaml``) do not fit a ``frame_labels`` target's conf or its student.

    Args:
        info: the labels' info.
        num_classes: the conf's C.
        features, layer: the conf's expected features ("mfcc", "ssl"; None: not checked) and block.
    """
    if "num_classes" in info and int(info["num_classes"]) != num_classes:
        raise ValueError(
            f"{where} says the labels have {info['num_classes']} classes, the config's "
            f"num_classes is {num_classes}: set num_classes: {info['num_classes']}"
        )
    if features is not None:
        if info.get("features") != features:
            raise ValueError(
                f"{where} holds labels of {info.get('features')} features, the config expects {features} "
                f"(conf.features): give the labels of {features} features, or {REMAKE}"
            )
        if features == "ssl" and info.get("layer") != layer:
            raise ValueError(
                f"{where} holds labels of block {info.get('layer')}'s features, the config expects block {layer} "
                f"(conf.feature_layer): learn the k-means on block {layer} and make the labels again"
            )
    if "probe_frames" in info or features is not None:
        check_label_frame_rate(student, info, where)
    check_ssl_model_unchanged(info, where)
