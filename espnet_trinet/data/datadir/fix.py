"""Repairs a data dir (what Kaldi's ``utils/fix_data_dir.sh`` does): sort, de-duplicate,
keep only utterances present in every per-utterance file, regenerate spk2utt."""

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from espnet_trinet.data.datadir.kaldi_files import (
    PathLike,
    is_spk_keyed,
    is_utt_keyed,
    list_files,
    read_entries,
    utt2spk_to_spk2utt,
    write_map,
    write_spk2utt,
)


@dataclass
class FixReport:
    """What fix_data_dir changed.

    Attributes:
        num_utts: utterances kept.
        removed: ``{utt: reason}`` for every utterance dropped (e.g. ``"no entry in text"``).
        duplicates: ``file:line`` of every dropped duplicate line (the first one is kept).
    """

    num_utts: int
    removed: Dict[str, str] = field(default_factory=dict)
    duplicates: List[str] = field(default_factory=list)


def fix_data_dir(data_dir: PathLike, out_dir: Optional[PathLike] = None, backup: bool = True) -> FixReport:
    """Sorts every file, drops duplicate ids and utterances missing from any per-utterance file.

    Args:
        data_dir: the data dir to repair.
        out_dir: where to write the result; by default ``data_dir`` itself, in place.
        backup: when fixing in place, keep the original files under ``data_dir/.backup/``.
    Returns:
        a FixReport (also logged).
    """
    src = Path(data_dir)
    dst = Path(out_dir) if out_dir is not None else src
    names = list_files(src)
    if "utt2spk" not in names and "spk2utt" not in names:
        raise FileNotFoundError(f"{src}: neither utt2spk nor spk2utt exists; cannot fix")

    maps: Dict[str, Dict[str, str]] = {}
    duplicates = []
    for name in names:
        mapping: Dict[str, str] = {}
        for e in read_entries(src / name):
            if e.key in mapping:
                duplicates.append(f"{src / name}:{e.line}")
                continue
            mapping[e.key] = e.value
        maps[name] = mapping
    if "utt2spk" not in maps:
        maps["utt2spk"] = {u: spk for spk, utts in maps["spk2utt"].items() for u in utts.split()}

    utt_files = [n for n in maps if is_utt_keyed(n)]
    all_utts = set().union(*(maps[n].keys() for n in utt_files))
    removed: Dict[str, str] = {}
    for utt in sorted(all_utts):
        missing = [n for n in utt_files if utt not in maps[n]]
        if missing:
            removed[utt] = "no entry in " + ", ".join(missing)
    keep = all_utts - removed.keys()
    utt2spk = {u: s for u, s in maps["utt2spk"].items() if u in keep}
    speakers = set(utt2spk.values())

    if dst == src and backup:
        backup_dir = src / ".backup"
        backup_dir.mkdir(exist_ok=True)
        for name in names:
            shutil.copy2(src / name, backup_dir / name)
    dst.mkdir(parents=True, exist_ok=True)
    for name, mapping in maps.items():
        if is_utt_keyed(name):
            write_map(dst / name, {k: v for k, v in mapping.items() if k in keep})
        elif is_spk_keyed(name):
            write_map(dst / name, {k: v for k, v in mapping.items() if k in speakers})
    write_spk2utt(dst / "spk2utt", utt2spk_to_spk2utt(utt2spk))

    report = FixReport(num_utts=len(keep), removed=removed, duplicates=duplicates)
    logging.info(
        "fix_data_dir %s: kept %d utterances, removed %d, dropped %d duplicate lines",
        src,
        report.num_utts,
        len(removed),
        len(duplicates),
    )
    return report
