import time

from espnet_trinet.jobs.job_range import JobRange
from espnet_trinet.jobs.local_backend import run_local


def test_runs_in_parallel_with_a_limit(tmp_path):
    log = str(tmp_path / "sleep.JOB.log")
    start = time.time()
    codes = run_local("sleep 0.5; echo job JOB", log, JobRange("JOB", 1, 4), max_parallel=2)
    elapsed = time.time() - start
    assert codes == {1: 0, 2: 0, 3: 0, 4: 0}
    assert 0.9 < elapsed < 1.9  # two waves of two, not four at once nor one by one
    assert "job 3" in (tmp_path / "sleep.3.log").read_text()
