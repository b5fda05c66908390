"""Splits a data dir into N parts (Kaldi's ``split_data.sh``): ``<dir>/split{N}/{1..N}`` keeps
each speaker in one part; ``<dir>/split{N}utt/{1..N}`` splits by utterance."""

import shutil
from pathlib import Path
from typing import List, Sequence

from espnet_trinet.data.datadir.kaldi_files import (
    DataDirError,
    PathLike,
    copy_filtered,
    read_map,
    utt2spk_to_spk2utt,
)


def partition_sizes(sizes: Sequence[int], num_parts: int) -> List[int]:
    """Cuts a sequence of groups into ``num_parts`` contiguous, non-empty runs of similar total size.

    Args:
        sizes: size of each group (utterances per speaker), in order.
        num_parts: number of runs; at most ``len(sizes)``.
    Returns:
        the part index (0-based) of each group, non-decreasing.
    """
    if not 1 <= num_parts <= len(sizes):
        raise ValueError(f"cannot split {len(sizes)} groups into {num_parts} non-empty parts")
    assignment = []
    remaining_total = sum(sizes)
    part, part_total = 0, 0
    for i, size in enumerate(sizes):
        groups_left = len(sizes) - i
        parts_left = num_parts - part
        # Close the current part once it holds its share, or when every later part needs a group.
        if part_total > 0 and (part_total >= remaining_total / parts_left or groups_left < parts_left):
            remaining_total -= part_total
            part, part_total = part + 1, 0
        assignment.append(part)
        part_total += size
    return assignment


def split_data_dir(data_dir: PathLike, num_parts: int, per_utt: bool = False) -> List[Path]:
    """Writes ``num_parts`` data dirs that together hold ``data_dir``.

    Args:
        data_dir: a valid data dir (utt2spk needed).
        num_parts: N.
        per_utt: split by utterance (``split{N}utt``) instead of keeping speakers whole (``split{N}``).
    Returns:
        the part folders ``[.../1, ..., .../N]``.
    """
    root = Path(data_dir)
    utt2spk = read_map(root / "utt2spk")
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    utts = sorted(utt2spk)
    if per_utt:
        if num_parts > len(utts):
            raise DataDirError(f"{root}: cannot split {len(utts)} utterances into {num_parts} parts")
        groups = [[u] for u in utts]
    else:
        if num_parts > len(spk2utt):
            raise DataDirError(
                f"{root}: cannot split {len(spk2utt)} speakers into {num_parts} parts; use per-utterance splitting"
            )
        groups = [spk2utt[s] for s in sorted(spk2utt)]
    assignment = partition_sizes([len(g) for g in groups], num_parts)

    split_dir = root / (f"split{num_parts}utt" if per_utt else f"split{num_parts}")
    tmp_dir = root / f".{split_dir.name}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    for part in range(num_parts):
        part_utts = [u for g, a in zip(groups, assignment) if a == part for u in g]
        copy_filtered(root, tmp_dir / str(part + 1), part_utts)
    # Replace the whole split at once so that readers never see a mix of old and new parts.
    shutil.rmtree(split_dir, ignore_errors=True)
    tmp_dir.rename(split_dir)
    return [split_dir / str(i + 1) for i in range(num_parts)]
