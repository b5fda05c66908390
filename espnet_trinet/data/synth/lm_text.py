"""LM training text of the synthetic corpus, in the format of LibriSpeech's LM corpus
(openslr resource 11, ``librispeech-lm-norm.txt``): one normalised upper-case sentence per line.

LibriSpeech's LM text leaves out the books of its dev and test sets; this one is drawn only from
the training hash buckets of the grammar (sentences.sentence_split), so it cannot contain a dev or
test sentence of any corpus made from the grammar, whatever its seed or size. Training sentences
may occur in it, as in LibriSpeech. Text only: 20,000 sentences take about a second.
"""

import logging
import os
import random
from pathlib import Path
from typing import Iterable, List, Set, Tuple

from espnet_trinet.data.synth.sentences import generate_sentence, sentence_split
from espnet_trinet.data.text_norm import normalize_transcript

LM_TEXT_NAME = "librispeech-lm-norm.txt"


def generate_lm_sentences(num: int, seed: int, held_out: Iterable[str] = ()) -> Tuple[List[str], int, int]:
    """``num`` normalised sentences of the training buckets; deterministic for ``seed``.

    Args:
        num: sentences wanted.
        seed: random seed (its own stream: the corpus plan of the same seed is not affected).
        held_out: dev/test transcripts, only to count how many candidates repeat one.
    Returns:
        (sentences, candidates dropped from the dev/test buckets, how many of those are a
        transcript in ``held_out``).
    """
    held = {normalize_transcript(t) for t in held_out}
    rng = random.Random(f"lm-text {seed}")
    lines: List[str] = []
    dropped = repeats = 0
    while len(lines) < num:
        text = generate_sentence(rng)
        # Generated sentences are lower-case ASCII words, so upper() is their normalised form.
        if sentence_split(text) != "train":
            dropped += 1
            repeats += text.upper() in held
            continue
        lines.append(text.upper())
    return lines, dropped, repeats


def check_lm_text(path: Path, held_out: Iterable[str]) -> int:
    """Asserts that no line of the LM text at ``path`` is a dev/test transcript (both normalised).

    Returns:
        the number of lines.
    Raises:
        AssertionError: naming the first such line.
    """
    held: Set[str] = {normalize_transcript(t) for t in held_out}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        assert normalize_transcript(line) not in held, f"{path}:{number} is a dev/test transcript: {line}"
    return len(lines)


def write_lm_text(path: Path, num: int, seed: int, held_out: Iterable[str]) -> Path:
    """Writes ``num`` LM sentences to ``path`` (atomically) and checks them against ``held_out``.

    Args:
        path: the file, e.g. ``<corpus>/librispeech-lm-norm.txt``.
        num, seed: as in generate_lm_sentences.
        held_out: every dev and test transcript of the corpus.
    Returns:
        ``path``.
    """
    held_out = list(held_out)
    lines, dropped, repeats = generate_lm_sentences(num, seed, held_out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    check_lm_text(path, held_out)
    logging.info(
        "wrote %d LM sentences to %s; dropped %d candidates of the dev/test buckets, %d of them a dev/test "
        "transcript of this corpus; checked: no line is a dev/test transcript",
        len(lines),
        path,
        dropped,
        repeats,
    )
    return path
