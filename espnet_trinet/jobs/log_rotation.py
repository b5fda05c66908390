"""Keeps the log of an earlier run of a job when the job runs again.

A run that was killed or failed leaves the only record of what happened in its log; the re-run
must not overwrite it. ``x.log`` becomes ``x.log.1`` (the previous ``x.log.1`` becomes
``x.log.2``, and so on), as logrotate does. The number goes after ``.log`` rather than before
it (ESPnet's launcher writes ``train.1.log``) because job logs already carry the job number
there: ``asr_inference.2.log`` is job 2, ``asr_inference.2.log.1`` its previous run.
"""

from pathlib import Path
from typing import Optional

KEEP_OLD_LOGS = 100


def rotated_name(log_path: Path, generation: int) -> Path:
    """``x.log`` -> ``x.log.<generation>``."""
    return log_path.with_name(f"{log_path.name}.{generation}")


def rotate_log(log_path: Path, keep: int = KEEP_OLD_LOGS) -> Optional[Path]:
    """Moves an existing ``log_path`` to ``<log_path>.1``, shifting older ones up by one.

    Args:
        log_path: the log a job is about to write.
        keep: old logs kept; the oldest beyond it is deleted.
    Returns:
        where the existing log went, or None when there was none.
    """
    if not log_path.exists():
        return None
    rotated_name(log_path, keep).unlink(missing_ok=True)
    for generation in range(keep - 1, 0, -1):
        older = rotated_name(log_path, generation)
        if older.exists():
            older.rename(rotated_name(log_path, generation + 1))
    target = rotated_name(log_path, 1)
    log_path.rename(target)
    return target
