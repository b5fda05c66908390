"""Slurm backend (Kaldi's slurm.pl): the jobs become one Slurm job array, submitted with
``sbatch --wait`` so that the call returns when every task has ended.

Each task runs ``python -m espnet_trinet.jobs.task`` (same interpreter as the caller, so the
cluster nodes need the same shared file system), which writes the usual per-job log; Slurm's
own output for task N goes to ``<log dir>/q/<name>-N.out``.
"""

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_trinet.jobs.job_range import JobRange, substitute
from espnet_trinet.jobs.log_rotation import rotate_log
from espnet_trinet.jobs.task import read_exit_code


class SlurmError(RuntimeError):
    """sbatch could not submit the job array."""


def resource_options(
    num_threads: Optional[int],
    mem: Optional[str],
    gpu: Optional[int],
    time: Optional[str],
    num_nodes: Optional[int] = None,
) -> List[str]:
    """sbatch options for the generic resource flags of the job runner."""
    options = []
    if num_threads:
        options.append(f"--cpus-per-task={num_threads}")
    if mem:
        options.append(f"--mem={mem}")
    if gpu:
        options.append(f"--gres=gpu:{gpu}")
    if time:
        options.append(f"--time={time}")
    if num_nodes and num_nodes > 1:
        options += [f"--nodes={num_nodes}", "--ntasks-per-node=1"]
    return options


def batch_script(command: str, log_pattern: str, var: str) -> str:
    """Text of the batch script run by every task of the array."""
    task = [
        sys.executable,
        "-m",
        "espnet_trinet.jobs.task",
        "--var",
        var,
        "--log_pattern",
        str(Path(log_pattern).resolve()),
        "--command",
        command,
    ]
    return f"#!/bin/bash\ncd {shlex.quote(str(Path.cwd()))}\nexec {shlex.join(task)}\n"


def run_slurm(
    command: str,
    log_pattern: str,
    jobs: JobRange,
    max_parallel: Optional[int] = None,
    sbatch_options: Sequence[str] = (),
    sbatch: str = "sbatch",
) -> Dict[int, int]:
    """Submits the jobs as an array, waits for them, and reads each exit code from its log.

    Args:
        command: shell command containing ``jobs.var``.
        log_pattern: log path containing ``jobs.var``.
        jobs: the job ids (the array indices).
        max_parallel: at most this many tasks at once (``--array=a-b%M``).
        sbatch_options: extra sbatch options, e.g. ``["--partition=gpu", "--mem=8G"]``.
        sbatch: the sbatch executable.
    Returns:
        ``{job_id: exit_code}``; a task whose log has no exit code (killed by Slurm: time or memory
        limit, node failure) counts as -1.
    Raises:
        SlurmError: sbatch failed before any task ran.
    """
    first_log = Path(substitute(log_pattern, jobs.var, jobs.start))
    queue_dir = first_log.parent / "q"
    queue_dir.mkdir(parents=True, exist_ok=True)
    name = Path(log_pattern).name.replace(f".{jobs.var}", "").replace(jobs.var, "").removesuffix(".log") or "job"
    script = queue_dir / f"{name}.sh"
    script.write_text(batch_script(command, log_pattern, jobs.var))
    for job in jobs.ids:
        # The log of an earlier run is kept (x.log.1), but not under the name read below: its exit
        # code must not be mistaken for this run's when a task dies before writing one.
        rotate_log(Path(substitute(log_pattern, jobs.var, job)))
    array = f"{jobs.start}-{jobs.end}" + (f"%{max_parallel}" if max_parallel else "")
    submit = [
        sbatch,
        "--parsable",
        "--wait",
        f"--array={array}",
        f"--job-name={name}",
        f"--output={queue_dir / name}-%a.out",
        *sbatch_options,
        str(script),
    ]
    proc = subprocess.run(submit, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    codes = {}
    for job in jobs.ids:
        code = read_exit_code(Path(substitute(log_pattern, jobs.var, job)))
        codes[job] = -1 if code is None else code
    if proc.returncode != 0 and all(c == -1 for c in codes.values()):
        raise SlurmError(f"{shlex.join(submit)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return codes
