"""Speakers of the synthetic corpus: an espeak-ng accent, a voice variant, a speaking rate and a
pitch, with per-utterance jitter. Each (accent, variant) pair belongs to at most one speaker, so
dev and test speakers are voices never heard in training.
"""

import random
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

# espeak-ng's English accents (``espeak-ng --voices=en``; the MBROLA ones need extra packages).
ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)

# Voice variants (``espeak-ng --voices=variant``) that sound like a plain human speaker;
# whispering, croaking and robotic variants are left out. Name -> sex.
VARIANTS: Dict[str, str] = {
    "m1": "M",
    "m2": "M",
    "m3": "M",
    "m4": "M",
    "m5": "M",
    "m6": "M",
    "m7": "M",
    "m8": "M",
    "Andy": "M",
    "travis": "M",
    "quincy": "M",
    "paul": "M",
    "max": "M",
    "adam": "M",
    "david": "M",
    "benjamin": "M",
    "edward": "M",
    "john": "M",
    "rob": "M",
    "f1": "F",
    "f2": "F",
    "f3": "F",
    "f4": "F",
    "f5": "F",
    "Annie": "F",
    "Alicia": "F",
    "belinda": "F",
    "linda": "F",
    "steph": "F",
    "aunty": "F",
    "Andrea": "F",
}

# espeak-ng rate in words per minute (its default is 175) and pitch on its 0-99 scale.
SPEED_RANGE = (140, 200)
PITCH_RANGE = (30, 70)
SPEED_JITTER = 0.06  # relative, per utterance
PITCH_JITTER = 6  # absolute, per utterance


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker.

    Attributes:
        accent: espeak-ng voice, e.g. ``en-gb-scotland``.
        variant: espeak-ng variant, e.g. ``f2``.
        sex: ``M`` or ``F``.
        speed: rate in words per minute.
        pitch: base pitch, 0-99.
        word_gap: extra pause between words in units of 10 ms.
    """

    accent: str
    variant: str
    sex: str
    speed: int
    pitch: int
    word_gap: int

    @property
    def espeak_voice(self) -> str:
        return f"{self.accent}+{self.variant}"

    def describe(self) -> str:
        """One-line description for SPEAKERS.TXT."""
        return f"espeak-ng {self.espeak_voice} speed {self.speed} pitch {self.pitch} gap {self.word_gap}"

    def jitter(self, rng: random.Random) -> Tuple[int, int]:
        """(speed, pitch) of one utterance: the speaker's values, slightly varied."""
        speed = round(self.speed * rng.uniform(1 - SPEED_JITTER, 1 + SPEED_JITTER))
        pitch = min(99, max(0, self.pitch + rng.randint(-PITCH_JITTER, PITCH_JITTER)))
        return speed, pitch


def all_voice_pairs() -> List[Tuple[str, str]]:
    """Every (accent, variant) pair, in a fixed order."""
    return [(a, v) for a in ACCENTS for v in VARIANTS]


def assign_voices(rng: random.Random, counts: Sequence[Tuple[str, int]]) -> Dict[str, List[Voice]]:
    """Draws disjoint speakers for each split.

    Args:
        rng: random source.
        counts: ``[(split, number_of_speakers), ...]`` e.g. ``[("train", 20), ("dev", 4)]``.
    Returns:
        ``{split: [Voice, ...]}``; no (accent, variant) pair is shared between speakers.
    Raises:
        ValueError: more speakers than (accent, variant) pairs.
    """
    pairs = all_voice_pairs()
    needed = sum(n for _, n in counts)
    if needed > len(pairs):
        raise ValueError(f"{needed} speakers requested, but only {len(pairs)} accent/variant pairs exist")
    rng.shuffle(pairs)
    voices: Dict[str, List[Voice]] = {}
    start = 0
    for split, n in counts:
        voices[split] = [
            Voice(
                accent=accent,
                variant=variant,
                sex=VARIANTS[variant],
                speed=rng.randint(*SPEED_RANGE),
                pitch=rng.randint(*PITCH_RANGE),
                word_gap=rng.choice([0, 0, 1, 2]),
            )
            for accent, variant in pairs[start : start + n]
        ]
        start += n
    return voices
