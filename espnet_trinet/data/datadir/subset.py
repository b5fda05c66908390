"""Subsets of a data dir by id (Kaldi's ``subset_data_dir.sh``): an utterance list, a speaker
list, the first N utterances, or N utterances drawn at random."""

import random
from pathlib import Path
from typing import Iterable, List, Optional

from espnet_trinet.data.datadir.kaldi_files import DataDirError, PathLike, copy_filtered, read_map


def read_id_list(path: PathLike) -> List[str]:
    """Ids from a file holding one id per line (first column; the rest of a line is ignored)."""
    with open(path, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.strip()]


def subset_data_dir(
    data_dir: PathLike,
    out_dir: PathLike,
    utt_ids: Optional[Iterable[str]] = None,
    spk_ids: Optional[Iterable[str]] = None,
    first: Optional[int] = None,
    num_random: Optional[int] = None,
    seed: int = 0,
) -> List[str]:
    """Writes the data dir restricted to the selected utterances; the criteria combine (AND).

    Args:
        data_dir: source data dir (needs utt2spk).
        out_dir: destination data dir.
        utt_ids: keep only these utterances (unknown ids are an error: a list from another dir).
        spk_ids: keep only utterances of these speakers.
        first: then keep the first N utterances in sorted order.
        num_random: then keep N utterances drawn at random with ``seed`` (deterministic).
        seed: seed for ``num_random``.
    Returns:
        the kept utterance ids, sorted.
    """
    src = Path(data_dir)
    utt2spk = read_map(src / "utt2spk")
    utts = sorted(utt2spk)
    if utt_ids is not None:
        wanted = set(utt_ids)
        unknown = sorted(wanted - utt2spk.keys())
        if unknown:
            raise DataDirError(f"{src}/utt2spk: {len(unknown)} requested utterances not found, e.g. '{unknown[0]}'")
        utts = [u for u in utts if u in wanted]
    if spk_ids is not None:
        speakers = set(spk_ids)
        unknown = sorted(speakers - set(utt2spk.values()))
        if unknown:
            raise DataDirError(f"{src}/utt2spk: {len(unknown)} requested speakers not found, e.g. '{unknown[0]}'")
        utts = [u for u in utts if utt2spk[u] in speakers]
    if first is not None:
        utts = utts[:first]
    if num_random is not None:
        if num_random > len(utts):
            raise DataDirError(f"{src}: asked for {num_random} random utterances, only {len(utts)} available")
        utts = sorted(random.Random(seed).sample(utts, num_random))
    copy_filtered(src, out_dir, utts)
    return utts
