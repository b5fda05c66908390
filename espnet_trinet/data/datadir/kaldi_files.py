"""Reading and writing the two-column text files of a Kaldi data dir.

Every file of a data dir (``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``spk2gender``,
``utt2num_samples``, ...) is a list of lines ``<key> <value>``. Readers keep the line number of
each entry so that every later error can point at ``file:line``.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

PathLike = Union[str, Path]

# Files keyed by utterance id, besides every ``utt2*`` file (utt2spk, utt2num_samples, ...).
UTT_KEYED = ("wav.scp", "text")


@dataclass(frozen=True)
class Entry:
    """One line of a Kaldi file: ``key`` and the rest of the line as ``value`` (stripped)."""

    line: int
    key: str
    value: str


class DataDirError(ValueError):
    """A data dir (or one of its files) breaks the Kaldi conventions.

    Args:
        problems: one message per problem, each starting with ``file:line:`` where known.
    """

    def __init__(self, problems: Union[str, List[str]]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def is_utt_keyed(name: str) -> bool:
    """Whether the data-dir file ``name`` maps utterance ids to values."""
    return name in UTT_KEYED or name.startswith("utt2")


def is_spk_keyed(name: str) -> bool:
    """Whether the data-dir file ``name`` maps speaker ids to values (spk2utt excluded)."""
    return name.startswith("spk2") and name != "spk2utt"


def read_entries(path: PathLike) -> List[Entry]:
    """All entries of a Kaldi file in file order, duplicates included.

    Args:
        path: the file; blank lines are skipped, a value may be empty (``text`` of silence).
    Returns:
        entries with 1-based line numbers.
    """
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            entries.append(Entry(number, parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return entries


def read_map(path: PathLike) -> Dict[str, str]:
    """A Kaldi file as ``{key: value}``; raises DataDirError naming ``file:line`` on duplicates."""
    result: Dict[str, str] = {}
    first_line: Dict[str, int] = {}
    problems = []
    for entry in read_entries(path):
        if entry.key in result:
            problems.append(f"{path}:{entry.line}: duplicate id '{entry.key}' (first at line {first_line[entry.key]})")
            continue
        result[entry.key] = entry.value
        first_line[entry.key] = entry.line
    if problems:
        raise DataDirError(problems)
    return result


def write_map(path: PathLike, items: Union[Mapping[str, str], Iterable[Tuple[str, str]]]) -> None:
    """Writes ``key value`` lines sorted by key (C locale order), atomically.

    Args:
        path: the file to (over)write; written to a temporary name first, then renamed,
            so that a killed run never leaves half a file behind.
        items: mapping or pairs; values may be empty.
    """
    pairs = sorted(items.items() if isinstance(items, Mapping) else items, key=lambda kv: kv[0])
    write_lines(path, [f"{k} {v}" if v else k for k, v in pairs])


def write_lines(path: PathLike, lines: Iterable[str]) -> None:
    """Writes lines (without newlines) to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Inverts utt2spk: ``{spk: [utt, ...]}`` with utterances sorted."""
    spk2utt: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk):
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return spk2utt


def spk2utt_to_utt2spk(spk2utt: Mapping[str, Iterable[str]]) -> Dict[str, str]:
    """Expands spk2utt into utt2spk; raises DataDirError if an utterance has two speakers."""
    utt2spk: Dict[str, str] = {}
    problems = []
    for spk, utts in spk2utt.items():
        for utt in utts:
            if utt in utt2spk and utt2spk[utt] != spk:
                problems.append(f"utterance '{utt}' listed under speakers '{utt2spk[utt]}' and '{spk}'")
            utt2spk[utt] = spk
    if problems:
        raise DataDirError(problems)
    return utt2spk


def write_spk2utt(path: PathLike, spk2utt: Mapping[str, Iterable[str]]) -> None:
    """Writes spk2utt sorted by speaker."""
    write_map(path, {spk: " ".join(utts) for spk, utts in spk2utt.items()})


def list_files(data_dir: PathLike) -> List[str]:
    """Names of the Kaldi map files present in ``data_dir`` (sub-folders and dot-files skipped)."""
    data_dir = Path(data_dir)
    return sorted(
        p.name for p in data_dir.iterdir() if p.is_file() and (is_utt_keyed(p.name) or p.name.startswith("spk2"))
    )


def copy_filtered(
    src_dir: PathLike,
    dst_dir: PathLike,
    utts: Iterable[str],
    names: Optional[Iterable[str]] = None,
) -> None:
    """Copies a data dir restricted to the utterances ``utts`` (speaker files follow).

    Args:
        src_dir: source data dir (needs utt2spk).
        dst_dir: destination (created); spk2utt is regenerated, not copied.
        utts: the utterance ids to keep.
        names: files to copy; by default every Kaldi map file of ``src_dir``.
    """
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    keep = set(utts)
    names = list_files(src_dir) if names is None else list(names)
    utt2spk = {u: s for u, s in read_map(src_dir / "utt2spk").items() if u in keep}
    speakers = set(utt2spk.values())
    dst_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name == "spk2utt":
            continue
        mapping = read_map(src_dir / name)
        if is_utt_keyed(name):
            write_map(dst_dir / name, {k: v for k, v in mapping.items() if k in keep})
        elif is_spk_keyed(name):
            write_map(dst_dir / name, {k: v for k, v in mapping.items() if k in speakers})
    write_spk2utt(dst_dir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
