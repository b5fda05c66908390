"""kill -9 of a job array (utils/run.pl, the local job runner) while one job has finished and the
other is still running: the same command again runs only the unfinished job (utils/run_once.sh,
as asr.sh wraps its decoding jobs) and keeps the killed run's logs."""

import os
import subprocess
import sys

import pytest

from kill_testing import run_and_kill_when
from trinet_testing import REPO

pytestmark = pytest.mark.reliability

UTILS = REPO / "egs2" / "TEMPLATE" / "utils"
# Job 2 waits for the file "go", so that the first run is killed while it runs: its folder out.2,
# made before the wait, shows that it has started.
JOB = "while [ JOB = 2 ] && [ ! -f go ]; do sleep 0.05; done; date +%s%N > out.JOB/result"


def job_array(job=JOB):
    return [str(UTILS / "run.pl"), "JOB=1:2", "log/work.JOB.log",
            str(UTILS / "run_once.sh"), "out.JOB/.done", "bash", "-c", f"mkdir -p out.JOB; {job}"]


@pytest.fixture
def env():
    return {**os.environ, "PYTHON": sys.executable}


def job_1_ended_job_2_waiting(tmp_path):
    """Job 1's log ends (the job runner writes it after run_once.sh made out.1/.done) and job 2 has
    made out.2, so that it waits for "go"."""
    log_1 = tmp_path / "log" / "work.1.log"
    return log_1.exists() and "# Ended (code 0)" in log_1.read_text() and (tmp_path / "out.2").is_dir()


def test_rerun_after_kill_runs_only_the_unfinished_job(tmp_path, env):
    killed = run_and_kill_when(job_array(), tmp_path, tmp_path / "first.out", env=env, timeout_s=60,
                               what="job 1 finished, job 2 running",
                               ready=lambda: job_1_ended_job_2_waiting(tmp_path))
    assert killed >= 3  # run.pl's runner and job 2's shells at least
    assert (tmp_path / "out.1" / ".done").exists()
    assert not (tmp_path / "out.2" / "result").exists()
    result_1 = (tmp_path / "out.1" / "result").read_text()

    (tmp_path / "go").touch()
    again = subprocess.run(job_array(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out.1" / "result").read_text() == result_1  # not run again
    assert (tmp_path / "out.2" / "result").exists() and (tmp_path / "out.2" / ".done").exists()
    logs = {name: (tmp_path / "log" / name).read_text() for name in os.listdir(tmp_path / "log")}
    assert sorted(logs) == ["work.1.log", "work.1.log.1", "work.2.log", "work.2.log.1"]
    assert "# Ended (code 0)" in logs["work.1.log.1"]  # the killed run's logs are kept
    assert "# Ended" not in logs["work.2.log.1"]  # job 2 was killed before it ended
    assert "skip, finished by an earlier run (out.1/.done exists)" in logs["work.1.log"]
    assert "# Ended (code 0)" in logs["work.2.log"] and "skip" not in logs["work.2.log"]


def test_failed_job_leaves_no_marker_and_runs_again(tmp_path, env):
    failing = job_array("[ JOB = 1 ] || [ -f go ] || exit 7; echo ok > out.JOB/result")
    first = subprocess.run(failing, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode != 0 and "work.2.log" in first.stderr
    assert "# Ended (code 7)" in (tmp_path / "log" / "work.2.log").read_text()
    assert (tmp_path / "out.1" / ".done").exists() and not (tmp_path / "out.2" / ".done").exists()
    (tmp_path / "go").touch()
    again = subprocess.run(failing, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out.2" / "result").read_text() == "ok\n"


def test_run_once_without_a_command_says_how_to_call_it():
    usage = subprocess.run([str(UTILS / "run_once.sh"), "marker"], capture_output=True, text=True)
    assert usage.returncode == 1 and "Usage: " in usage.stderr and "<done_marker> <command>" in usage.stderr
