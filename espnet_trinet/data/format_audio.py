"""Recipe stage 3: dumps a data dir to uniform audio (16 kHz, mono, 16-bit) with
``utt2num_samples``, excluding what cannot be used instead of failing the whole stage.

Excluded utterances go to ``<out_dir>/excluded.tsv`` (see datadir.exclusion_report: the rows
of ``<in_dir>/excluded.tsv`` from stage 1 first, then this stage's, step ``format``), with
these reasons:

- ``duplicate_id``: the id has different values on several lines of wav.scp or text (all its
  lines are excluded, since which one is right cannot be known; lines repeated verbatim are
  merged instead, a fix);
- ``no_transcript`` / ``no_audio`` / ``no_speaker``: the id lacks a text, wav.scp or utt2spk entry;
- ``bad_id``: the utterance or speaker id contains ``/`` and cannot name a file;
- ``missing_file``, ``permission_denied``, ``empty_file``, ``unreadable_audio``, ``zero_samples``,
  ``non_finite_samples``, ``pipe_failed``: the audio could not be read (see audio_io).

Fixes (``resampled``, ``downmixed``, ``bit_depth_converted``, ``clipped``,
``duplicate_line_merged``) are counted in the log. Transcripts are normalised by text_norm
(upper case, punctuation removed, non-ASCII letters transliterated, other non-ASCII removed).
``<out_dir>/utt2source`` keeps each utterance's original audio (``<in_dir>/utt2source``, else its
wav.scp value), so that later stages report excluded utterances by the file a user has.

Too much excluded is an error (DataDirError, no done marker, everything else written): no
usable utterance, or more than ``max_excluded_fraction`` of them (a broken copy of a corpus,
or files that are Git LFS pointers, looks like this).

Resumable: each audio file is written under a temporary name and renamed, and an existing
output file is reused; ``<out_dir>/.done`` marks a finished stage, which a re-run skips.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import soundfile as sf

from espnet_trinet.data.audio import downmix, resample, to_int16, write_audio_atomic
from espnet_trinet.data.audio_io import AudioReadError, load_wav_scp_entry
from espnet_trinet.data.datadir.exclusion_report import (
    REPORT_NAME,
    Excluded,
    carry_forward,
    count_by_reason,
    read_report,
)
from espnet_trinet.data.datadir.kaldi_files import (
    DataDirError,
    Entry,
    PathLike,
    read_entries,
    read_map,
    utt2spk_to_spk2utt,
    write_map,
    write_spk2utt,
)
from espnet_trinet.data.datadir.validate import validate_data_dir
from espnet_trinet.data.parallel import parallel_map
from espnet_trinet.data.text_norm import normalize_transcript

DONE_MARKER = ".done"
EXCLUDED_NAME = REPORT_NAME
SOURCES_NAME = "utt2source"
STEP = "format"  # the step column of excluded.tsv

@dataclass
class FormatReport:
    """What format_data_dir did.

    Attributes:
        num_utts: utterances written to the output data dir.
        excluded: this stage's exclusions (excluded.tsv also holds those of earlier stages).
        fixes: count per fix (resampled, downmixed, bit_depth_converted, clipped, duplicate_line_merged).
        reused: audio files already written by an earlier (interrupted) run.
        text_changed: transcripts that normalisation changed.
        already_done: the stage had finished before; nothing was redone.
    """

    num_utts: int = 0
    excluded: List[Excluded] = field(default_factory=list)
    fixes: Counter = field(default_factory=Counter)
    reused: int = 0
    text_changed: int = 0
    already_done: bool = False

    def excluded_counts(self) -> Dict[str, int]:
        """Number of excluded utterances per reason (an utterance counted once per reason)."""
        return count_by_reason(self.excluded)


@dataclass(frozen=True)
class _Task:
    utt: str
    wav: str
    out_path: str
    fs: int
    audio_format: str
    overwrite: bool


def _convert(task: _Task) -> Tuple[str, Optional[int], List[str], Optional[Tuple[str, str]], bool]:
    """Returns (utt, num_samples, fixes, (reason, detail) of an error, reused) for one utterance."""
    out_path = Path(task.out_path)
    if out_path.exists() and not task.overwrite:
        try:
            return task.utt, sf.info(str(out_path)).frames, [], None, True
        except sf.LibsndfileError:
            pass  # not a complete file after all: convert again
    try:
        audio = load_wav_scp_entry(task.wav)
    except AudioReadError as err:
        return task.utt, None, [], (err.reason, err.detail), False
    fixes = []
    samples = audio.samples
    if audio.num_channels > 1:
        fixes.append("downmixed")
    samples = downmix(samples)
    if audio.fs != task.fs:
        fixes.append("resampled")
        samples = resample(samples, audio.fs, task.fs)
    if audio.subtype != "PCM_16":
        fixes.append("bit_depth_converted")
    pcm, clipped = to_int16(samples)
    if clipped:
        fixes.append("clipped")
    write_audio_atomic(out_path, pcm, task.fs, task.audio_format)
    return task.utt, len(pcm), fixes, None, False


def _read_report(out_dir: Path) -> FormatReport:
    excluded = [e for e in read_report(out_dir / EXCLUDED_NAME) if e.step == STEP]
    num_utts = len(read_map(out_dir / "wav.scp"))
    return FormatReport(num_utts=num_utts, excluded=excluded, already_done=True)


def _unique_entries(
    entries: List[Entry], name: str, where, report: FormatReport
) -> Tuple[Dict[str, Entry], Set[str]]:
    """``({key: entry}, conflicting keys)`` of a Kaldi file: lines repeated verbatim are merged
    (a fix); every line of a key with different values is excluded as ``duplicate_id``."""
    lines: Dict[str, List[Entry]] = {}
    for e in entries:
        lines.setdefault(e.key, []).append(e)
    unique, conflicting = {}, set()
    for key, group in lines.items():
        if len({e.value for e in group}) > 1:
            conflicting.add(key)
            numbers = ", ".join(str(e.line) for e in group)
            for e in group:
                report.excluded.append(
                    Excluded(key, STEP, "duplicate_id", where(e), f"lines {numbers} of {name} give different values")
                )
            continue
        if len(group) > 1:
            report.fixes["duplicate_line_merged"] += len(group) - 1
        unique[key] = group[0]
    return unique, conflicting


def format_data_dir(
    in_dir: PathLike,
    out_dir: PathLike,
    fs: int = 16000,
    audio_format: str = "flac",
    nj: int = 1,
    overwrite: bool = False,
    max_excluded_fraction: float = 0.5,
) -> FormatReport:
    """Converts every utterance of ``in_dir`` to ``fs`` Hz mono 16-bit under ``out_dir/data/``.

    Args:
        in_dir: Kaldi data dir with wav.scp, text, utt2spk; ``spk2*`` files (spk2gender) are kept,
            other ``utt2*`` files are not (utt2num_samples is measured anew); its excluded.tsv
            and utt2source are carried forward.
        out_dir: output data dir: wav.scp (paths under ``out_dir/data/<spk>/<utt>.<ext>``, as
            given: relative if ``out_dir`` is relative, like ESPnet's dump dirs), utt2num_samples,
            utt2source, text, utt2spk, spk2utt, excluded.tsv, .done.
        fs: target sampling rate in Hz.
        audio_format: ``flac`` or ``wav``.
        nj: parallel worker processes.
        overwrite: convert again even if the stage is done or an output file exists.
        max_excluded_fraction: excluding more than this fraction of ``in_dir`` is an error.
    Returns:
        a FormatReport, also summarised in the log.
    Raises:
        DataDirError: no utterance is usable, or more than ``max_excluded_fraction`` were excluded
            (everything is written but the done marker; a re-run reuses the converted audio).
    """
    src, dst = Path(in_dir), Path(out_dir)
    if audio_format not in ("flac", "wav"):
        raise ValueError(f"audio_format must be flac or wav, not {audio_format}")
    if (dst / DONE_MARKER).exists() and not overwrite:
        logging.info("%s is already formatted (%s exists); skipping", dst, dst / DONE_MARKER)
        return _read_report(dst)
    for name in ("wav.scp", "text", "utt2spk"):
        if not (src / name).is_file():
            raise FileNotFoundError(f"{src / name}: missing (format_data_dir needs wav.scp, text and utt2spk)")

    report = FormatReport()
    excluded = report.excluded
    utt2spk = read_map(src / "utt2spk")
    origin = read_map(src / SOURCES_NAME) if (src / SOURCES_NAME).is_file() else {}
    wav_entries, wav_conflicts = _unique_entries(
        read_entries(src / "wav.scp"), "wav.scp", lambda e: e.value, report
    )
    text_entries, text_conflicts = _unique_entries(
        read_entries(src / "text"), "text", lambda e: f"{src / 'text'}:{e.line}", report
    )
    duplicated = wav_conflicts | text_conflicts
    wav = {k: e.value for k, e in wav_entries.items() if k not in duplicated}
    text = {k: (e.value, e.line) for k, e in text_entries.items() if k not in duplicated}
    source = {utt: origin.get(utt, value) for utt, value in wav.items()}

    tasks = []
    for utt in sorted(wav):
        if utt not in text:
            excluded.append(Excluded(utt, STEP, "no_transcript", source[utt], "no entry in text"))
        elif utt not in utt2spk:
            excluded.append(Excluded(utt, STEP, "no_speaker", source[utt], "no entry in utt2spk"))
        elif "/" in utt or "/" in utt2spk[utt]:
            excluded.append(Excluded(utt, STEP, "bad_id", source[utt], "'/' in utterance or speaker id"))
        else:
            out_path = dst / "data" / utt2spk[utt] / f"{utt}.{audio_format}"
            tasks.append(_Task(utt, wav[utt], str(out_path), fs, audio_format, overwrite))
    for utt in sorted(text.keys() - wav.keys()):
        excluded.append(Excluded(utt, STEP, "no_audio", f"{src / 'text'}:{text[utt][1]}", "no entry in wav.scp"))

    num_samples: Dict[str, int] = {}
    out_paths = {t.utt: t.out_path for t in tasks}
    results = list(parallel_map(_convert, tasks, nj, desc=f"format {src.name}"))
    for utt, n, fixes, error, reused in results:
        if error is not None:
            excluded.append(Excluded(utt, STEP, error[0], source[utt], error[1]))
            continue
        num_samples[utt] = n
        report.fixes.update(fixes)
        report.reused += int(reused)

    kept = sorted(num_samples)
    new_text = {}
    for utt in kept:
        new_text[utt] = normalize_transcript(text[utt][0])
        report.text_changed += int(new_text[utt] != text[utt][0])
    kept_utt2spk = {u: utt2spk[u] for u in kept}
    speakers = set(kept_utt2spk.values())
    write_map(dst / "wav.scp", {u: out_paths[u] for u in kept})
    write_map(dst / "utt2num_samples", {u: str(num_samples[u]) for u in kept})
    write_map(dst / SOURCES_NAME, {u: source[u] for u in kept})
    write_map(dst / "text", new_text)
    write_map(dst / "utt2spk", kept_utt2spk)
    write_spk2utt(dst / "spk2utt", utt2spk_to_spk2utt(kept_utt2spk))
    for extra in sorted(p.name for p in src.glob("spk2*") if p.name != "spk2utt"):
        mapping = {k: v for k, v in read_map(src / extra).items() if k in speakers}
        if mapping.keys() == speakers:
            write_map(dst / extra, mapping)
        else:  # a partial speaker file would make the data dir invalid
            logging.warning("%s does not cover every speaker; not copied", src / extra)
    excluded.sort(key=lambda e: (e.utt, e.reason, e.source))
    carry_forward(src, dst, excluded)
    report.num_utts = len(kept)

    empty = sum(1 for t in new_text.values() if not t)
    logging.info(
        "formatted %s -> %s: %d utterances at %d Hz mono 16-bit %s (%d reused from an earlier run)",
        src,
        dst,
        len(kept),
        fs,
        audio_format,
        report.reused,
    )
    logging.info("fixes: %s", dict(sorted(report.fixes.items())) or "none")
    logging.info(
        "excluded: %s (each with its source file and reason in %s, after those of earlier stages)",
        report.excluded_counts() or "none",
        dst / EXCLUDED_NAME,
    )
    logging.info(
        "text: %d transcripts changed by normalisation, %d empty (dropped at the filter stage)",
        report.text_changed,
        empty,
    )

    excluded_utts = {e.utt for e in excluded}
    total = len(excluded_utts | set(kept))
    if not kept:
        raise DataDirError(
            f"{src}: no usable utterance (all {total} excluded: {report.excluded_counts()}); each is listed in "
            f"{dst / EXCLUDED_NAME}"
        )
    validate_data_dir(dst)
    if len(excluded_utts) > max_excluded_fraction * total:
        raise DataDirError(
            f"{src}: {len(excluded_utts)} of {total} utterances excluded (more than max_excluded_fraction "
            f"{max_excluded_fraction:g}): {report.excluded_counts()}; each is listed in {dst / EXCLUDED_NAME}. "
            "If the data is meant to be like this, raise --max_excluded_fraction; a re-run reuses the converted audio."
        )
    (dst / DONE_MARKER).touch()
    return report
