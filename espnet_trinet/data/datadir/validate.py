"""Validation of a Kaldi data dir without Kaldi (what ``utils/validate_data_dir.sh`` checks).

Every problem is reported as ``file:line: message`` so that a user can open the file at the
offending line; all problems are collected before raising, not only the first one.
"""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

from espnet_trinet.data.datadir.kaldi_files import (
    DataDirError,
    Entry,
    PathLike,
    is_spk_keyed,
    is_utt_keyed,
    list_files,
    read_entries,
)

REQUIRED = ("wav.scp", "text", "utt2spk", "spk2utt")
# Files whose values must be positive numbers.
NUMERIC = {"utt2num_samples": int, "utt2dur": float}
AUDIO_SUFFIXES = (".wav", ".flac", ".sph", ".mp3", ".ogg", ".opus", ".m4a", ".aiff", ".au")
# ``foo.ark:1234``: an offset into a Kaldi archive, read with kaldiio.
ARK_OFFSET = re.compile(r"^(?P<path>.+\.ark):\d+$")
# Beyond this many problems of one kind the rest are only counted, to keep messages readable.
MAX_PER_CHECK = 10


@dataclass
class DataDirSummary:
    """What a valid data dir holds."""

    num_utts: int
    num_speakers: int
    files: List[str]


class _Problems:
    """Collects problem messages, capping each kind at MAX_PER_CHECK."""

    def __init__(self):
        self.messages: List[str] = []
        self._counts: Dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count <= MAX_PER_CHECK:
            self.messages.append(message)
        elif count == MAX_PER_CHECK + 1:
            self.messages.append(f"... further '{kind}' problems not shown")


def audio_paths_of(wav_entry: str) -> List[str]:
    """Files a wav.scp value reads: the path itself, the archive of ``x.ark:N``, or for a
    pipe command (``cmd ... |``) its arguments that look like audio files."""
    value = wav_entry.strip()
    if value.endswith("|"):
        try:
            tokens = shlex.split(value[:-1])
        except ValueError:  # unbalanced quotes: fall back to plain words
            tokens = value[:-1].split()
        return [tok for tok in tokens if tok.lower().endswith(AUDIO_SUFFIXES)]
    match = ARK_OFFSET.match(value)
    if match:
        return [match.group("path")]
    return [value]


def _check_file(name: str, entries: List[Entry], path: Path, problems: _Problems) -> None:
    seen: Dict[str, int] = {}
    previous = None
    for e in entries:
        if e.key in seen:
            problems.add(f"{name}:dup", f"{path}:{e.line}: duplicate id '{e.key}' (first at line {seen[e.key]})")
        else:
            seen[e.key] = e.line
        if previous is not None and e.key < previous.key:
            problems.add(
                f"{name}:sort",
                f"{path}:{e.line}: not sorted: '{e.key}' comes after '{previous.key}' (line {previous.line}); "
                "run `datadir fix`",
            )
        previous = e
        if name != "text" and not e.value:
            problems.add(f"{name}:empty", f"{path}:{e.line}: '{e.key}' has no value")
        if name in NUMERIC and e.value:
            try:
                ok = NUMERIC[name](e.value) > 0
            except ValueError:
                ok = False
            if not ok:
                problems.add(f"{name}:num", f"{path}:{e.line}: '{e.key}' has '{e.value}', expected a positive number")
        if name == "spk2gender" and e.value not in ("m", "f"):
            problems.add(f"{name}:gender", f"{path}:{e.line}: gender of '{e.key}' is '{e.value}', expected m or f")


def _compare_keys(ref_name, ref: List[Entry], name, entries: List[Entry], root: Path, problems: _Problems) -> None:
    ref_keys = {e.key: e.line for e in ref}
    keys = {e.key: e.line for e in entries}
    for e in entries:
        if e.key not in ref_keys:
            problems.add(f"{name}:extra", f"{root / name}:{e.line}: '{e.key}' has no entry in {ref_name}")
    for e in ref:
        if e.key not in keys:
            problems.add(f"{name}:missing", f"{root / ref_name}:{e.line}: '{e.key}' has no entry in {name}")


def _check_speakers(utt2spk: List[Entry], spk2utt: List[Entry], root: Path, problems: _Problems) -> None:
    spk_of = {e.key: e.value for e in utt2spk}
    line_of = {e.key: e.line for e in utt2spk}
    listed: Dict[str, str] = {}
    for e in spk2utt:
        utts = e.value.split()
        if utts != sorted(utts):
            problems.add("spk2utt:order", f"{root / 'spk2utt'}:{e.line}: utterances of '{e.key}' are not sorted")
        for utt in utts:
            if utt not in spk_of:
                problems.add(
                    "spk2utt:extra", f"{root / 'spk2utt'}:{e.line}: '{utt}' (speaker '{e.key}') is not in utt2spk"
                )
            elif spk_of[utt] != e.key:
                problems.add(
                    "spk2utt:agree",
                    f"{root / 'spk2utt'}:{e.line}: '{utt}' listed under '{e.key}' but utt2spk "
                    f"(line {line_of[utt]}) says '{spk_of[utt]}'",
                )
            if utt in listed:
                problems.add(
                    "spk2utt:twice", f"{root / 'spk2utt'}:{e.line}: '{utt}' already listed under '{listed[utt]}'"
                )
            listed[utt] = e.key
    for e in utt2spk:
        if e.key not in listed:
            problems.add("spk2utt:missing", f"{root / 'utt2spk'}:{e.line}: '{e.key}' is missing from spk2utt")
    # Kaldi tools assume that sorting by speaker keeps utterance order (speaker id = prefix of utt id).
    by_spk = sorted(utt2spk, key=lambda x: (x.value, x.key))
    by_utt = sorted(utt2spk, key=lambda x: x.key)
    for a, b in zip(by_spk, by_utt):
        if a.key != b.key:
            problems.add(
                "utt2spk:prefix",
                f"{root / 'utt2spk'}:{b.line}: sorting by speaker gives a different order than sorting by "
                f"utterance ('{a.key}' vs '{b.key}'); make speaker ids prefixes of utterance ids",
            )
            break


def validate_data_dir(
    data_dir: PathLike,
    check_audio: bool = True,
    required: Sequence[str] = REQUIRED,
) -> DataDirSummary:
    """Checks a data dir as Kaldi's validate_data_dir.sh would, plus audio paths.

    Checks: required files present; each file sorted (C order), ids unique, values present;
    the same utterances in wav.scp, text, utt2spk and every other ``utt2*`` file; spk2utt the exact
    inverse of utt2spk; ``spk2*`` files cover the speakers; numeric files positive; audio files
    (plain paths, archives, files named in pipe commands) exist.

    Args:
        data_dir: the folder.
        check_audio: also check that the audio files named by wav.scp exist (relative paths
            are relative to the current directory, as for Kaldi).
        required: files that must exist.
    Returns:
        a summary of the valid data dir.
    Raises:
        DataDirError: with every problem as ``file:line: message``.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DataDirError(f"{root}: not a directory")
    problems = _Problems()
    for name in required:
        if not (root / name).is_file():
            problems.add("required", f"{root / name}: missing (required)")
    files: Dict[str, List[Entry]] = {}
    for name in list_files(root):
        try:
            files[name] = read_entries(root / name)
        except UnicodeDecodeError as err:
            problems.add("utf8", f"{root / name}: not valid UTF-8 ({err.reason} at byte {err.start})")
            continue
        _check_file(name, files[name], root / name, problems)

    reference = "utt2spk" if "utt2spk" in files else ("wav.scp" if "wav.scp" in files else None)
    if reference:
        for name in files:
            if name != reference and is_utt_keyed(name):
                _compare_keys(reference, files[reference], name, files[name], root, problems)
    if "utt2spk" in files and "spk2utt" in files:
        _check_speakers(files["utt2spk"], files["spk2utt"], root, problems)
    speakers = {e.value for e in files.get("utt2spk", [])}
    for name in files:
        if is_spk_keyed(name) and "utt2spk" in files:
            keys = {e.key for e in files[name]}
            for e in files[name]:
                if e.key not in speakers:
                    problems.add(f"{name}:extra", f"{root / name}:{e.line}: speaker '{e.key}' is not in utt2spk")
            for spk in sorted(speakers - keys):
                problems.add(f"{name}:missing", f"{root / name}: speaker '{spk}' (from utt2spk) has no entry")
    if check_audio and "wav.scp" in files:
        for e in files["wav.scp"]:
            for audio in audio_paths_of(e.value):
                if not Path(audio).exists():
                    problems.add("audio", f"{root / 'wav.scp'}:{e.line}: audio of '{e.key}' not found: {audio}")

    if problems.messages:
        raise DataDirError(problems.messages)
    utts = files.get("utt2spk", files.get("wav.scp", []))
    return DataDirSummary(num_utts=len(utts), num_speakers=len(speakers), files=sorted(files))
