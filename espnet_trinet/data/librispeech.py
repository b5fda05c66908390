"""Recipe stage 1: LibriSpeech layout -> Kaldi data dir.

Reads ``<corpus>/<subset>/<reader>/<chapter>/<reader>-<chapter>-<utt>.flac`` with the
transcripts in ``<reader>-<chapter>.trans.txt`` and the genders in ``<corpus>/SPEAKERS.TXT``,
the layout of LibriSpeech and of the corpora this project makes itself (synthetic, FSDD).
As in Kaldi's LibriSpeech recipe, the speaker of an utterance is ``<reader>-<chapter>`` by
default, so speaker ids are prefixes of utterance ids. What cannot be used is left out and
listed in ``<data dir>/excluded.tsv`` (see datadir.exclusion_report), so one broken file does
not stop the preparation of a 1000-hour corpus. prepare_lm_text turns the corpus's LM text
(``librispeech-lm-norm.txt[.gz]``, openslr resource 11) into ESPnet's ``data/local/other_text/text``.
"""

import gzip
import logging
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from espnet_trinet.data.datadir.exclusion_report import REPORT_NAME, Excluded, count_by_reason, write_report
from espnet_trinet.data.datadir.kaldi_files import DataDirError, PathLike
from espnet_trinet.data.datadir.write import write_data_dir
from espnet_trinet.data.text_norm import normalize_transcript

UTT_ID = re.compile(r"^(?P<reader>[^-\s]+)-(?P<chapter>[^-\s]+)-(?P<index>\d+)$")
STEP = "prepare"  # the step column of excluded.tsv
LM_TEXT_NAMES = ("librispeech-lm-norm.txt", "librispeech-lm-norm.txt.gz")
LM_UTT_FORMAT = "librispeech_lm_norm_{:08d}"  # ESPnet's ids (egs2/librispeech/asr1/local/data.sh)
# A line already in normal form (most of LibriSpeech's 40 million), which normalize_transcript
# would return unchanged: checking this first is many times faster.
_NORMAL_FORM = re.compile(r"[A-Z0-9]+(?:'[A-Z0-9]+)*(?: [A-Z0-9]+(?:'[A-Z0-9]+)*)*")


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


@dataclass
class PrepareReport:
    """What prepare_librispeech did.

    Attributes:
        num_utts: utterances written to the data dir.
        num_speakers: speakers written.
        excluded: every exclusion, also in ``<output_dir>/excluded.tsv``.
        fixes: count per fix (``duplicate_line_merged``: a transcript line repeated verbatim).
    """

    num_utts: int = 0
    num_speakers: int = 0
    excluded: List[Excluded] = field(default_factory=list)
    fixes: Counter = field(default_factory=Counter)


def _decode_lines(trans: Path) -> List[Tuple[int, str, Optional[str]]]:
    """``(line number, text, None)`` per non-blank line of a transcript file, or
    ``(line number, id as far as readable, problem)`` for a line that is not UTF-8."""
    lines = []
    for number, raw in enumerate(trans.read_bytes().split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark some editors add
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            lines.append((number, raw.decode("utf-8"), None))
        except UnicodeDecodeError as err:
            utt = raw.split(maxsplit=1)[0].decode("ascii", errors="replace")
            lines.append((number, utt, f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}"))
    return lines


def _read_chapter(
    chapter_dir: Path,
    speaker: str,
    wav: Dict[str, str],
    text: Dict[str, str],
    utt2spk: Dict[str, str],
    report: PrepareReport,
) -> None:
    """Adds the usable utterances of one chapter folder; excludes (and reports) the others."""
    reader, chapter = chapter_dir.parent.name, chapter_dir.name
    trans = chapter_dir / f"{reader}-{chapter}.trans.txt"
    flacs = {p.stem: p for p in chapter_dir.glob("*.flac")}

    def exclude(utt: str, reason: str, source: Union[str, Path], detail: str) -> None:
        report.excluded.append(Excluded(utt, STEP, reason, str(source), detail))

    if not trans.is_file():
        for stem in sorted(flacs):
            exclude(stem, "no_transcript", flacs[stem], f"{trans.name} is missing from {chapter_dir}")
        return
    try:
        lines = _decode_lines(trans)
    except OSError as err:  # e.g. no read permission: the chapter's audio cannot be labelled
        for stem in sorted(flacs):
            exclude(stem, "unreadable_transcript", trans, f"{trans}: {err.strerror or err}")
        return

    lines_of: Dict[str, List[Tuple[int, str]]] = {}
    mentioned = set()
    for number, content, problem in lines:
        where = f"{trans}:{number}"
        utt, words = (content.split(maxsplit=1) + [""])[:2]
        mentioned.add(utt)
        if problem is not None:
            exclude(utt, "bad_encoding", where, problem)
            continue
        match = UTT_ID.match(utt)
        if not match or (match.group("reader"), match.group("chapter")) != (reader, chapter):
            exclude(utt, "bad_id", where, f"id '{utt}' is not {reader}-{chapter}-<number>")
            continue
        lines_of.setdefault(utt, []).append((number, " ".join(words.split())))

    for utt, occurrences in lines_of.items():
        number, words = occurrences[0]
        if len(occurrences) > 1:
            numbers = ", ".join(str(n) for n, _ in occurrences)
            if len({w for _, w in occurrences}) > 1:  # which transcript is right cannot be known
                for n, _ in occurrences:
                    exclude(utt, "duplicate_id", f"{trans}:{n}", f"lines {numbers} give different transcripts")
                continue
            report.fixes["duplicate_line_merged"] += len(occurrences) - 1
            logging.info("%s: lines %s repeat '%s' verbatim; merged", trans, numbers, utt)
        if utt not in flacs:
            exclude(utt, "no_audio", f"{trans}:{number}", f"no file {chapter_dir / (utt + '.flac')}")
            continue
        wav[utt] = str(flacs[utt].resolve())
        text[utt] = words
        utt2spk[utt] = speaker
    for stem in sorted(flacs.keys() - mentioned):
        exclude(stem, "no_transcript", flacs[stem], f"no line in {trans}")


def prepare_librispeech(
    corpus_dir: PathLike,
    subset: str,
    output_dir: PathLike,
    speaker_level: str = "chapter",
    max_excluded_fraction: float = 0.5,
) -> PrepareReport:
    """Writes a Kaldi data dir (wav.scp, text, utt2spk, spk2utt, spk2gender) for one subset,
    and ``excluded.tsv`` listing what could not be used.

    A messy corpus does not stop the stage: an utterance whose transcript line has no FLAC
    (``no_audio``), a FLAC without a transcript line (``no_transcript``), an id that does not
    match its folder (``bad_id``), a line that is not UTF-8 (``bad_encoding``), an unreadable
    transcript file (``unreadable_transcript``) or an id given different transcripts on
    several lines (``duplicate_id``) is excluded and reported with ``file:line``; a line
    repeated verbatim is merged (a fix, counted in the log). Audio is read later (stage 3).
    The data dir is written to a temporary folder, validated, then moved into place.

    Args:
        corpus_dir: the LibriSpeech folder (holding ``<subset>/`` and SPEAKERS.TXT), or its parent.
        subset: e.g. ``train-clean-100``, ``dev-clean``.
        output_dir: the data dir to write, e.g. ``data/train_clean_100``.
        speaker_level: ``chapter`` (speaker = reader-chapter, as Kaldi) or ``reader``.
        max_excluded_fraction: more excluded utterances than this fraction of the subset is
            an error (likely the wrong folder or a broken copy); the data dir and the report
            are written first.
    Returns:
        a PrepareReport (counts, exclusions, fixes).
    Raises:
        FileNotFoundError: the subset folder does not exist.
        DataDirError: no utterance is usable, or too many are excluded (the message names the
            report and the setting to change).
    """
    if speaker_level not in ("chapter", "reader"):
        raise ValueError(f"speaker_level must be 'chapter' or 'reader', not '{speaker_level}'")
    subset_dir = find_subset_dir(corpus_dir, subset)
    genders = read_speakers_txt(subset_dir.parent / "SPEAKERS.TXT")
    out = Path(output_dir)

    wav: Dict[str, str] = {}
    text: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    report = PrepareReport()
    chapter_dirs = sorted(p for p in subset_dir.glob("*/*") if p.is_dir())
    for chapter_dir in chapter_dirs:
        reader, chapter = chapter_dir.parent.name, chapter_dir.name
        speaker = f"{reader}-{chapter}" if speaker_level == "chapter" else reader
        _read_chapter(chapter_dir, speaker, wav, text, utt2spk, report)
    report.excluded.sort(key=lambda e: (e.utt, e.reason, e.source))
    excluded_utts = {e.utt for e in report.excluded}
    total = len(excluded_utts | wav.keys())
    reasons = count_by_reason(report.excluded)

    if not wav:
        shutil.rmtree(out, ignore_errors=True)
        if not total:
            raise DataDirError(
                f"{subset_dir}: no utterances found (expected <reader>/<chapter>/<reader>-<chapter>.trans.txt "
                "next to the FLAC files); is this the right folder?"
            )
        write_report(out / REPORT_NAME, report.excluded)
        raise DataDirError(
            f"{subset_dir}: none of its {total} utterances is usable ({reasons}); each is listed in "
            f"{out / REPORT_NAME}"
        )

    spk2gender = {}
    for spk in set(utt2spk.values()):
        reader = spk.split("-")[0]
        if reader in genders:
            spk2gender[spk] = genders[reader]
    if spk2gender and len(spk2gender) != len(set(utt2spk.values())):
        logging.warning("SPEAKERS.TXT lacks some readers of %s: spk2gender not written", subset)
        spk2gender = {}

    summary = write_data_dir(out, wav, text, utt2spk, spk2gender)
    write_report(out / REPORT_NAME, report.excluded)
    report.num_utts, report.num_speakers = summary.num_utts, summary.num_speakers
    logging.info(
        "%s/%s -> %s: %d utterances, %d speakers; fixes: %s; excluded: %s (each with its file and reason in %s)",
        corpus_dir,
        subset,
        out,
        summary.num_utts,
        summary.num_speakers,
        dict(sorted(report.fixes.items())) or "none",
        reasons or "none",
        out / REPORT_NAME,
    )
    fraction = len(excluded_utts) / total
    if fraction > max_excluded_fraction:
        raise DataDirError(
            f"{subset_dir}: {len(excluded_utts)} of {total} utterances excluded ({fraction:.0%}, more than "
            f"max_excluded_fraction {max_excluded_fraction:g}): {reasons}; is this the right folder? Each is listed "
            f"in {out / REPORT_NAME}. If the corpus is meant to be like this, raise --max_excluded_fraction."
        )
    return report


def data_dir_name(subset: str) -> str:
    """Kaldi-style data dir name of a subset: ``train-clean-100`` -> ``train_clean_100``."""
    return subset.replace("-", "_")


def find_lm_text(corpus_dir: PathLike) -> Optional[Path]:
    """``librispeech-lm-norm.txt`` or ``.txt.gz`` in ``corpus_dir``, its ``LibriSpeech/`` or its parent
    (where the archive is often kept next to the extracted corpus); None if there is none."""
    corpus_dir = Path(corpus_dir)
    for folder in (corpus_dir, corpus_dir / "LibriSpeech", corpus_dir.parent):
        for name in LM_TEXT_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def prepare_lm_text(corpus_dir: PathLike, output: PathLike) -> Optional[int]:
    """Writes the corpus's LM text as a Kaldi text file, as ESPnet's LibriSpeech recipe does.

    Line n of ``librispeech-lm-norm.txt[.gz]`` (see find_lm_text) becomes
    ``librispeech_lm_norm_<n:08d> <sentence>``, the sentence normalised by text_norm as the
    transcripts are (stage 3), so that LM text and transcripts share one token space; a line
    that normalises to nothing is left out. Written to a temporary name, then moved into place.

    Args:
        corpus_dir: the corpus folder, as for prepare_librispeech.
        output: the file to write, e.g. ``data/local/other_text/text``.
    Returns:
        the number of lines written, or None when the corpus has no LM text (logged, with where
        to put it; nothing is written).
    """
    source = find_lm_text(corpus_dir)
    if source is None:
        corpus_dir = Path(corpus_dir)
        logging.warning(
            "LM text is absent: no %s in %s or %s, so %s is not written. For LM text, put "
            "librispeech-lm-norm.txt.gz (openslr resource 11, https://www.openslr.org/11/) into one of "
            "them and run stage 1 again, or give asr.sh your own text with --lm_train_text.",
            " or ".join(LM_TEXT_NAMES),
            corpus_dir,
            corpus_dir.parent,
            output,
        )
        return None
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    written = empty = 0
    opener = gzip.open if source.suffix == ".gz" else open
    # Only \n ends a line, so that line numbers are awk's NR; bytes that are not UTF-8 become
    # U+FFFD, which normalisation removes.
    reading = dict(encoding="utf-8", errors="replace", newline="\n")
    with opener(source, "rt", **reading) as src, open(tmp, "w", encoding="utf-8") as out:
        for number, line in enumerate(src, start=1):
            line = line.rstrip("\r\n")
            text = line if _NORMAL_FORM.fullmatch(line) else normalize_transcript(line)
            if not text:
                empty += 1
                continue
            out.write(f"{LM_UTT_FORMAT.format(number)} {text}\n")
            written += 1
    os.replace(tmp, output)
    logging.info("LM text %s -> %s: %d lines (%d empty after normalisation, left out)", source, output, written, empty)
    return written
