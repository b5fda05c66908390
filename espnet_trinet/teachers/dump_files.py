"""What a dump of frozen-teacher targets holds on disk, and the check of its first entry."""

from pathlib import Path

import kaldiio
import numpy as np

# Written last by a dump: its done marker, with what made the targets (see offline_dump.py).
INFO_FILE = "targets_info.yaml"


def check_first_entry(scp: Path, kind: str, output_dim: int) -> None:
    """Read the dump's first target and fail if its shape or ids do not fit ``kind`` and ``output_dim``."""
    with open(scp, encoding="utf-8") as f:
        first = f.readline().split(maxsplit=1)
    if len(first) != 2:
        raise ValueError(f"{scp} is empty or malformed (first line {first}); dump the targets again")
    key, location = first[0], first[1].strip()
    target = np.asarray(kaldiio.load_mat(location))
    if kind == "hard":
        fits = target.ndim == 1 and np.issubdtype(target.dtype, np.integer) and int(target.max(initial=0)) < output_dim
        expected = f"(T,) integer class ids below {output_dim}"
    else:
        fits = target.ndim == 2 and target.shape[1] == output_dim
        expected = f"(T, {output_dim}) {kind} targets"
    if not fits:
        largest = f", largest value {target.max():g}" if target.size else ""
        raise ValueError(
            f"{scp}: the first entry '{key}' has shape {target.shape} and dtype {target.dtype}{largest}, "
            f"but the config expects {expected}: the dump was made with another teacher or projector; "
            "dump the targets again (or fix the target source's conf)"
        )
