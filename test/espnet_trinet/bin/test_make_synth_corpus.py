import shutil
import subprocess
import sys

import pytest

from espnet_trinet.bin.make_synth_corpus import main


def test_help():
    out = subprocess.run(
        [sys.executable, "-m", "espnet_trinet.bin.make_synth_corpus", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--num_train_speakers" in out and "--nj" in out and "train, dev, test" in out


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_tiny_corpus(tmp_path):
    args = [
        "--output_dir",
        str(tmp_path / "c"),
        "--num_train_speakers",
        "1",
        "--num_dev_speakers",
        "1",
        "--num_test_speakers",
        "1",
        "--utts_per_speaker",
        "2",
        "--eval_utts_per_speaker",
        "1",
    ]
    assert main(args) == 0
    assert len(list((tmp_path / "c").glob("*/*/*/*.flac"))) == 4
    assert main(args[:-1] + ["2"]) == 1  # other settings into the same folder: refused, with a message
