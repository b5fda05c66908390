"""One job of an array, run with its log: the command, host, start time, output, end time and
exit code, in the format of Kaldi's run.pl logs (``# Ended (code N) at ...``).

Both backends use it: the local backend calls run_logged directly; a Slurm array task runs
``python -m espnet_trinet.jobs.task`` with its task id taken from ``SLURM_ARRAY_TASK_ID``.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from espnet_trinet.jobs.job_range import substitute
from espnet_trinet.jobs.log_rotation import rotate_log

_ENDED = re.compile(r"^# Ended \(code (?P<code>-?\d+)\)")


def run_logged(command: str, log_path: Path) -> int:
    """Runs ``command`` with bash, output (stdout and stderr) and bookkeeping to ``log_path``.

    Args:
        command: shell command line.
        log_path: the log file (its folder is created). The log of an earlier run (killed, failed
            or finished) is kept as ``<log_path>.1`` (see log_rotation).
    Returns:
        the exit code (negative: killed by that signal).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log_path)
    start = time.time()
    with open(log_path, "w") as log:
        log.write(f"# {command}\n# Started at {time.ctime(start)} on {socket.gethostname()}\n#\n")
        log.flush()
        code = subprocess.run(
            ["bash", "-c", command], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        ).returncode
        elapsed = time.time() - start
        log.write(f"# Accounting: time={elapsed:.0f} threads=1\n")
        log.write(f"# Ended (code {code}) at {time.ctime()}, elapsed time {elapsed:.1f} s\n")
    return code


def read_exit_code(log_path: Path) -> Optional[int]:
    """The exit code recorded at the end of a log, or None if the job never finished."""
    if not log_path.exists():
        return None
    code = None
    with open(log_path, errors="replace") as f:
        for line in f:
            match = _ENDED.match(line)
            if match:
                code = int(match.group("code"))
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for one array task: ``--var JOB --log_pattern L --command C``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--var", required=True, help="variable replaced by the task id, e.g. JOB")
    parser.add_argument("--task_id", type=int, help="task id (default: $SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--log_pattern", required=True, help="log path containing the variable")
    parser.add_argument("--command", required=True, help="shell command containing the variable")
    args = parser.parse_args(argv)
    task_id = args.task_id if args.task_id is not None else int(os.environ["SLURM_ARRAY_TASK_ID"])
    log = Path(substitute(args.log_pattern, args.var, task_id))
    code = run_logged(substitute(args.command, args.var, task_id), log)
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


if __name__ == "__main__":
    sys.exit(main())
