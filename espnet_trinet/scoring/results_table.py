"""RESULTS.md of a recipe: WER/CER of every fine-tuned model on every test set.

Reads the ``scores.json`` files that score_set writes under
``<asr_exp>/<decode_dir>/<test_set>/score_{wer,cer}/`` and writes one markdown table
per unit (a column per test set and decoding: greedy CTC, with the LM), plus the command that
made the numbers and the dirs it read, so the file stays reproducible.
"""

import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch


def read_scores(decode_dir: Path, test_set: str, unit: str) -> Optional[dict]:
    path = Path(decode_dir) / test_set / f"score_{unit}" / "scores.json"
    return json.loads(path.read_text()) if path.exists() else None


def git_revision(path: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(
    models: Sequence[Tuple[str, Path]], decodings: Sequence[Tuple[str, str]], test_sets: Sequence[str], unit: str
) -> List[str]:
    """Markdown rows: one line per model, ``err% (S/D/I of N)`` per test set and decoding, the
    decodings of a set side by side (``<asr_exp>/<decode dir>/<set>``)."""
    columns = [(t, label, tag) for t in test_sets for label, tag in decodings]
    lines = [
        "| model | " + " | ".join(f"{t} {unit.upper()} (%), {label}" for t, label, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, asr_exp in models:
        cells = []
        for test_set, _, tag in columns:
            s = read_scores(Path(asr_exp) / tag, test_set, unit)
            cells.append(
                "not scored"
                if s is None
                else f"{s['error_rate']:.1f} ({s['sub']}/{s['dele']}/{s['ins']} of {s['ref']})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def write_results(
    output: Path,
    models: Sequence[Tuple[str, Path]],
    decodings: Sequence[Tuple[str, str]],
    test_sets: Sequence[str],
    command: str,
    title: str,
    notes: Sequence[str] = (),
) -> str:
    """Writes the results file.

    Args:
        models: (display name, ASR experiment dir) pairs, a row each.
        decodings: (display name, decode dir name) pairs, e.g. ("greedy CTC", "decode_ctc_greedy_asr_model_...");
            every model's ``<asr_exp>/<decode dir>/<test set>`` is read.
    """
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines: List[str] = [
        f"# {title}",
        "",
        "Made by this command (in the recipe folder):",
        "",
        "```sh",
        command,
        "```",
        "",
        f"- date: {now}; code: git {git_revision(Path(output).resolve().parent)}; "
        f"python {platform.python_version()}, torch {torch.__version__}; host {platform.machine()}",
    ]
    lines += [f"- {note}" for note in notes]
    for unit, what in (("wer", "Word error rate"), ("cer", "Character error rate")):
        lines += ["", f"## {what}", "", "(S/D/I of N: substitutions/deletions/insertions of N reference tokens)", ""]
        lines += table(models, decodings, test_sets, unit)
    lines += ["", "## Decode dirs read", ""]
    for name, asr_exp in models:
        dirs = ", ".join(f"`{Path(asr_exp) / tag}`" for _, tag in decodings)
        lines.append(f"- {name}: {dirs}")
    text = "\n".join(lines) + "\n"
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    return text
