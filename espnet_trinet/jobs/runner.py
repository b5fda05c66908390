"""Runs a job array on the chosen backend and turns failures into one error naming the logs."""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_trinet.jobs.job_range import JobRange, substitute
from espnet_trinet.jobs.local_backend import run_local
from espnet_trinet.jobs.slurm_backend import resource_options, run_slurm

BACKENDS = ("local", "slurm")


class JobsFailed(RuntimeError):
    """Some jobs exited non-zero.

    Args:
        logs: the logs of the failed jobs.
        total: number of jobs.
    """

    def __init__(self, logs: List[Path], total: int):
        self.logs = logs
        shown = ", ".join(str(p) for p in logs[:5]) + (" ..." if len(logs) > 5 else "")
        super().__init__(f"{len(logs)} / {total} failed, see {shown}")


@dataclass
class Resources:
    """What each job needs; the local backend ignores it, Slurm turns it into sbatch options."""

    num_threads: Optional[int] = None
    mem: Optional[str] = None
    gpu: Optional[int] = None
    time: Optional[str] = None
    num_nodes: Optional[int] = None  # >1: one task per node (espnet2.bin.launch runs srun inside)
    extra: Sequence[str] = field(default_factory=list)


def run_jobs(
    command: str,
    log_pattern: str,
    jobs: JobRange,
    backend: str = "local",
    max_parallel: Optional[int] = None,
    resources: Resources = Resources(),
) -> None:
    """Runs the jobs and waits for all of them.

    Args:
        command: shell command; ``jobs.var`` is replaced by the job number.
        log_pattern: log path with ``jobs.var`` in it when there are several jobs.
        jobs: job ids.
        backend: ``local`` or ``slurm``.
        max_parallel: at most this many jobs at once.
        resources: per-job resources (used by Slurm).
    Raises:
        JobsFailed: naming the log of every failed job.
    """
    if len(jobs.ids) > 1 and jobs.var not in log_pattern:
        raise ValueError(f"{len(jobs.ids)} jobs would share the log {log_pattern}: put {jobs.var} in its name")
    if backend == "local":
        codes = run_local(command, log_pattern, jobs, max_parallel)
    elif backend == "slurm":
        options = resource_options(
            resources.num_threads, resources.mem, resources.gpu, resources.time, resources.num_nodes
        )
        codes = run_slurm(command, log_pattern, jobs, max_parallel, [*options, *resources.extra])
    else:
        raise ValueError(f"unknown backend '{backend}'; choose from {BACKENDS}")
    failed = [Path(substitute(log_pattern, jobs.var, job)) for job, code in sorted(codes.items()) if code != 0]
    if failed:
        raise JobsFailed(failed, len(codes))
    logging.debug("%d jobs succeeded (%s)", len(codes), log_pattern)
