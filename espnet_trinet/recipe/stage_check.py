"""Should a recipe stage run, be skipped, or stop? Decided from its done marker and settings record.

    finished, same settings              -> skip
    unfinished (killed), same settings   -> run (it resumes from what it left)
    never run                            -> run
    finished or unfinished, other settings, or a marker without a record (an older recipe, a
    ``touch`` by hand)                   -> stop, saying what changed and the fix; with force: remove
                                            the stale output and run
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence

from espnet_trinet.recipe.stage_settings import (
    Setting,
    differences,
    load_record,
    record,
    settings_path,
    write_record,
)

RUN, SKIP, STOP = "run", "skip", "stop"


@dataclass
class Decision:
    action: str  # RUN, SKIP or STOP
    messages: List[str] = field(default_factory=list)


def check(
    marker: Path,
    what: str,
    settings: Sequence[Setting],
    force: bool = False,
    clear: Sequence[Path] = (),
    fix: str = "",
) -> Decision:
    """Decides, and on RUN writes the new settings record (before the stage writes anything).

    Args:
        marker: the stage's done marker (``exp/ssl_data2vec/.done``).
        what: the stage's output in words, for messages (``pretraining of data2vec``).
        settings: the current settings (stage_settings.read_setting).
        force: on other settings, remove ``clear`` and run instead of stopping.
        clear: what the stage's stale output is (folders or files), removed under force.
        fix: how to keep both outputs instead, for the stop message (``--ssl_tag <tag>``).
    """
    new = record(settings, what)
    settings_file = settings_path(marker)
    if marker.exists():
        old = load_record(marker)
        if old is not None and old["fingerprint"] == new["fingerprint"]:
            return Decision(SKIP, [f"skip: {what} is done with the same settings ({marker})"])
        changes = (differences(old, new) if old is not None
                   else ["its done marker records no settings (made by an earlier recipe version, or by hand)"])
        state = "was made"
    else:
        old = load_record(settings_file)
        if old is None or old["fingerprint"] == new["fingerprint"]:
            verb = "resuming the unfinished" if old is not None else "running"
            write_record(settings_file, new)
            return Decision(RUN, [f"{what}: {verb} run ({settings_file})"] if old is not None else [])
        changes = differences(old, new)
        state = "was started (and not finished)"
    stale = [str(p) for p in clear if Path(p).exists()]
    lines = [f"{what} {state} with other settings than now ({settings_file} records them):"]
    lines += [f"    {change}" for change in changes]
    if not force:
        lines.append(
            f"  Nothing was changed. To redo it in place, removing {', '.join(stale) or 'its marker'}: add "
            f"--force true." + (f" To keep both, give this run its own directory: {fix}." if fix else "")
        )
        return Decision(STOP, lines)
    for path in stale:
        p = Path(path)
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for path in (marker, settings_file):
        if path.exists():
            path.unlink()
    write_record(settings_file, new)
    lines.append(f"  --force true: removed {', '.join(stale) or 'the marker'}; running again")
    return Decision(RUN, lines)


def mark_done(marker: Path) -> None:
    """The stage finished: its record becomes the done marker."""
    settings_file = settings_path(marker)
    rec = load_record(settings_file)
    if rec is None:
        raise FileNotFoundError(f"{settings_file}: no settings record; `stage_marker check` writes it first")
    write_record(marker, rec)
