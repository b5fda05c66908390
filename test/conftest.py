"""Shared fixtures: tiny audio data dirs and a tiny ESPnet ASR model as frozen teacher."""

import pytest

from trinet_testing import build_asr_experiment, write_audio_dir


@pytest.fixture(scope="session")
def audio_dirs(tmp_path_factory):
    """(train_dir, valid_dir) with 8 and 4 utterances of 1-2 s."""
    root = tmp_path_factory.mktemp("audio")
    return write_audio_dir(root / "train", 8, seed=0), write_audio_dir(root / "valid", 4, seed=1)


@pytest.fixture(scope="session")
def asr_teacher(tmp_path_factory):
    """Model file of a tiny frozen ASR teacher (config.yaml next to it)."""
    return build_asr_experiment(tmp_path_factory.mktemp("asr_teacher"))
