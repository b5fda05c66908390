"""The embedded synthetic corpus: plan (speakers, sentences, prosody) from a seed, then render
with espeak-ng into LibriSpeech's layout.

Subsets ``train``, ``dev`` and ``test`` (readers numbered from 1000, 2000 and 3000, one chapter
each), and optionally ``train_extra`` (readers from 4000): more unlabelled training speech that
leaves the rest of the corpus byte-identical, as LibriSpeech's train-clean-360 adds to
train-clean-100. Dev and test speakers use (accent, variant) pairs that no training speaker
(train or train_extra) uses, and their sentences come from hash buckets that training never draws
from; make_synth_corpus checks both on the written corpus (verify_held_out). Next to the
transcripts goes LM text in the format of LibriSpeech's (lm_text: ``librispeech-lm-norm.txt``),
drawn from the training buckets only and checked against the dev/test transcripts. The plan is a
pure function of the settings, so a seed gives byte-identical transcripts and LM text and identical
audio.
"""

import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import numpy as np

from espnet_trinet import __version__
from espnet_trinet.data.audio import resample, to_int16
from espnet_trinet.data.corpus_writer import FS, PlannedUtt, Reader, write_librispeech_corpus
from espnet_trinet.data.synth.espeak import check_espeak, synthesize
from espnet_trinet.data.synth.lm_text import LM_TEXT_NAME, check_lm_text, write_lm_text
from espnet_trinet.data.synth.sentences import sample_sentence
from espnet_trinet.data.synth.voices import Voice, assign_voices

SUBSETS = ("train", "dev", "test")
# The optional extension of train (SynthConfig.num_extra_train_speakers), planned after SUBSETS.
EXTRA_SUBSET = "train_extra"
READER_BASE = {"train": 1000, "dev": 2000, "test": 3000, EXTRA_SUBSET: 4000}
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
        num_extra_train_speakers: speakers of the optional subset ``train_extra`` (0: none), each
            with ``utts_per_speaker`` utterances of training sentences, in voices that no other
            speaker uses. Train, dev, test and the LM text stay exactly as without them.
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
    num_extra_train_speakers: int = 0


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


def _plan_subset(
    rng: random.Random,
    config: SynthConfig,
    subset: str,
    voices: Sequence[Voice],
    per_speaker: int,
    used: Set[str],
    readers: List[Reader],
    utts: List[PlannedUtt],
) -> None:
    """Appends the readers and utterances of ``subset`` to ``readers`` and ``utts``; its sentences
    are new to ``used`` (which gets them) and of the sentence split the subset may use."""
    split = "train" if subset == EXTRA_SUBSET else subset
    lo, hi = config.min_sec + 0.3, config.max_sec - 0.6
    for k, voice in enumerate(voices):
        reader = str(READER_BASE[subset] + k)
        chapter = str(int(reader) * 10 + 1)
        readers.append(Reader(reader, voice.sex, subset, voice.describe()))
        for index in range(per_speaker):
            speed, pitch = voice.jitter(rng)

            def acceptable(text: str, speed=speed, gap=voice.word_gap) -> bool:
                return text not in used and lo <= estimate_seconds(text, speed, gap) <= hi

            text = sample_sentence(rng, split, acceptable)
            used.add(text)
            gain = round(rng.uniform(*GAIN_DB_RANGE), 2)
            recipe = (text, voice.espeak_voice, speed, pitch, voice.word_gap, gain, config.min_sec, config.max_sec)
            utts.append(PlannedUtt(subset, reader, chapter, index, text.upper(), recipe))


def plan_synth_corpus(config: SynthConfig) -> Tuple[List[Reader], List[PlannedUtt]]:
    """Speakers and utterances of the corpus; deterministic for a config.

    With ``num_extra_train_speakers``, the plan is the one without them followed by the readers
    and utterances of ``train_extra``.

    Returns:
        (readers, utterances); utterance sentences are unique across the whole corpus.
    Raises:
        ValueError: a negative number of extra speakers, or more speakers than voices.
    """
    if config.num_extra_train_speakers < 0:
        raise ValueError(f"num_extra_train_speakers must be >= 0, not {config.num_extra_train_speakers}")
    rng = random.Random(config.seed)
    counts = [
        ("train", config.num_train_speakers),
        ("dev", config.num_dev_speakers),
        ("test", config.num_test_speakers),
    ]
    state = rng.getstate()
    voices = assign_voices(rng, counts)
    readers: List[Reader] = []
    utts: List[PlannedUtt] = []
    used: Set[str] = set()
    for subset in SUBSETS:
        per_speaker = config.utts_per_speaker if subset == "train" else config.eval_utts_per_speaker
        _plan_subset(rng, config, subset, voices[subset], per_speaker, used, readers, utts)
    if config.num_extra_train_speakers > 0:
        # The same draw with the extra split appended: the shuffle of the (accent, variant) pairs
        # is the same, so the extra speakers get the next pairs, which no base speaker has, and
        # the base voices come out as above (asserted). The utterances draw from a stream of
        # their own, after the base plan, so that nothing above depends on the extension.
        twin = random.Random()
        twin.setstate(state)
        extended = assign_voices(twin, counts + [(EXTRA_SUBSET, config.num_extra_train_speakers)])
        assert all(extended[split] == voices[split] for split, _ in counts), "base voices changed"
        extra_rng = random.Random(f"{config.seed}/{EXTRA_SUBSET}")
        _plan_subset(
            extra_rng, config, EXTRA_SUBSET, extended[EXTRA_SUBSET], config.utts_per_speaker, used, readers, utts
        )
    return readers, utts


def _transcripts(corpus_dir: Path, subset: str) -> Set[str]:
    """The sentences of a subset of a written corpus."""
    return {
        line.split(" ", 1)[1]
        for trans in (corpus_dir / subset).glob("*/*/*.trans.txt")
        for line in trans.read_text().splitlines()
    }


def verify_held_out(corpus_dir: Path) -> None:
    """Asserts on a written corpus that dev/test sentences and voices are unseen in training
    (train, and train_extra where the corpus has it), and, where the corpus has LM text, unseen
    in it.

    Raises:
        AssertionError: naming a shared sentence or voice.
    """
    corpus_dir = Path(corpus_dir)
    # A corpus without train_extra has no sentences or voices there: it verifies as before.
    subsets = SUBSETS + (EXTRA_SUBSET,)
    sentences: Dict[str, Set[str]] = {subset: _transcripts(corpus_dir, subset) for subset in subsets}
    voices: Dict[str, Set[str]] = {s: set() for s in subsets}
    for line in (corpus_dir / "SPEAKERS.TXT").read_text().splitlines():
        if not line.startswith(";"):
            fields = [f.strip() for f in line.split("|")]
            voices[fields[2]].add(fields[4].split()[1])  # "espeak-ng <accent+variant> ..."
    for held_out in ("dev", "test"):
        for train in ("train", EXTRA_SUBSET):
            shared = sentences[held_out] & sentences[train]
            assert not shared, f"{held_out} sentence also in {train}: {sorted(shared)[0]}"
            shared = voices[held_out] & voices[train]
            assert not shared, f"{held_out} voice also in {train}: {sorted(shared)[0]}"
    assert not sentences["dev"] & sentences["test"], "a sentence is in both dev and test"
    if (corpus_dir / LM_TEXT_NAME).exists():
        check_lm_text(corpus_dir / LM_TEXT_NAME, sentences["dev"] | sentences["test"])


def corpus_settings(config: SynthConfig) -> Dict:
    """What settings.json records for ``config`` (make_synth_corpus refuses a corpus made with
    other settings)."""
    settings = asdict(config)
    if not config.num_extra_train_speakers:
        # Left out when 0, so that a corpus made before the option existed keeps its settings
        # and stays valid (a default corpus records exactly what it recorded then).
        del settings["num_extra_train_speakers"]
    # The version is part of the settings: another release may plan other sentences for a seed.
    return {"title": "espnet-trinet synthetic corpus (espeak-ng)", "version": __version__, **settings}


def _readme(config: SynthConfig) -> str:
    recorded = corpus_settings(config)
    settings = "\n".join(f"- {k}: {v}" for k, v in asdict(config).items() if k in recorded)
    extra, training = "", "`train`"
    if config.num_extra_train_speakers:
        training = "`train` or `train_extra`"
        extra = (
            f"\n- `train_extra` (readers 4000...): {config.num_extra_train_speakers} more training speakers, "
            "unlabelled pretraining data\n  (as train-clean-360 is to train-clean-100): the other subsets and the "
            "LM text are exactly\n  those of the corpus without it; no other reader has its voices, no other "
            "utterance its\n  sentences."
        )
    return f"""# Synthetic read-speech corpus (espnet-trinet)

Made by `python -m espnet_trinet.bin.make_synth_corpus` in LibriSpeech's layout:
`<subset>/<reader>/<chapter>/<reader>-<chapter>-<utt>.flac` (16 kHz, mono, 16-bit FLAC) with
`<reader>-<chapter>.trans.txt` transcripts and `SPEAKERS.TXT`.

- Subsets: `train` (readers 1000...), `dev` (2000...), `test` (3000...).{extra}
- Speech: espeak-ng, English accents and voice variants, rate and pitch per speaker,
  jittered per utterance; the exact voice of each reader is in SPEAKERS.TXT.
- Sentences: generated from the grammar and word lists in `espnet_trinet/data/synth/`.
- Dev and test voices (accent + variant) and sentences never occur in {training}.
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
    write_librispeech_corpus(
        output_dir, readers, utts, render_synth, corpus_settings(config), _readme(config), nj=nj, desc="synthesize"
    )
    lm_text = output_dir / LM_TEXT_NAME
    if not lm_text.exists():  # also for a corpus whose run was killed after its audio was done
        held_out = _transcripts(output_dir, "dev") | _transcripts(output_dir, "test")
        write_lm_text(lm_text, config.num_lm_sentences, config.seed, held_out)
    verify_held_out(output_dir)
    trained = "train and train_extra" if config.num_extra_train_speakers else "train"
    logging.info("dev/test sentences and voices verified unseen in %s and in the LM text", trained)
    return output_dir
