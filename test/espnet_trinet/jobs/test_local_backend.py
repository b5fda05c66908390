import sys

from espnet_trinet.jobs.job_range import JobRange
from espnet_trinet.jobs.local_backend import run_local

# One job: logs "start <id>", waits until the log shows a second job running (or every job started,
# for the last one, which may have no partner left), lingers so that a third job the backend would
# run at once shows up in the log meanwhile, then logs "end <id>". A backend that runs the jobs one
# by one never shows a second one: the job gives up after 60 s, and the jobs after it at once.
JOB = """
import sys, time
log, job, num_jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def events():
    with open(log) as f:
        return [line.split()[0] for line in f]
def write(event):
    with open(log, "a") as f:  # O_APPEND: each line lands whole
        f.write(f"{event} {job}\\n")
write("start")
deadline = time.monotonic() + 60
while True:
    seen = events()
    if "alone" in seen:
        sys.exit(1)
    if seen.count("start") - seen.count("end") >= 2 or seen.count("start") == num_jobs:
        break
    if time.monotonic() > deadline:
        write("alone")
        sys.exit(1)
    time.sleep(0.01)
time.sleep(0.2)
write("end")
print(f"job {job}")
"""


def max_running(events):
    """The most jobs running at once, from the "start"/"end" events in the order they were written."""
    running = peak = 0
    for event in events:
        running += {"start": 1, "end": -1}.get(event, 0)
        peak = max(peak, running)
    return peak


def test_runs_in_parallel_with_a_limit(tmp_path):
    (tmp_path / "job.py").write_text(JOB)
    log = tmp_path / "events"
    log.touch()
    command = f"{sys.executable} {tmp_path}/job.py {log} JOB 4"
    codes = run_local(command, str(tmp_path / "job.JOB.log"), JobRange("JOB", 1, 4), max_parallel=2)
    events = [line.split()[0] for line in log.read_text().splitlines()]
    assert codes == {1: 0, 2: 0, 3: 0, 4: 0}, events  # a job that never saw a second one logs "alone"
    assert events.count("start") == events.count("end") == 4, events
    assert max_running(events) == 2, events  # two at a time: never more, and not one by one
    assert "job 3" in (tmp_path / "job.3.log").read_text()
