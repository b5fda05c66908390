"""Score a decoded set against its reference: per-utterance and summed WER/CER.

Writes ESPnet's layout, ``<decode_dir>/score_{wer,cer}/result.txt`` (a readable
summary plus per-utterance lines) and ``scores.json`` (the numbers RESULTS.md uses).
"""

import json
from pathlib import Path
from typing import Callable, Dict, List

from espnet_trinet.scoring.error_rate import ErrorCounts, align_counts, chars, words

UNITS: Dict[str, Callable[[str], List[str]]] = {"wer": words, "cer": chars}


class ScoringError(ValueError):
    """The hypothesis and reference files do not describe the same utterances."""


def read_text(path: Path) -> Dict[str, str]:
    """``<utt-id> <words...>`` lines (Kaldi ``text``); an id without words is an empty text."""
    entries: Dict[str, str] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        utt, _, text = line.strip().partition(" ")
        if utt in entries:
            raise ScoringError(f"{path}:{lineno}: duplicate utterance id {utt}")
        entries[utt] = text.strip()
    return entries


def score_set(ref_file: Path, hyp_file: Path, output_dir: Path) -> Dict[str, dict]:
    """Scores ``hyp_file`` against ``ref_file`` and writes ``output_dir/score_{wer,cer}``.

    A reference utterance missing from the hypotheses scores as all deletions (a decoding
    job that lost utterances must not look better); a hypothesis for an unknown id is an error.

    Returns:
        {"wer": counts dict, "cer": counts dict}, each with error_rate in percent.
    """
    refs, hyps = read_text(ref_file), read_text(hyp_file)
    unknown = sorted(set(hyps) - set(refs))
    if unknown:
        raise ScoringError(f"{hyp_file}: {len(unknown)} ids are not in {ref_file}, e.g. {unknown[0]}")
    missing = sorted(set(refs) - set(hyps))
    summary = {}
    for unit, tokenize in UNITS.items():
        total = ErrorCounts()
        lines = []
        for utt in sorted(refs):
            counts = align_counts(tokenize(refs[utt]), tokenize(hyps.get(utt, "")))
            total.add(counts)
            lines.append(
                f"{utt}\tS={counts.sub} D={counts.dele} I={counts.ins} N={counts.ref}\n"
                f"  REF: {refs[utt]}\n  HYP: {hyps.get(utt, '<missing>')}"
            )
        result = total.as_dict()
        result["missing_hyps"] = len(missing)
        summary[unit] = result
        out = Path(output_dir) / f"score_{unit}"
        out.mkdir(parents=True, exist_ok=True)
        header = (
            f"{unit.upper()} {total.error_rate:.2f} % [ {total.errors} / {total.ref}, "
            f"{total.sub} sub, {total.dele} del, {total.ins} ins ]  "
            f"sentences: {total.sentences} ({total.sentence_errors} with errors)  "
            f"missing hypotheses: {len(missing)}\n"
            f"ref: {ref_file}\nhyp: {hyp_file}\n\n"
        )
        (out / "result.txt").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
        (out / "scores.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return summary
