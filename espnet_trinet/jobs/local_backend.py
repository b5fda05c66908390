"""Local backend (Kaldi's run.pl): the jobs of an array run as parallel processes on this machine."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional

from espnet_trinet.jobs.job_range import JobRange, substitute
from espnet_trinet.jobs.task import run_logged


def run_local(command: str, log_pattern: str, jobs: JobRange, max_parallel: Optional[int] = None) -> Dict[int, int]:
    """Runs every job, at most ``max_parallel`` at a time, each with its own log.

    Args:
        command: shell command containing ``jobs.var``.
        log_pattern: log path containing ``jobs.var`` (required when there is more than one job).
        jobs: the job ids.
        max_parallel: concurrency limit (default: all jobs at once, as run.pl).
    Returns:
        ``{job_id: exit_code}``.
    """
    ids = jobs.ids
    workers = max(1, min(len(ids), max_parallel or len(ids)))
    # Threads suffice: each one waits on its own subprocess.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            job: pool.submit(
                run_logged, substitute(command, jobs.var, job), Path(substitute(log_pattern, jobs.var, job))
            )
            for job in ids
        }
        return {job: future.result() for job, future in futures.items()}
