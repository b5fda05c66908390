"""The embedded synthetic corpus: plan (speakers, sentences, prosody) from a seed, then render
with espeak-ng into LibriSpeech's layout.

Subsets ``train``, ``dev`` and ``test`` (readers numbered from 1000, 2000 and 3000, one chapter
each). Dev and test speakers use (accent, variant) pairs that no training speaker uses, and their
sentences come from hash buckets that training never draws from; make_synth_corpus checks both
on the written corpus (verify_held_out). Next to the transcripts goes LM text in the format of
LibriSpeech's (lm_text: ``librispeech-lm-norm.txt``), drawn from the training buckets only and
checked against the dev/test transcripts. The plan is a pure function of the settings, so a seed
gives byte-identical transcripts and LM text and identical audio.
"""

import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Set, Tuple

import numpy as np

from espnet_trinet import __version__
from espnet_trinet.data.audio import resample, to_int16
from espnet_trinet.data.corpus_writer import FS, PlannedUtt, Reader, write_librispeech_corpus
from espnet_trinet.data.synth.espeak import check_espeak, synthesize
from espnet_trinet.data.synth.lm_text import LM_TEXT_NAME, check_lm_text, write_lm_text
from espnet_trinet.data.synth.sentences import sample_sentence
from espnet_trinet.data.synth.voices import assign_voices

SUBSETS = ("train", "dev", "test")
READER_BASE = {"train": 1000, "dev": 2000, "test": 3000}
# Seconds ~ a * chars * 175 / speed + b * words * gap + c, fitted on espeak-ng 1.51 output
# with trailing silence trimmed; used to pick sentences of the wanted length.
_SEC_PER_CHAR, _SEC_PER_GAP, _SEC_OFFSET = 0.0487, 0.018, 0.39
# Silence kept after the last sample above the threshold (espeak-ng appends about 0.4 s).
_TAIL_SEC, _SILENCE = 0.15, 1e-3
GAIN_DB_RANGE = (-8.0, -1.0)


@dataclass(frozen=True)
class SynthConfig:
    """Size and seed of the synthetic corpus (defaults: the tiny CPU recipe, ~600 utterances).

    Attributes:
        seed: everything random derives from it.
        num_train_speakers, num_dev_speakers, num_test_speakers: speakers per subset.
        utts_per_speaker: utterances per training speaker.
        eval_utts_per_speaker: utterances per dev/test speaker.
        min_sec, max_sec: utterance duration limits (enforced after synthesis).
        num_lm_sentences: lines of the LM text (librispeech-lm-norm.txt).
    """

    seed: int = 0
    num_train_speakers: int = 20
    num_dev_speakers: int = 4
    num_test_speakers: int = 4
    utts_per_speaker: int = 24
    eval_utts_per_speaker: int = 15
    min_sec: float = 1.5
    max_sec: float = 5.0
    num_lm_sentences: int = 20000


def estimate_seconds(text: str, speed: int, word_gap: int) -> float:
    """Expected duration of ``text`` spoken at ``speed`` words per minute with ``word_gap``."""
    return _SEC_PER_CHAR * len(text) * 175 / speed + _SEC_PER_GAP * len(text.split()) * word_gap + _SEC_OFFSET


def _trim_tail(samples: np.ndarray, fs: int) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > _SILENCE)
    end = len(samples) if len(loud) == 0 else min(len(samples), loud[-1] + 1 + int(_TAIL_SEC * fs))
    return samples[:end]


def render_synth(utt: PlannedUtt) -> np.ndarray:
    """int16 samples (T,) at 16 kHz for a planned synthetic utterance.

    The recipe is ``(text, voice, speed, pitch, word_gap, gain_db, min_sec, max_sec)``. If the
    result falls outside [min_sec, max_sec], it is spoken again at a rate that fits (a pure
    function of the recipe, hence still deterministic).
    """
    text, voice, speed, pitch, gap, gain_db, min_sec, max_sec = utt.recipe
    samples, fs = synthesize(text, voice, speed, pitch, gap)
    samples = _trim_tail(samples, fs)
    seconds = len(samples) / fs
    if not min_sec <= seconds <= max_sec:
        target = max_sec * 0.95 if seconds > max_sec else min_sec * 1.1
        samples, fs = synthesize(text, voice, round(speed * seconds / target), pitch, gap)
        samples = _trim_tail(samples, fs)
    samples = resample(samples, fs, FS) * np.float32(10 ** (gain_db / 20))
    return to_int16(samples)[0]


def plan_synth_corpus(config: SynthConfig) -> Tuple[List[Reader], List[PlannedUtt]]:
    """Speakers and utterances of the corpus; deterministic for a config.

    Returns:
        (readers, utterances); utterance sentences are unique across the whole corpus.
    """
    rng = random.Random(config.seed)
    counts = [
        ("train", config.num_train_speakers),
        ("dev", config.num_dev_speakers),
        ("test", config.num_test_speakers),
    ]
    voices = assign_voices(rng, counts)
    readers: List[Reader] = []
    utts: List[PlannedUtt] = []
    used: Set[str] = set()
    lo, hi = config.min_sec + 0.3, config.max_sec - 0.6
    for subset in SUBSETS:
        per_speaker = config.utts_per_speaker if subset == "train" else config.eval_utts_per_speaker
        for k, voice in enumerate(voices[subset]):
            reader = str(READER_BASE[subset] + k)
            chapter = str(int(reader) * 10 + 1)
            readers.append(Reader(reader, voice.sex, subset, voice.describe()))
            for index in range(per_speaker):
                speed, pitch = voice.jitter(rng)

                def acceptable(text: str, speed=speed, gap=voice.word_gap) -> bool:
                    return text not in used and lo <= estimate_seconds(text, speed, gap) <= hi

                text = sample_sentence(rng, subset, acceptable)
                used.add(text)
                gain = round(rng.uniform(*GAIN_DB_RANGE), 2)
                recipe = (text, voice.espeak_voice, speed, pitch, voice.word_gap, gain, config.min_sec, config.max_sec)
                utts.append(PlannedUtt(subset, reader, chapter, index, text.upper(), recipe))
    return readers, utts


def _transcripts(corpus_dir: Path, subset: str) -> Set[str]:
    """The sentences of a subset of a written corpus."""
    return {
        line.split(" ", 1)[1]
        for trans in (corpus_dir / subset).glob("*/*/*.trans.txt")
        for line in trans.read_text().splitlines()
    }


def verify_held_out(corpus_dir: Path) -> None:
    """Asserts on a written corpus that dev/test sentences and voices are unseen in training,
    and, where the corpus has LM text, unseen in it.

    Raises:
        AssertionError: naming a shared sentence or voice.
    """
    corpus_dir = Path(corpus_dir)
    sentences: Dict[str, Set[str]] = {subset: _transcripts(corpus_dir, subset) for subset in SUBSETS}
    voices: Dict[str, Set[str]] = {s: set() for s in SUBSETS}
    for line in (corpus_dir / "SPEAKERS.TXT").read_text().splitlines():
        if not line.startswith(";"):
            fields = [f.strip() for f in line.split("|")]
            voices[fields[2]].add(fields[4].split()[1])  # "espeak-ng <accent+variant> ..."
    for held_out in ("dev", "test"):
        shared = sentences[held_out] & sentences["train"]
        assert not shared, f"{held_out} sentence also in train: {sorted(shared)[0]}"
        shared = voices[held_out] & voices["train"]
        assert not shared, f"{held_out} voice also in train: {sorted(shared)[0]}"
    assert not sentences["dev"] & sentences["test"], "a sentence is in both dev and test"
    if (corpus_dir / LM_TEXT_NAME).exists():
        check_lm_text(corpus_dir / LM_TEXT_NAME, sentences["dev"] | sentences["test"])


def _readme(config: SynthConfig) -> str:
    settings = "\n".join(f"- {k}: {v}" for k, v in asdict(config).items())
    return f"""# Synthetic read-speech corpus (espnet-trinet)

Made by `python -m espnet_trinet.bin.make_synth_corpus` in LibriSpeech's layout:
`<subset>/<reader>/<chapter>/<reader>-<chapter>-<utt>.flac` (16 kHz, mono, 16-bit FLAC) with
`<reader>-<chapter>.trans.txt` transcripts and `SPEAKERS.TXT`.

- Subsets: `train` (readers 1000...), `dev` (2000...), `test` (3000...).
- Speech: espeak-ng, English accents and voice variants, rate and pitch per speaker,
  jittered per utterance; the exact voice of each reader is in SPEAKERS.TXT.
- Sentences: generated from the grammar and word lists in `espnet_trinet/data/synth/`.
- Dev and test voices (accent + variant) and sentences never occur in `train`.
- LM text: `librispeech-lm-norm.txt`, {config.num_lm_sentences} sentences from the same grammar
  in the format of LibriSpeech's LM corpus (openslr 11), none of them a dev or test sentence.

Settings:
{settings}
"""


def make_synth_corpus(output_dir: Path, config: SynthConfig = SynthConfig(), nj: int = 1) -> Path:
    """Plans, renders and checks the synthetic corpus and writes its LM text (resumable; a
    finished corpus is skipped).

    Args:
        output_dir: corpus root (``<output_dir>/train/...``).
        config: sizes and seed.
        nj: parallel synthesis processes.
    Returns:
        ``output_dir``.
    """
    check_espeak()
    output_dir = Path(output_dir)
    readers, utts = plan_synth_corpus(config)
    # The version is part of the settings: another release may plan other sentences for a seed.
    settings = {"title": "espnet-trinet synthetic corpus (espeak-ng)", "version": __version__, **asdict(config)}
    write_librispeech_corpus(
        output_dir, readers, utts, render_synth, settings, _readme(config), nj=nj, desc="synthesize"
    )
    lm_text = output_dir / LM_TEXT_NAME
    if not lm_text.exists():  # also for a corpus whose run was killed after its audio was done
        held_out = _transcripts(output_dir, "dev") | _transcripts(output_dir, "test")
        write_lm_text(lm_text, config.num_lm_sentences, config.seed, held_out)
    verify_held_out(output_dir)
    logging.info("dev/test sentences and voices verified unseen in train and in the LM text")
    return output_dir
