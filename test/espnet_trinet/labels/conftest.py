"""Fixtures for the k-means label tests: the tiny student, a tiny trained-looking SSL model,
a data dir, and k-means models and labels made from them once per session."""

import pytest

from espnet_trinet.labels.kmeans import learn_kmeans
from espnet_trinet.labels.label_dump import dump_labels
from espnet_trinet.labels.student_grid import load_student
from labels_testing import NUM_CLUSTERS, SSL_LAYER, STUDENT_CONFIG, make_ssl_experiment, write_utt2spk
from trinet_testing import write_audio_dir


@pytest.fixture(scope="session")
def label_data(tmp_path_factory):
    """A data dir of 8 utterances of 1-2 s, with utt2spk."""
    return write_utt2spk(write_audio_dir(tmp_path_factory.mktemp("label_data") / "train", 8, seed=3))


@pytest.fixture(scope="session")
def student():
    """(frontend, frontend_conf, encoder, encoder_conf) of the tiny pretraining config."""
    return load_student(STUDENT_CONFIG)


@pytest.fixture(scope="session")
def ssl_model(tmp_path_factory):
    """Model file of a tiny SSL experiment (config.yaml next to it)."""
    return make_ssl_experiment(tmp_path_factory.mktemp("ssl_exp"))


@pytest.fixture(scope="session")
def mfcc_kmeans(label_data, tmp_path_factory):
    """A k-means model of MFCC features of ``label_data``."""
    out = tmp_path_factory.mktemp("mfcc") / "kmeans"
    learn_kmeans(label_data, STUDENT_CONFIG, out, features="mfcc", num_clusters=NUM_CLUSTERS, show_progress=False)
    return out


@pytest.fixture(scope="session")
def mfcc_labels(label_data, mfcc_kmeans):
    """The labels of ``label_data`` by ``mfcc_kmeans``."""
    out = mfcc_kmeans.parent / "train"
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    return out


@pytest.fixture(scope="session")
def ssl_kmeans(label_data, ssl_model, tmp_path_factory):
    """A k-means model of block 2 of ``ssl_model``."""
    out = tmp_path_factory.mktemp("ssl") / "kmeans"
    learn_kmeans(label_data, STUDENT_CONFIG, out, features="ssl", num_clusters=NUM_CLUSTERS,
                 ssl_config=ssl_model.parent / "config.yaml", ssl_model_file=ssl_model, layer=SSL_LAYER,
                 show_progress=False)
    return out
