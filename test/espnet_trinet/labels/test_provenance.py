"""The pretraining side: ``FrameLabelTargets.check_fits`` reads the labels' provenance."""

import shutil

import pytest
import torch
import yaml

from espnet_trinet.labels.kmeans import learn_kmeans
from espnet_trinet.labels.label_dump import LABELS_SCP, dump_labels
from espnet_trinet.labels.provenance import LABELS_INFO_FILE
from espnet_trinet.labels.student_grid import load_student
from espnet_trinet.targets.frame_labels import FrameLabelTargets
from espnet_trinet.teachers.fit_checks import student_input
from labels_testing import NUM_CLUSTERS, STUDENT_CONFIG, make_ssl_experiment


def _copy(labels_dir, tmp_path, edit=None):
    """A copy of a labels dir (the ark stays where it is), its info changed by ``edit``."""
    out = tmp_path / "copy"
    out.mkdir()
    shutil.copy(labels_dir / LABELS_SCP, out / LABELS_SCP)
    info = yaml.safe_load((labels_dir / LABELS_INFO_FILE).read_text())
    if edit is not None:
        edit(info)
        (out / LABELS_INFO_FILE).write_text(yaml.safe_dump(info))
    return out / LABELS_SCP


@pytest.fixture(scope="module")
def the_student(student):
    return student_input(*student)


def test_labels_of_the_configured_features_fit(the_student, mfcc_labels):
    FrameLabelTargets(num_classes=NUM_CLUSTERS, features="mfcc").check_fits(the_student, [mfcc_labels / LABELS_SCP])
    FrameLabelTargets(num_classes=NUM_CLUSTERS).check_fits(the_student, [mfcc_labels / LABELS_SCP])


def test_labels_that_do_not_fit_the_conf_are_refused(the_student, mfcc_labels):
    scp = [mfcc_labels / LABELS_SCP]
    with pytest.raises(ValueError, match="have 8 classes, the config's num_classes is 16: set num_classes: 8"):
        FrameLabelTargets(num_classes=16, features="mfcc").check_fits(the_student, scp)
    with pytest.raises(ValueError, match="labels of mfcc features, the config expects ssl"):
        FrameLabelTargets(num_classes=NUM_CLUSTERS, features="ssl", feature_layer=6).check_fits(the_student, scp)


def test_labels_of_another_block_are_refused(the_student, mfcc_labels, tmp_path):
    def as_ssl(info):
        info.update(features="ssl", layer=3, ssl_model_file=str(tmp_path / "gone.pth"), ssl_model_sha256="0" * 64)

    scp = [_copy(mfcc_labels, tmp_path, as_ssl)]
    source = FrameLabelTargets(num_classes=NUM_CLUSTERS, features="ssl", feature_layer=3, feature_method="data2vec")
    source.check_fits(the_student, scp)  # the SSL model is gone: not checked, with a warning
    with pytest.raises(ValueError, match="block 3's features, the config expects block 6"):
        FrameLabelTargets(num_classes=NUM_CLUSTERS, features="ssl", feature_layer=6).check_fits(the_student, scp)


def test_labels_of_another_frame_rate_are_refused(mfcc_labels, tmp_path):
    conf = yaml.safe_load(STUDENT_CONFIG.read_text())
    for key, value, match in (("frontend_conf", dict(conf["frontend_conf"], hop_length=320), "frame rate mismatch"),
                              ("encoder_conf", dict(conf["encoder_conf"], input_layer="conv2d6"), "frame rate mismatch"),
                              ("frontend_conf", dict(conf["frontend_conf"], fs=8000), "sampling rate mismatch")):
        other = tmp_path / f"{key}_{list(value.values())}.yaml"
        other.write_text(yaml.safe_dump(dict(conf, **{key: value})))
        student = student_input(*load_student(other))
        with pytest.raises(ValueError, match=match):
            FrameLabelTargets(num_classes=NUM_CLUSTERS, features="mfcc").check_fits(student, [mfcc_labels / LABELS_SCP])


def test_labels_of_unknown_provenance_are_refused_when_features_are_set(the_student, mfcc_labels, tmp_path):
    scp = _copy(mfcc_labels, tmp_path)  # no labels_info.yaml
    FrameLabelTargets(num_classes=NUM_CLUSTERS).check_fits(the_student, [scp])  # labels from elsewhere
    with pytest.raises(ValueError, match="labels of unknown provenance: .* has no labels_info.yaml"):
        FrameLabelTargets(num_classes=NUM_CLUSTERS, features="mfcc").check_fits(the_student, [scp])


def test_labels_of_a_retrained_ssl_model_are_stale(the_student, label_data, tmp_path):
    model_file = make_ssl_experiment(tmp_path / "exp")
    learn_kmeans(label_data, STUDENT_CONFIG, tmp_path / "kmeans", features="ssl", num_clusters=NUM_CLUSTERS,
                 ssl_model_file=model_file, ssl_config=model_file.parent / "config.yaml", layer=2, show_progress=False)
    dump_labels(label_data, tmp_path / "kmeans", tmp_path / "labels", show_progress=False)
    source = FrameLabelTargets(num_classes=NUM_CLUSTERS, features="ssl", feature_layer=2, feature_method="data2vec")
    source.check_fits(the_student, [tmp_path / "labels" / LABELS_SCP])
    torch.save({k: v * 0 for k, v in torch.load(model_file).items()}, model_file)
    with pytest.raises(ValueError, match="stale labels: .* was retrained or replaced since; learn the k-means on it"):
        source.check_fits(the_student, [tmp_path / "labels" / LABELS_SCP])


def test_conf_settings_are_validated():
    with pytest.raises(ValueError, match="features must be one of"):
        FrameLabelTargets(num_classes=8, features="fbank")
    with pytest.raises(ValueError, match="need feature_layer"):
        FrameLabelTargets(num_classes=8, features="ssl")
    with pytest.raises(ValueError, match="apply to features ssl"):
        FrameLabelTargets(num_classes=8, features="mfcc", feature_layer=6)
    source = FrameLabelTargets(num_classes=8, features="ssl", feature_layer=6, feature_method="data2vec")
    assert (source.features, source.feature_layer, source.feature_method) == ("ssl", 6, "data2vec")
    assert source.resolved_conf() == {}
