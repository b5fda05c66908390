"""Recipe stage 1: LibriSpeech layout -> Kaldi data dir.

Reads ``<corpus>/<subset>/<reader>/<chapter>/<reader>-<chapter>-<utt>.flac`` with the
transcripts in ``<reader>-<chapter>.trans.txt`` and the genders in ``<corpus>/SPEAKERS.TXT``,
the layout of LibriSpeech and of the corpora this project makes itself (synthetic, FSDD).
As in Kaldi's LibriSpeech recipe, the speaker of an utterance is ``<reader>-<chapter>`` by
default, so speaker ids are prefixes of utterance ids.
"""

import logging
import re
from pathlib import Path
from typing import Dict, List

from espnet_trinet.data.datadir.kaldi_files import DataDirError, PathLike
from espnet_trinet.data.datadir.validate import DataDirSummary
from espnet_trinet.data.datadir.write import write_data_dir

UTT_ID = re.compile(r"^(?P<reader>[^-\s]+)-(?P<chapter>[^-\s]+)-(?P<index>\d+)$")


def read_speakers_txt(path: PathLike) -> Dict[str, str]:
    """Reader genders from SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES | NAME``, ``;`` comments).

    Returns:
        ``{reader_id: "m" | "f"}``; empty if the file does not exist.
    """
    genders: Dict[str, str] = {}
    path = Path(path)
    if not path.exists():
        return genders
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[1].upper() in ("M", "F"):
            genders[fields[0]] = fields[1].lower()
    return genders


def find_subset_dir(corpus_dir: PathLike, subset: str) -> Path:
    """``<corpus_dir>/<subset>``, also accepting the folder above ``LibriSpeech/`` (as extracted)."""
    corpus_dir = Path(corpus_dir)
    for candidate in (corpus_dir / subset, corpus_dir / "LibriSpeech" / subset):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"subset '{subset}' not found: neither {corpus_dir / subset} nor {corpus_dir / 'LibriSpeech' / subset} exists"
    )


def prepare_librispeech(
    corpus_dir: PathLike,
    subset: str,
    output_dir: PathLike,
    speaker_level: str = "chapter",
) -> DataDirSummary:
    """Writes a Kaldi data dir (wav.scp, text, utt2spk, spk2utt, spk2gender) for one subset.

    Every transcript line must have its FLAC and every FLAC its transcript line; all problems
    are collected and raised before anything is written. The data dir is written to a temporary
    folder, validated, then moved into place, so ``output_dir`` is either complete or absent.

    Args:
        corpus_dir: the LibriSpeech folder (holding ``<subset>/`` and SPEAKERS.TXT), or its parent.
        subset: e.g. ``train-clean-100``, ``dev-clean``.
        output_dir: the data dir to write, e.g. ``data/train_clean_100``.
        speaker_level: ``chapter`` (speaker = reader-chapter, as Kaldi) or ``reader``.
    Returns:
        a summary (utterance and speaker counts).
    Raises:
        FileNotFoundError: the subset folder does not exist.
        DataDirError: the corpus is inconsistent (each problem names file and line).
    """
    if speaker_level not in ("chapter", "reader"):
        raise ValueError(f"speaker_level must be 'chapter' or 'reader', not '{speaker_level}'")
    subset_dir = find_subset_dir(corpus_dir, subset)
    genders = read_speakers_txt(subset_dir.parent / "SPEAKERS.TXT")

    wav: Dict[str, str] = {}
    text: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    problems: List[str] = []
    for chapter_dir in sorted(p for p in subset_dir.glob("*/*") if p.is_dir()):
        reader, chapter = chapter_dir.parent.name, chapter_dir.name
        trans = chapter_dir / f"{reader}-{chapter}.trans.txt"
        flacs = {p.stem: p for p in chapter_dir.glob("*.flac")}
        if not trans.is_file():
            if flacs:
                problems.append(f"{trans}: missing, but {chapter_dir} holds {len(flacs)} FLAC files")
            continue
        mentioned = set()
        for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            utt, _, words = line.strip().partition(" ")
            mentioned.add(utt)
            match = UTT_ID.match(utt)
            if not match or (match.group("reader"), match.group("chapter")) != (reader, chapter):
                problems.append(f"{trans}:{number}: id '{utt}' is not {reader}-{chapter}-<number>")
                continue
            if utt in text:
                problems.append(f"{trans}:{number}: duplicate id '{utt}'")
                continue
            if utt not in flacs:
                problems.append(f"{trans}:{number}: no audio file {chapter_dir / (utt + '.flac')}")
                continue
            wav[utt] = str(flacs[utt].resolve())
            text[utt] = " ".join(words.split())
            utt2spk[utt] = f"{reader}-{chapter}" if speaker_level == "chapter" else reader
        for stem in sorted(flacs.keys() - mentioned):
            problems.append(f"{flacs[stem]}: no line in {trans}")
    if problems:
        raise DataDirError(problems)
    if not wav:
        raise DataDirError(f"{subset_dir}: no utterances found (expected <reader>/<chapter>/*.trans.txt)")

    spk2gender = {}
    for spk in set(utt2spk.values()):
        reader = spk.split("-")[0]
        if reader in genders:
            spk2gender[spk] = genders[reader]
    if spk2gender and len(spk2gender) != len(set(utt2spk.values())):
        logging.warning("SPEAKERS.TXT lacks some readers of %s: spk2gender not written", subset)
        spk2gender = {}

    out = Path(output_dir)
    summary = write_data_dir(out, wav, text, utt2spk, spk2gender)
    logging.info(
        "%s/%s -> %s: %d utterances, %d speakers", corpus_dir, subset, out, summary.num_utts, summary.num_speakers
    )
    return summary


def data_dir_name(subset: str) -> str:
    """Kaldi-style data dir name of a subset: ``train-clean-100`` -> ``train_clean_100``."""
    return subset.replace("-", "_")
