"""Combines several data dirs into one (Kaldi's ``combine_data.sh``); a duplicate utterance id
is an error rather than a silent overwrite."""

import logging
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from espnet_trinet.data.datadir.kaldi_files import (
    DataDirError,
    PathLike,
    is_spk_keyed,
    is_utt_keyed,
    list_files,
    read_entries,
    read_map,
    utt2spk_to_spk2utt,
    write_map,
    write_spk2utt,
)

MAX_SHOWN = 10


def combine_data_dirs(out_dir: PathLike, data_dirs: Sequence[PathLike]) -> int:
    """Writes the union of ``data_dirs`` into ``out_dir``.

    Files present in every source are combined; a file missing from some source is left out
    (with a warning), since a partial file would break the consistency of the result.
    A speaker may appear in several sources (its spk2utt entry is merged), but its ``spk2*``
    values must agree.

    Args:
        out_dir: destination data dir (created).
        data_dirs: source data dirs, each with utt2spk.
    Returns:
        number of utterances written.
    Raises:
        DataDirError: naming both sources of a duplicate utterance id or of conflicting speaker data.
    """
    if not data_dirs:
        raise ValueError("no data dirs to combine")
    sources = [Path(d) for d in data_dirs]
    names_per_dir = [set(list_files(d)) for d in sources]
    common = set.intersection(*names_per_dir) - {"spk2utt"}
    for name in sorted(set.union(*names_per_dir) - common - {"spk2utt"}):
        missing = [str(d) for d, names in zip(sources, names_per_dir) if name not in names]
        logging.warning("combine: leaving out %s, absent from %s", name, ", ".join(missing))
    if "utt2spk" not in common:
        raise DataDirError("every data dir to combine needs utt2spk")

    problems: List[str] = []
    combined: Dict[str, Dict[str, str]] = {name: {} for name in common}
    origin: Dict[Tuple[str, str], str] = {}
    for src in sources:
        for name in sorted(common):
            for e in read_entries(src / name):
                where = f"{src / name}:{e.line}"
                previous = combined[name].get(e.key)
                if previous is not None and is_utt_keyed(name):
                    if name == "utt2spk":  # one message per utterance, not one per file
                        problems.append(f"{where}: duplicate utterance id '{e.key}' (also in {origin[(name, e.key)]})")
                    continue
                if previous is not None and is_spk_keyed(name):
                    if previous != e.value:
                        problems.append(
                            f"{where}: speaker '{e.key}' has '{e.value}' but {origin[(name, e.key)]} says '{previous}'"
                        )
                    continue
                combined[name][e.key] = e.value
                origin[(name, e.key)] = where
    if problems:
        if len(problems) > MAX_SHOWN:
            problems = problems[:MAX_SHOWN] + [f"... and {len(problems) - MAX_SHOWN} more"]
        raise DataDirError(problems)

    dst = Path(out_dir)
    for name, mapping in combined.items():
        write_map(dst / name, mapping)
    utt2spk = read_map(dst / "utt2spk")
    write_spk2utt(dst / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    logging.info("combined %d data dirs into %s: %d utterances", len(sources), dst, len(utt2spk))
    return len(utt2spk)
