"""The LibriSpeech recipe's data stages (1-5) on a stand-in corpus in LibriSpeech's layout.

The real corpus cannot be fetched here, so a tiny synthetic corpus plays its seven parts:
its train/dev/test readers (1000+, 2000+, 3000+) are distinct, so the three training
parts combine into train_960 without clashing ids.
"""

import os
import shutil
import subprocess
import sys

import pytest

from trinet_testing import REPO

PARTS = {
    "train-clean-100": "train",
    "train-clean-360": "dev",
    "train-other-500": "test",
    "dev-clean": "dev",
    "dev-other": "dev",
    "test-clean": "test",
    "test-other": "test",
}


@pytest.fixture(scope="module")
def librispeech(tmp_path_factory):
    root = tmp_path_factory.mktemp("ls")
    synth = root / "synth"
    result = subprocess.run(
        [sys.executable, "-m", "espnet_trinet.bin.make_synth_corpus", "--output_dir", str(synth),
         "--num_train_speakers", "2", "--num_dev_speakers", "1", "--num_test_speakers", "1",
         "--utts_per_speaker", "3", "--eval_utts_per_speaker", "3", "--nj", "2"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    corpus = root / "LibriSpeech"
    corpus.mkdir()
    for part, src in PARTS.items():
        os.symlink(synth / src, corpus / part)
    for extra in synth.iterdir():
        if extra.is_file():
            shutil.copy(extra, corpus / extra.name)  # SPEAKERS.TXT and friends

    (root / "repo" / "egs2").mkdir(parents=True)
    os.symlink(REPO / "egs2" / "TEMPLATE", root / "repo" / "egs2" / "TEMPLATE")
    os.symlink(REPO / "tools", root / "repo" / "tools")
    recipe = root / "repo" / "egs2" / "librispeech" / "trinet1"
    shutil.copytree(REPO / "egs2" / "librispeech" / "trinet1", recipe,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    return recipe, corpus


@pytest.mark.slow
def test_data_stages_prepare_train_960_and_every_eval_set(librispeech):
    recipe, corpus = librispeech
    result = subprocess.run(
        ["./run.sh", "--librispeech_dir", str(corpus), "--stage", "1", "--stop_stage", "5", "--nj", "2"],
        cwd=recipe, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    def ids(path):
        return [line.split()[0] for line in (recipe / path / "wav.scp").read_text().splitlines()]

    parts = [ids(f"data/{p}") for p in ("train_clean_100", "train_clean_360", "train_other_500")]
    assert sorted(ids("data/train_960")) == sorted(sum(parts, []))
    for dset in ("train_960", "train_clean_100", "dev_clean", "dev_other", "test_clean", "test_other"):
        assert ids(f"dump/raw/{dset}"), dset
    assert (recipe / "data" / "token_list" / "char" / "tokens.txt").exists()


def test_librispeech_dir_must_exist(librispeech):
    recipe, corpus = librispeech
    result = subprocess.run(["./run.sh", "--librispeech_dir", str(corpus / "nowhere")], cwd=recipe,
                            capture_output=True, text=True)
    assert result.returncode != 0
