from espnet_trinet.jobs.job_range import JobRange
from espnet_trinet.jobs.local_backend import run_local


def test_runs_in_parallel_with_a_limit(tmp_path):
    # Each job marks itself as running, counts the running jobs half-way through, then unmarks
    # itself: the counts show both the concurrency and its limit, without timing the jobs.
    running = tmp_path / "running"
    running.mkdir()
    command = (f"touch {running}/JOB; sleep 0.3; ls {running} | wc -l > {tmp_path}/seen.JOB; "
               f"sleep 0.3; rm {running}/JOB; echo job JOB")
    codes = run_local(command, str(tmp_path / "job.JOB.log"), JobRange("JOB", 1, 4), max_parallel=2)
    assert codes == {1: 0, 2: 0, 3: 0, 4: 0}
    seen = [int((tmp_path / f"seen.{job}").read_text()) for job in range(1, 5)]
    assert max(seen) == 2, seen  # two at a time: never more, and not one by one
    assert "job 3" in (tmp_path / "job.3.log").read_text()
