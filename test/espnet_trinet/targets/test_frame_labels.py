import kaldiio
import numpy as np
import pytest
import torch
import yaml

from espnet_trinet.targets.abs_targets import StudentInput, TeacherInput
from espnet_trinet.targets.frame_labels import LABELS_INFO_FILE, FrameLabelTargets


def _labels(tmp_path, ids, num_classes=None):
    scp = tmp_path / "labels.scp"
    kaldiio.save_ark(str(tmp_path / "labels.ark"), {"u1": np.asarray(ids, dtype=np.int32)}, scp=str(scp))
    if num_classes is not None:
        (tmp_path / LABELS_INFO_FILE).write_text(yaml.safe_dump(dict(num_classes=num_classes)))
    return scp


def test_labels_come_from_the_data_as_ids_on_the_student_frames():
    source = FrameLabelTargets(num_classes=8)
    labels = torch.tensor([[1.0, 7.0, 3.0], [2.0, -1.0, -1.0]])  # padded with -1 by the collate function
    valid = torch.tensor([[True, True, True], [True, True, False]])
    batch = TeacherInput(torch.zeros(2, 3, 4), None, valid.unsqueeze(1), None, None, None,
                         dict(labels=labels, labels_lengths=torch.tensor([3, 1])), 0)
    targets = source(batch)
    assert targets.kind == "hard" and targets.values.dtype == torch.long
    assert targets.frames.tolist() == [[True, True, True], [True, False, False]]
    assert targets.values[targets.frames].tolist() == [1, 7, 3, 2]


def test_label_files_are_checked_before_training(tmp_path):
    student = StudentInput(16000, "s", None)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    with_info = _labels(tmp_path / "a", [0, 7, 2], 8)
    FrameLabelTargets(num_classes=8).check_fits(student, [with_info])
    with pytest.raises(ValueError, match="integer class ids below 4"):
        FrameLabelTargets(num_classes=4).check_fits(student, [_labels(tmp_path / "b", [0, 7, 2])])
    with pytest.raises(ValueError, match="have 8 classes, the config's num_classes is 16"):
        FrameLabelTargets(num_classes=16).check_fits(student, [with_info])
    with pytest.raises(ValueError, match="add --train_data_path_and_name_and_type <labels>.scp,labels,kaldi_ark"):
        FrameLabelTargets(num_classes=8).check_fits(student, [])
    with pytest.raises(ValueError, match="num_classes >= 2"):
        FrameLabelTargets()
