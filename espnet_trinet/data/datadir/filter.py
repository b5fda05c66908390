"""Drops utterances that cannot be trained on (recipe stage 4): too short, too long, too short
for the model to encode, empty transcript, or more characters than CTC frames allow; every
dropped utterance is reported, in ``dropped.tsv`` (this step) and in ``excluded.tsv`` (after
the rows of the input dir's report, so it lists the exclusions of every data stage)."""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from espnet_trinet.data.datadir.exclusion_report import REPORT_NAME as EXCLUDED_NAME
from espnet_trinet.data.datadir.exclusion_report import Excluded, carry_forward
from espnet_trinet.data.datadir.kaldi_files import PathLike, copy_filtered, read_map, write_lines

REPORT_NAME = "dropped.tsv"
STEP = "filter"  # the step column of excluded.tsv


@dataclass
class FilterReport:
    """Result of filter_data_dir.

    Attributes:
        num_kept: utterances kept.
        dropped: ``{utt: (reason, detail)}``; reasons: too_short, too_long, too_short_to_encode,
            empty_text, too_many_chars.
    """

    num_kept: int
    dropped: Dict[str, Tuple[str, str]] = field(default_factory=dict)

    def counts(self) -> Dict[str, int]:
        """Number of dropped utterances per reason."""
        return dict(sorted(Counter(reason for reason, _ in self.dropped.values()).items()))


def filter_data_dir(
    data_dir: PathLike,
    out_dir: PathLike,
    min_sec: Optional[float] = None,
    max_sec: Optional[float] = None,
    fs: int = 16000,
    drop_empty_text: bool = True,
    max_chars_per_sec: Optional[float] = None,
    min_encodable_sec: Optional[float] = None,
) -> FilterReport:
    """Writes ``out_dir`` without the utterances that fail a criterion, and ``out_dir/dropped.tsv``.

    Args:
        data_dir: a formatted data dir; utt2num_samples is needed for the duration criteria.
        out_dir: destination data dir.
        min_sec: drop utterances shorter than this.
        max_sec: drop utterances longer than this.
        fs: sampling rate that utt2num_samples counts in.
        drop_empty_text: drop utterances whose transcript is empty.
        max_chars_per_sec: drop utterances whose transcript has more characters per second
            than this (CTC needs at least one encoder frame per output token).
        min_encodable_sec: drop utterances shorter than the shortest input the models can
            encode (see data/min_input_length.py); unlike ``min_sec`` it applies to test sets too.
    Returns:
        a FilterReport; dropped.tsv holds ``utt_id reason detail`` (tab-separated, with a header);
        excluded.tsv the input dir's rows, then one per dropped utterance with its source
        (``utt2source``, else its wav.scp entry).
    """
    src, dst = Path(data_dir), Path(out_dir)
    utt2spk = read_map(src / "utt2spk")
    text = read_map(src / "text") if (src / "text").exists() else None
    needs_duration = any(x is not None for x in (min_sec, max_sec, max_chars_per_sec, min_encodable_sec))
    if needs_duration and not (src / "utt2num_samples").exists():
        raise FileNotFoundError(f"{src}/utt2num_samples is missing: format the audio first (format_datadir)")
    num_samples = {k: int(v) for k, v in read_map(src / "utt2num_samples").items()} if needs_duration else {}

    dropped: Dict[str, Tuple[str, str]] = {}
    for utt in sorted(utt2spk):
        words = text.get(utt, "") if text is not None else None
        if needs_duration:
            sec = num_samples[utt] / fs
            if min_sec is not None and sec < min_sec:
                dropped[utt] = ("too_short", f"{sec:.2f} s < {min_sec:g} s")
                continue
            if max_sec is not None and sec > max_sec:
                dropped[utt] = ("too_long", f"{sec:.2f} s > {max_sec:g} s")
                continue
            if min_encodable_sec is not None and sec < min_encodable_sec:
                dropped[utt] = (
                    "too_short_to_encode",
                    f"{sec:.3f} s < {min_encodable_sec:g} s, the shortest input the models' frontend and "
                    "subsampling can encode",
                )
                continue
        if drop_empty_text and words is not None and not words.strip():
            dropped[utt] = ("empty_text", "")
            continue
        if max_chars_per_sec is not None and words is not None:
            rate = len(words) / max(num_samples[utt] / fs, 1e-9)
            if rate > max_chars_per_sec:
                dropped[utt] = ("too_many_chars", f"{rate:.1f} chars/s > {max_chars_per_sec:g}")
    kept = [u for u in sorted(utt2spk) if u not in dropped]
    copy_filtered(src, dst, kept)
    write_lines(
        dst / REPORT_NAME,
        ["utt_id\treason\tdetail"] + [f"{u}\t{r}\t{d}" for u, (r, d) in sorted(dropped.items())],
    )
    sources = read_map(src / "utt2source") if (src / "utt2source").is_file() else {}
    if dropped and not sources and (src / "wav.scp").is_file():
        sources = read_map(src / "wav.scp")
    carry_forward(
        src, dst, [Excluded(u, STEP, r, sources.get(u, ""), d) for u, (r, d) in sorted(dropped.items())]
    )
    report = FilterReport(num_kept=len(kept), dropped=dropped)
    logging.info(
        "filter %s -> %s: kept %d, dropped %d %s (details in %s; every exclusion of the data stages in %s)",
        src,
        dst,
        len(kept),
        len(dropped),
        report.counts(),
        dst / REPORT_NAME,
        dst / EXCLUDED_NAME,
    )
    return report
