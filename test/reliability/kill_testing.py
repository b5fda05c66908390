"""kill -9 of a whole process tree: start a command in its own session, wait for a condition on
the files it writes, then SIGKILL its process group and make sure that nothing of it survives."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

POLL_S = 0.01


def group_members(pgid: int) -> List[int]:
    """Live (not zombie) processes of the process group ``pgid``."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # /proc/<pid>/stat: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(proc.name))
    return members


def start_in_new_session(
    command: Sequence[str], cwd: Path, log_path: Path, env: Optional[Dict[str, str]] = None
) -> subprocess.Popen:
    """Starts ``command`` as the leader of a new session and process group, output to ``log_path``."""
    with open(log_path, "w") as log:
        return subprocess.Popen(list(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)


def kill_group(proc: subprocess.Popen, timeout_s: float = 30.0) -> int:
    """SIGKILL to every process of ``proc``'s group; waits until none is left.

    Returns:
        how many processes the group had when it was killed.
    Raises:
        AssertionError: some process of the group outlived the kill.
    """
    members = group_members(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while group_members(proc.pid):
        assert time.monotonic() < deadline, f"processes {group_members(proc.pid)} survived kill -9 of group {proc.pid}"
        time.sleep(POLL_S)
    return len(members)


def run_and_kill_when(
    command: Sequence[str],
    cwd: Path,
    log_path: Path,
    ready: Callable[[], bool],
    what: str,
    timeout_s: float,
    env: Optional[Dict[str, str]] = None,
) -> int:
    """Runs ``command`` until ``ready()`` holds, then kill -9 of its whole process group.

    Args:
        command: the command (its own session and process group).
        cwd: where it runs.
        log_path: its stdout and stderr.
        ready: polled every 10 ms.
        what: the kill point, for messages.
        timeout_s: how long to wait for ``ready``.
        env: its environment (default: this one).
    Returns:
        how many processes were killed.
    Raises:
        AssertionError: the command ended, or ``timeout_s`` passed, before ``ready()``.
    """
    proc = start_in_new_session(command, cwd, log_path, env)
    deadline = time.monotonic() + timeout_s
    try:
        while not ready():
            code = proc.poll()
            assert code is None, f"{what}: the command ended (code {code}) before the kill point; see {log_path}"
            assert time.monotonic() < deadline, f"{what}: not reached in {timeout_s:.0f} s; see {log_path}"
            time.sleep(POLL_S)
    finally:
        killed = kill_group(proc)
    return killed
