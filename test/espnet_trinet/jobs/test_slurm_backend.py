"""The Slurm backend against a fake sbatch that runs the array tasks itself."""

import os

import pytest

from espnet_trinet.jobs import JobRange, JobsFailed, Resources, run_jobs
from espnet_trinet.jobs.slurm_backend import SlurmError, resource_options

FAKE_SBATCH = r"""#!/bin/bash
# Records its arguments, then runs every task of --array=a-b[%m] like Slurm would.
echo "$@" > "$FAKE_SBATCH_ARGS"
script="${@: -1}"
status=0
for arg in "$@"; do
  case "$arg" in --array=*) range="${arg#--array=}"; range="${range%%\%*}";; esac
done
for ((i=${range%-*}; i<=${range#*-}; i++)); do
  SLURM_ARRAY_TASK_ID=$i bash "$script" || status=1
done
echo 4242
exit $status
"""


@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SBATCH_ARGS", str(tmp_path / "sbatch_args"))
    return tmp_path / "sbatch_args"


def test_array_submission_and_logs(fake_sbatch, tmp_path):
    log = str(tmp_path / "exp" / "log" / "work.JOB.log")
    run_jobs(
        "echo part JOB",
        log,
        JobRange("JOB", 1, 3),
        backend="slurm",
        max_parallel=2,
        resources=Resources(num_threads=2, mem="4G", gpu=1, extra=["--partition=cpu"]),
    )
    args = fake_sbatch.read_text().split()
    assert {
        "--parsable",
        "--wait",
        "--array=1-3%2",
        "--cpus-per-task=2",
        "--mem=4G",
        "--gres=gpu:1",
        "--partition=cpu",
        "--job-name=work",
    } <= set(args)
    assert args[-1] == str(tmp_path / "exp" / "log" / "q" / "work.sh")
    for job in (1, 2, 3):
        text = (tmp_path / "exp" / "log" / f"work.{job}.log").read_text()
        assert f"part {job}" in text and "# Ended (code 0)" in text


def test_failed_task_is_named(fake_sbatch, tmp_path):
    log = str(tmp_path / "log" / "t.JOB.log")
    with pytest.raises(JobsFailed, match=r"1 / 2 failed, see .*t\.2\.log"):
        run_jobs("test JOB -eq 1", log, JobRange("JOB", 1, 2), backend="slurm")


def test_log_of_an_earlier_run_is_kept_but_not_taken_for_this_runs(tmp_path, monkeypatch):
    # Task 2 is lost before it writes its log (node failure): the earlier run's "code 0" must not count.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text('#!/bin/bash\nSLURM_ARRAY_TASK_ID=1 bash "${@: -1}"\necho 4243\n')
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "t.2.log").write_text("# true\n# Ended (code 0) at an earlier run\n")
    with pytest.raises(JobsFailed, match=r"1 / 2 failed, see .*t\.2\.log$"):
        run_jobs("true", str(tmp_path / "t.JOB.log"), JobRange("JOB", 1, 2), backend="slurm")
    assert (tmp_path / "t.2.log.1").read_text().endswith("# Ended (code 0) at an earlier run\n")


def test_sbatch_failure(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/bash\necho 'sbatch: error: invalid partition' >&2\nexit 1\n")
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SlurmError, match="invalid partition"):
        run_jobs("true", str(tmp_path / "x.JOB.log"), JobRange("JOB", 1, 2), backend="slurm")


def test_resource_options():
    assert resource_options(None, None, None, None) == []
    assert resource_options(4, "8G", 2, "1:00:00") == [
        "--cpus-per-task=4",
        "--mem=8G",
        "--gres=gpu:2",
        "--time=1:00:00",
    ]


def test_multi_node_jobs_ask_for_one_task_per_node():
    assert resource_options(None, None, 8, None, num_nodes=2) == ["--gres=gpu:8", "--nodes=2", "--ntasks-per-node=1"]
    assert resource_options(None, None, None, None, num_nodes=1) == []
