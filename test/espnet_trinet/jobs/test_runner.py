import pytest

from espnet_trinet.jobs import JobRange, JobsFailed, run_jobs


def test_success_and_failure_local(tmp_path):
    run_jobs("echo ok JOB", str(tmp_path / "ok.JOB.log"), JobRange("JOB", 1, 2))
    with pytest.raises(JobsFailed) as err:
        run_jobs("exit JOB", str(tmp_path / "bad.JOB.log"), JobRange("JOB", 0, 2))
    assert [p.name for p in err.value.logs] == ["bad.1.log", "bad.2.log"]
    assert "2 / 3 failed" in str(err.value)


def test_shared_log_and_unknown_backend_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share the log"):
        run_jobs("true", str(tmp_path / "one.log"), JobRange("JOB", 1, 2))
    with pytest.raises(ValueError, match="unknown backend"):
        run_jobs("true", str(tmp_path / "x.log"), JobRange("JOB", 1, 1), backend="sge")
