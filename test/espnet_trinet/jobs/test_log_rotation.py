from espnet_trinet.jobs.job_range import JobRange
from espnet_trinet.jobs.local_backend import run_local
from espnet_trinet.jobs.log_rotation import rotate_log


def test_rotation_shifts_older_logs_and_drops_the_oldest(tmp_path):
    log = tmp_path / "job.1.log"
    assert rotate_log(log) is None  # nothing to keep
    for run in ("first", "second", "third"):
        log.write_text(run)
        assert rotate_log(log, keep=2) == tmp_path / "job.1.log.1"
    assert not log.exists()
    assert (tmp_path / "job.1.log.1").read_text() == "third"
    assert (tmp_path / "job.1.log.2").read_text() == "second"
    assert not (tmp_path / "job.1.log.3").exists()  # "first" was the oldest beyond keep=2


def test_rerun_of_a_job_keeps_the_log_of_the_earlier_run(tmp_path):
    log = tmp_path / "work.JOB.log"
    run_local("echo run one, job JOB; exit 3", str(log), JobRange("JOB", 1, 2))
    assert run_local("echo run two, job JOB", str(log), JobRange("JOB", 1, 2)) == {1: 0, 2: 0}
    for job in (1, 2):
        old = (tmp_path / f"work.{job}.log.1").read_text()
        new = (tmp_path / f"work.{job}.log").read_text()
        assert f"run one, job {job}" in old and "# Ended (code 3)" in old
        assert f"run two, job {job}" in new and "run one" not in new
