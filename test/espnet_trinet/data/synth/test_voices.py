import random
import shutil
import subprocess

import pytest

from espnet_trinet.data.synth.voices import ACCENTS, PITCH_JITTER, VARIANTS, all_voice_pairs, assign_voices


def test_assign_voices_gives_disjoint_pairs():
    voices = assign_voices(random.Random(0), [("train", 20), ("dev", 4), ("test", 4)])
    pairs = {s: {(v.accent, v.variant) for v in vs} for s, vs in voices.items()}
    assert [len(p) for p in pairs.values()] == [20, 4, 4]
    assert not pairs["train"] & pairs["dev"] and not pairs["train"] & pairs["test"] and not pairs["dev"] & pairs["test"]
    assert voices == assign_voices(random.Random(0), [("train", 20), ("dev", 4), ("test", 4)])


def test_too_many_speakers():
    with pytest.raises(ValueError, match="accent/variant pairs"):
        assign_voices(random.Random(0), [("train", len(all_voice_pairs()) + 1)])


def test_jitter_stays_near_the_speaker():
    voice = assign_voices(random.Random(0), [("train", 1)])["train"][0]
    rng = random.Random(1)
    for _ in range(50):
        speed, pitch = voice.jitter(rng)
        assert abs(speed - voice.speed) <= 0.07 * voice.speed and abs(pitch - voice.pitch) <= PITCH_JITTER


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_accents_and_variants_exist_in_espeak():
    # espeak-ng silently ignores an unknown variant, so check the names against its own lists.
    accents = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True).stdout.split()
    variants = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True).stdout
    assert all(a in accents for a in ACCENTS)
    assert all(f"!v/{v}" in variants.split() for v in VARIANTS)
