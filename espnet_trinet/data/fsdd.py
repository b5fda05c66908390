"""Connected-digit utterances from the Free Spoken Digit Dataset (FSDD), in LibriSpeech's layout.

FSDD holds ``recordings/{digit}_{speaker}_{index}.wav`` (8 kHz mono, 6 speakers, 50 takes of each
digit). Clips of one speaker are shuffled and joined, 2 to 5 at a time with short pauses, into
utterances such as ``THREE ONE FOUR``, resampled to 16 kHz. Every clip is used exactly once.

Splits follow FSDD's convention: takes 0-4 are ``test``; of the training takes 5-49, takes 5-9 are
held out as ``dev`` and 10-49 are ``train``. Readers are numbered 101... in the order of the sorted
speaker names (names in SPEAKERS.TXT, which lists each reader once, under train, with its minutes
over all subsets); chapter ``<reader>1`` is train, ``<reader>2`` dev, ``<reader>3`` test. FSDD is licensed CC BY-SA 4.0; the README written with the corpus keeps the
attribution.
"""

import logging
import random
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import soundfile as sf

from espnet_trinet import __version__
from espnet_trinet.data.audio import downmix, resample, to_int16
from espnet_trinet.data.corpus_writer import FS, PlannedUtt, Reader, write_librispeech_corpus
from espnet_trinet.data.datadir.kaldi_files import PathLike

DIGIT_WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
CLIP_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<index>\d+)\.wav$")
SPLIT_CHAPTER = {"train": "1", "dev": "2", "test": "3"}
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"


def split_of_index(index: int, dev_indices: Sequence[int] = range(5, 10)) -> str:
    """FSDD split of a take: 0-4 test, ``dev_indices`` dev, the rest train."""
    if index < 5:
        return "test"
    return "dev" if index in dev_indices else "train"


def find_clips(fsdd_dir: PathLike) -> Dict[str, List[Tuple[int, int, Path]]]:
    """``{speaker: [(digit, index, path), ...]}`` sorted, from ``<fsdd_dir>/recordings``.

    Raises:
        FileNotFoundError: with where to get FSDD, if the folder or its recordings are missing.
    """
    recordings = Path(fsdd_dir) / "recordings"
    clips: Dict[str, List[Tuple[int, int, Path]]] = {}
    if recordings.is_dir():
        for path in sorted(recordings.glob("*.wav")):
            match = CLIP_NAME.match(path.name)
            if match:
                clips.setdefault(match.group("speaker"), []).append(
                    (int(match.group("digit")), int(match.group("index")), path)
                )
    if not clips:
        raise FileNotFoundError(
            f"no FSDD recordings found in {recordings} (expected recordings/<digit>_<speaker>_<index>.wav); "
            f"get the Free Spoken Digit Dataset from {FSDD_URL} and pass its folder with --fsdd_dir"
        )
    return {s: sorted(c) for s, c in sorted(clips.items())}


def group_sizes(rng: random.Random, total: int, min_len: int, max_len: int) -> List[int]:
    """Random group sizes in [min_len, max_len] that add up to ``total`` (>= min_len)."""
    sizes = []
    remaining = total
    while remaining > 0:
        size = min(rng.randint(min_len, max_len), remaining)
        leftover = remaining - size
        if 0 < leftover < min_len:
            # Never leave a remainder too small to form a group of its own.
            size = remaining if remaining <= max_len else remaining - min_len
        sizes.append(size)
        remaining -= size
    return sizes


def render_fsdd(utt: PlannedUtt) -> np.ndarray:
    """int16 samples (T,) at 16 kHz: the clips of ``utt.recipe = (paths, pauses_sec)`` joined,
    with ``pauses_sec[0]`` of silence before the first clip and ``pauses_sec[i]`` after clip i."""
    paths, pauses = utt.recipe
    pieces = [np.zeros(int(pauses[0] * FS), dtype=np.float32)]
    for path, pause in zip(paths, pauses[1:]):
        samples, fs = sf.read(path, dtype="float32", always_2d=True)
        pieces.append(resample(downmix(samples), fs, FS))
        pieces.append(np.zeros(int(pause * FS), dtype=np.float32))
    return to_int16(np.concatenate(pieces))[0]


def plan_fsdd_corpus(
    fsdd_dir: PathLike, seed: int = 0, min_digits: int = 2, max_digits: int = 5
) -> Tuple[List[Reader], List[PlannedUtt]]:
    """Readers and connected-digit utterances; deterministic for a seed.

    Args:
        fsdd_dir: FSDD checkout (with ``recordings/``).
        seed: shuffling and pause seed.
        min_digits, max_digits: digits per utterance.
    """
    if not 1 <= min_digits <= max_digits:
        raise ValueError("need 1 <= min_digits <= max_digits")
    rng = random.Random(seed)
    readers, utts = [], []
    for number, (speaker, clips) in enumerate(find_clips(fsdd_dir).items()):
        reader = str(101 + number)
        for subset, chapter_code in SPLIT_CHAPTER.items():
            chapter = reader + chapter_code
            readers.append(Reader(reader, "M", subset, f"FSDD {speaker}"))
            chosen = [(d, p) for d, i, p in clips if split_of_index(i) == subset]
            rng.shuffle(chosen)
            start = 0
            for index, size in enumerate(group_sizes(rng, len(chosen), min_digits, max_digits)):
                group = chosen[start : start + size]
                start += size
                pauses = tuple([round(rng.uniform(0.1, 0.3), 3)] + [round(rng.uniform(0.05, 0.25), 3) for _ in group])
                text = " ".join(DIGIT_WORDS[d] for d, _ in group)
                utts.append(PlannedUtt(subset, reader, chapter, index, text, (tuple(str(p) for _, p in group), pauses)))
    # SPEAKERS.TXT has one line per reader; list each under train, where most of its speech is.
    unique = {r.reader: r for r in readers if r.subset == "train"}
    return list(unique.values()), utts


def make_fsdd_corpus(
    fsdd_dir: PathLike, output_dir: PathLike, seed: int = 0, min_digits: int = 2, max_digits: int = 5, nj: int = 1
) -> Path:
    """Writes the connected-digit corpus (resumable; a finished corpus is skipped).

    Args:
        fsdd_dir: FSDD checkout, e.g. ``../shared/data/fsdd``.
        output_dir: corpus root (``<output_dir>/{train,dev,test}/...``).
        seed: shuffling and pause seed.
        min_digits, max_digits: digits per utterance.
        nj: parallel processes.
    Returns:
        ``output_dir``.
    """
    readers, utts = plan_fsdd_corpus(fsdd_dir, seed, min_digits, max_digits)
    settings = {
        "title": "espnet-trinet connected digits from FSDD (CC BY-SA 4.0)",
        "version": __version__,
        "seed": seed,
        "min_digits": min_digits,
        "max_digits": max_digits,
    }
    write_librispeech_corpus(output_dir, readers, utts, render_fsdd, settings, _readme(settings), nj=nj, desc="fsdd")
    logging.info("FSDD connected digits in %s", output_dir)
    return Path(output_dir)


def _readme(settings: dict) -> str:
    return f"""# Connected digits from the Free Spoken Digit Dataset

Derived from the Free Spoken Digit Dataset (FSDD), {FSDD_URL},
by Zohar Jackson (GitHub: Jakobovski) and contributors, licensed under the Creative Commons
Attribution-ShareAlike 4.0 International licence (CC BY-SA 4.0,
https://creativecommons.org/licenses/by-sa/4.0/). This derived data is shared under the same licence.

Changes: clips of one speaker were joined, {settings['min_digits']} to {settings['max_digits']} at a
time with short pauses, into connected-digit utterances, resampled from 8 kHz to 16 kHz, and written
in LibriSpeech's layout by `python -m espnet_trinet.bin.make_fsdd_corpus` (seed {settings['seed']}).

Splits: takes 0-4 of each digit and speaker are `test`, takes 5-9 `dev`, takes 10-49 `train`.
Readers 101... are the FSDD speakers in alphabetical order (see SPEAKERS.TXT).
"""
