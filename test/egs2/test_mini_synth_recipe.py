"""The mini_synth recipe through the stages built so far (1-7), on a very small corpus."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from trinet_testing import REPO


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A copy of egs2/mini_synth/trinet1 with the shared template and tools linked in."""
    root = tmp_path_factory.mktemp("repo")
    (root / "egs2").mkdir()
    os.symlink(REPO / "egs2" / "TEMPLATE", root / "egs2" / "TEMPLATE")
    os.symlink(REPO / "tools", root / "tools")
    src = REPO / "egs2" / "mini_synth" / "trinet1"
    dst = root / "egs2" / "mini_synth" / "trinet1"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("data", "dump", "exp", "db"))
    return dst


def run(recipe, *args):
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_stages_1_to_7_make_their_artifacts_and_rerun_skips(recipe):
    result = run(
        recipe,
        "--local_data_opts", "--num_train_speakers 4 --utts_per_speaker 6",
        "--data2vec_args", "--max_epoch 2 --batch_bins 200000",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for dset in ("train", "dev", "test"):
        assert (recipe / "data" / dset / "wav.scp").exists()
        assert (recipe / "dump" / "raw" / dset / "utt2num_samples").exists()
    assert len((recipe / "data" / "train" / "wav.scp").read_text().splitlines()) == 24
    assert (recipe / "exp" / "ssl_stats_16000" / "train" / "feats_stats.npz").exists()
    ssl = recipe / "exp" / "ssl_data2vec"
    assert (ssl / "2epoch.pth").exists() and (ssl / "config.yaml").exists()
    assert "2epoch results" in (ssl / "train.log").read_text()

    again = run(recipe)
    assert again.returncode == 0
    assert again.stdout.count("skip:") >= 6, again.stdout


def test_unknown_option_and_missing_value_fail(recipe):
    bad = run(recipe, "--no_such_option", "1")
    assert bad.returncode != 0 and "unknown option --no_such_option" in bad.stderr
    assert "needs a value" in run(recipe, "--stage").stderr
    assert "Usage:" in run(recipe, "--help").stdout
