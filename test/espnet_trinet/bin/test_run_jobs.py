import subprocess
import sys

import pytest

from espnet_trinet.bin.run_jobs import main, split_rest


def test_split_rest():
    jobs, log, words = split_rest(["JOB=1:3", "exp/x.JOB.log", "--", "echo", "JOB"], None)
    assert (jobs.var, jobs.ids, log, words) == ("JOB", [1, 2, 3], "exp/x.JOB.log", ["echo", "JOB"])
    jobs, log, words = split_rest(["exp/x.JOB.log", "echo", "hi"], 2)
    assert jobs.ids == [1, 2] and words == ["echo", "hi"]
    with pytest.raises(ValueError, match="contradicts"):
        split_rest(["JOB=1:3", "x.JOB.log", "true"], 2)
    with pytest.raises(ValueError, match="missing COMMAND"):
        split_rest(["x.log", "--"], None)


def test_success_pipeline_and_logs(tmp_path):
    log = tmp_path / "log" / "up.JOB.log"
    assert main(["--max_parallel", "2", "JOB=1:3", str(log), "--", "echo", "word JOB", "|", "tr", "a-z", "A-Z"]) == 0
    text = (tmp_path / "log" / "up.3.log").read_text().splitlines()
    assert text[0] == "# echo 'word 3' | tr a-z A-Z" and "WORD 3" in text and text[-1].startswith("# Ended (code 0)")


def test_failure_names_the_log(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet_trinet.bin.run_jobs",
            "JOB=1:2",
            str(tmp_path / "f.JOB.log"),
            "--",
            "test JOB -ne 2",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert f"1 / 2 failed, see {tmp_path / 'f.2.log'}" in proc.stderr
    assert "# Ended (code 1)" in (tmp_path / "f.2.log").read_text()
