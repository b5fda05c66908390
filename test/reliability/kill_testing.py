"""kill -9 of a whole process tree: start a command in its own session, wait for a condition on
the files it writes, freeze the process group (SIGSTOP), check the condition again on the frozen
files, then SIGKILL the group and make sure that nothing of it survives.

The freeze makes the kill point exact: what the second check saw is what the kill leaves, however
slow the machine or late the poll, so a test can assert that state (e.g. "epoch 2 under way, its
results not yet logged") without timing anything."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

POLL_S = 0.01


def group_states(pgid: int) -> Dict[int, str]:
    """``{pid: state}`` (R, S, D, T, ...) of the live (not zombie) processes of the process group ``pgid``."""
    states = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # /proc/<pid>/stat: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            states[int(proc.name)] = fields[0]
    return states


def group_members(pgid: int) -> List[int]:
    """Live (not zombie) processes of the process group ``pgid``."""
    return sorted(group_states(pgid))


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def freeze_group(pgid: int, timeout_s: float = 30.0) -> None:
    """SIGSTOP to the process group ``pgid``; returns once every member is stopped.

    killpg only queues the signal: a process running on another core (or inside a disk write) stops
    a little later, so this waits for state T of each member before anyone reads their files.
    A process forked meanwhile is stopped too (the kernel restarts a fork that a group signal hits).
    """
    signal_group(pgid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout_s
    while True:
        running = [pid for pid, state in group_states(pgid).items() if state not in "Tt"]
        if not running:
            return
        assert time.monotonic() < deadline, f"processes {running} of group {pgid} did not stop on SIGSTOP"
        time.sleep(POLL_S)


def start_in_new_session(
    command: Sequence[str], cwd: Path, log_path: Path, env: Optional[Dict[str, str]] = None
) -> subprocess.Popen:
    """Starts ``command`` as the leader of a new session and process group, output to ``log_path``."""
    with open(log_path, "w") as log:
        return subprocess.Popen(list(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)


def kill_group(proc: subprocess.Popen, timeout_s: float = 30.0) -> int:
    """SIGKILL to every process of ``proc``'s group (stopped ones included); waits until none is left.

    Returns:
        how many processes the group had when it was killed.
    Raises:
        AssertionError: some process of the group outlived the kill.
    """
    members = group_members(proc.pid)
    signal_group(proc.pid, signal.SIGKILL)
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
    """Runs ``command`` until ``ready()`` holds on its frozen process group, then kill -9 of the group.

    Args:
        command: the command (its own session and process group).
        cwd: where it runs.
        log_path: its stdout and stderr.
        ready: polled every 10 ms while the command runs; when it holds, the group is frozen and
            ``ready()`` asked again: the kill comes only if it still holds, so the state it
            describes is the state the kill leaves. If the command moved past it meanwhile, the
            group runs on and polling goes on.
        what: the kill point, for messages.
        timeout_s: how long to wait for ``ready``.
        env: its environment (default: this one).
    Returns:
        how many processes were killed.
    Raises:
        AssertionError: the command ended, or ``timeout_s`` passed, before ``ready()`` held on the
            frozen group.
    """
    proc = start_in_new_session(command, cwd, log_path, env)
    deadline = time.monotonic() + timeout_s
    missed = 0  # times ready() held while running but no longer once frozen
    try:
        while True:
            if ready():
                freeze_group(proc.pid)
                if ready():
                    break
                missed += 1
                signal_group(proc.pid, signal.SIGCONT)
            code = proc.poll()
            note = f" ({missed} times it held but not once the group was frozen)" if missed else ""
            assert code is None, f"{what}: the command ended (code {code}) before the kill point{note}; see {log_path}"
            assert time.monotonic() < deadline, f"{what}: not reached in {timeout_s:.0f} s{note}; see {log_path}"
            time.sleep(POLL_S)
    finally:
        killed = kill_group(proc)
    return killed
