"""Recipe stage 3: dumps a data dir to uniform audio (16 kHz, mono, 16-bit) with
``utt2num_samples``, excluding what cannot be used instead of failing the whole stage.

Excluded utterances go to ``<out_dir>/excluded.tsv`` (``utt_id reason source detail``), with
these reasons:

- ``duplicate_id``: the id occurs more than once in wav.scp or text (all its lines are excluded,
  since which one is right cannot be known);
- ``no_transcript`` / ``no_audio`` / ``no_speaker``: the id lacks a text, wav.scp or utt2spk entry;
- ``bad_id``: the utterance or speaker id contains ``/`` and cannot name a file;
- ``missing_file``, ``permission_denied``, ``empty_file``, ``unreadable_audio``, ``zero_samples``,
  ``non_finite_samples``, ``pipe_failed``: the audio could not be read (see audio_io).

Fixes (``resampled``, ``downmixed``, ``bit_depth_converted``, ``clipped``) are counted in the log.
Transcripts are normalised by text_norm (upper case, punctuation removed, non-ASCII letters
transliterated, other non-ASCII removed).

Resumable: each audio file is written under a temporary name and renamed, and an existing
output file is reused; ``<out_dir>/.done`` marks a finished stage, which a re-run skips.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import soundfile as sf

from espnet_trinet.data.audio import downmix, resample, to_int16, write_audio_atomic
from espnet_trinet.data.audio_io import AudioReadError, load_wav_scp_entry
from espnet_trinet.data.datadir.kaldi_files import (
    PathLike,
    read_entries,
    read_map,
    utt2spk_to_spk2utt,
    write_lines,
    write_map,
    write_spk2utt,
)
from espnet_trinet.data.datadir.validate import validate_data_dir
from espnet_trinet.data.parallel import parallel_map
from espnet_trinet.data.text_norm import normalize_transcript

DONE_MARKER = ".done"
EXCLUDED_NAME = "excluded.tsv"


@dataclass(frozen=True)
class Excluded:
    """One excluded utterance (an id may appear once per offending line)."""

    utt: str
    reason: str
    source: str
    detail: str


@dataclass
class FormatReport:
    """What format_data_dir did.

    Attributes:
        num_utts: utterances written to the output data dir.
        excluded: every exclusion, also in excluded.tsv.
        fixes: count per fix (resampled, downmixed, bit_depth_converted, clipped).
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
        return dict(sorted(Counter(r for _, r in {(e.utt, e.reason) for e in self.excluded}).items()))


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
    excluded = []
    with open(out_dir / EXCLUDED_NAME, encoding="utf-8") as f:
        next(f)
        for line in f:
            utt, reason, source, detail = line.rstrip("\n").split("\t")
            excluded.append(Excluded(utt, reason, source, detail))
    num_utts = len(read_map(out_dir / "wav.scp"))
    return FormatReport(num_utts=num_utts, excluded=excluded, already_done=True)


def format_data_dir(
    in_dir: PathLike,
    out_dir: PathLike,
    fs: int = 16000,
    audio_format: str = "flac",
    nj: int = 1,
    overwrite: bool = False,
) -> FormatReport:
    """Converts every utterance of ``in_dir`` to ``fs`` Hz mono 16-bit under ``out_dir/data/``.

    Args:
        in_dir: Kaldi data dir with wav.scp, text, utt2spk; ``spk2*`` files (spk2gender) are kept,
            other ``utt2*`` files are not (utt2num_samples is measured anew).
        out_dir: output data dir: wav.scp (paths under ``out_dir/data/<spk>/<utt>.<ext>``, as
            given: relative if ``out_dir`` is relative, like ESPnet's dump dirs), utt2num_samples,
            text, utt2spk, spk2utt, excluded.tsv, .done.
        fs: target sampling rate in Hz.
        audio_format: ``flac`` or ``wav``.
        nj: parallel worker processes.
        overwrite: convert again even if the stage is done or an output file exists.
    Returns:
        a FormatReport, also summarised in the log.
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
    wav_entries = read_entries(src / "wav.scp")
    text_entries = read_entries(src / "text")
    utt2spk = read_map(src / "utt2spk")

    wav_count = Counter(e.key for e in wav_entries)
    text_count = Counter(e.key for e in text_entries)
    duplicated = {k for k, n in wav_count.items() if n > 1} | {k for k, n in text_count.items() if n > 1}
    for e in wav_entries:
        if wav_count[e.key] > 1:
            excluded.append(Excluded(e.key, "duplicate_id", e.value, f"{wav_count[e.key]} lines in wav.scp"))
    for e in text_entries:
        if text_count[e.key] > 1:
            excluded.append(
                Excluded(e.key, "duplicate_id", f"{src / 'text'}:{e.line}", f"{text_count[e.key]} lines in text")
            )
    wav = {e.key: e.value for e in wav_entries if e.key not in duplicated}
    text = {e.key: (e.value, e.line) for e in text_entries if e.key not in duplicated}

    tasks = []
    for utt in sorted(wav):
        if utt not in text:
            excluded.append(Excluded(utt, "no_transcript", wav[utt], "no entry in text"))
        elif utt not in utt2spk:
            excluded.append(Excluded(utt, "no_speaker", wav[utt], "no entry in utt2spk"))
        elif "/" in utt or "/" in utt2spk[utt]:
            excluded.append(Excluded(utt, "bad_id", wav[utt], "'/' in utterance or speaker id"))
        else:
            out_path = dst / "data" / utt2spk[utt] / f"{utt}.{audio_format}"
            tasks.append(_Task(utt, wav[utt], str(out_path), fs, audio_format, overwrite))
    for utt in sorted(text.keys() - wav.keys()):
        excluded.append(Excluded(utt, "no_audio", f"{src / 'text'}:{text[utt][1]}", "no entry in wav.scp"))

    num_samples: Dict[str, int] = {}
    out_paths = {t.utt: t.out_path for t in tasks}
    results = list(parallel_map(_convert, tasks, nj, desc=f"format {src.name}"))
    for utt, n, fixes, error, reused in results:
        if error is not None:
            excluded.append(Excluded(utt, error[0], wav[utt], error[1]))
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
    write_lines(
        dst / EXCLUDED_NAME,
        ["utt_id\treason\tsource\tdetail"] + [f"{e.utt}\t{e.reason}\t{e.source}\t{e.detail}" for e in excluded],
    )
    validate_data_dir(dst)
    report.num_utts = len(kept)
    (dst / DONE_MARKER).touch()

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
    logging.info("excluded: %s (details in %s)", report.excluded_counts() or "none", dst / EXCLUDED_NAME)
    logging.info(
        "text: %d transcripts changed by normalisation, %d empty (dropped at the filter stage)",
        report.text_changed,
        empty,
    )
    return report
