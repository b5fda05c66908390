import re
import subprocess
import sys

import pytest
import yaml

from espnet_trinet.bin.datadir import main as datadir_main
from espnet_trinet.bin.kmeans_labels import main
from trinet_testing import MINI_CONF, write_audio_dir

STUDENT = MINI_CONF / "pretrain_data2vec_tiny.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = write_audio_dir(tmp_path_factory.mktemp("kmeans_cli") / "train", 6, seed=4)
    keys = [line.split()[0] for line in (path / "wav.scp").read_text().splitlines()]
    (path / "utt2spk").write_text("".join(f"{k} {k}\n" for k in keys))
    return path


@pytest.fixture(scope="module")
def kmeans_dir(data):
    out = data.parent / "L" / "kmeans"
    assert main(["learn", "--data_dir", str(data), "--student_config", str(STUDENT), "--features", "mfcc",
                 "--num_clusters", "5", "--sample_fraction", "1.0", "--max_sample_frames", "1000000", "--seed", "0",
                 "--output_dir", str(out), "--show_progress", "false"]) == 0
    return out


def _error_lines(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if "ERROR" in line]


def test_learn_dump_merge_verify_as_the_recipe_calls_them(data, kmeans_dir, capsys):
    assert datadir_main(["split", "--per_utt", str(data), "2"]) == 0
    root = kmeans_dir.parent / "train"
    parts = [root / "split2utt" / n for n in ("1", "2")]
    for n, part in zip(("1", "2"), parts):
        assert main(["dump", "--data_dir", str(data / "split2utt" / n), "--kmeans_dir", str(kmeans_dir),
                     "--output_dir", str(part), "--show_progress", "false"]) == 0
    assert main(["merge", "--output_dir", str(root), *map(str, parts)]) == 0
    assert main(["verify", "--labels_dir", str(root), "--kmeans_dir", str(kmeans_dir), "--data_dir", str(data)]) == 0
    info = yaml.safe_load((root / "labels_info.yaml").read_text())
    assert info["num_utterances"] == 6 and info["num_classes"] == 5
    assert _error_lines(capsys) == []


@pytest.mark.parametrize("case, match", [
    ("missing_data", "wav.scp does not exist"),
    ("empty_data", "wav.scp is empty"),
    ("corrupt_audio", r"utterance 'utt001' \(.*bad.wav\): cannot read its audio: unreadable_audio"),
    ("missing_kmeans", "kmeans_info.yaml does not exist: learn the k-means first"),
    ("ssl_without_model", "features ssl need the trained SSL model: give --ssl_model_file"),
    ("missing_student", "the student config .* does not exist"),
])
def test_bad_input_fails_with_one_clear_line(data, kmeans_dir, tmp_path, capsys, case, match):
    bad = tmp_path / "bad_data"
    bad.mkdir()
    learn = ["learn", "--data_dir", str(bad), "--student_config", str(STUDENT), "--features", "mfcc",
             "--output_dir", str(tmp_path / "km"), "--show_progress", "false"]
    if case == "missing_data":
        argv = learn
    elif case == "empty_data":
        (bad / "wav.scp").write_text("")
        argv = learn
    elif case == "corrupt_audio":
        (tmp_path / "bad.wav").write_bytes(b"RIFF....garbage")
        lines = (data / "wav.scp").read_text().splitlines()
        (bad / "wav.scp").write_text(lines[0] + "\n" + f"utt001 {tmp_path / 'bad.wav'}\n")
        argv = learn
    elif case == "missing_kmeans":
        argv = ["dump", "--data_dir", str(data), "--kmeans_dir", str(tmp_path / "none"), "--output_dir",
                str(tmp_path / "out")]
    elif case == "ssl_without_model":
        argv = ["learn", "--data_dir", str(data), "--student_config", str(STUDENT), "--features", "ssl",
                "--layer", "2", "--output_dir", str(tmp_path / "km")]
    else:
        argv = ["learn", "--data_dir", str(data), "--student_config", str(tmp_path / "none.yaml"), "--features",
                "mfcc", "--output_dir", str(tmp_path / "km")]
    assert main(argv) == 1
    errors = _error_lines(capsys)
    assert len(errors) == 1, errors
    assert re.search(match, errors[0]), errors[0]


def test_stale_labels_fail_verify_with_the_fix(data, kmeans_dir, tmp_path, capsys):
    out = tmp_path / "labels"
    assert main(["dump", "--data_dir", str(data), "--kmeans_dir", str(kmeans_dir), "--output_dir", str(out),
                 "--show_progress", "false"]) == 0
    other = tmp_path / "other"
    assert main(["learn", "--data_dir", str(data), "--student_config", str(STUDENT), "--features", "mfcc",
                 "--num_clusters", "5", "--seed", "3", "--output_dir", str(other), "--show_progress", "false"]) == 0
    capsys.readouterr()
    assert main(["verify", "--labels_dir", str(out), "--kmeans_dir", str(other)]) == 1
    (error,) = _error_lines(capsys)
    assert "stale labels" in error and "--force true" in error
    assert main(["dump", "--data_dir", str(data), "--kmeans_dir", str(other), "--output_dir", str(out),
                 "--force", "true", "--show_progress", "false"]) == 0
    assert main(["verify", "--labels_dir", str(out), "--kmeans_dir", str(other), "--data_dir", str(data)]) == 0


@pytest.mark.slow
def test_the_module_runs_as_a_program(kmeans_dir, tmp_path):
    result = subprocess.run([sys.executable, "-m", "espnet_trinet.bin.kmeans_labels", "verify", "--labels_dir",
                             str(tmp_path), "--kmeans_dir", str(kmeans_dir)], capture_output=True, text=True)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "holds no finished labels" in errors[0], result.stderr[-2000:]
    usage = subprocess.run([sys.executable, "-m", "espnet_trinet.bin.kmeans_labels", "--help"], capture_output=True,
                           text=True)
    assert usage.returncode == 0 and all(cmd in usage.stdout for cmd in ("learn", "dump", "merge", "verify"))
