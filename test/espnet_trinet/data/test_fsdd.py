"""FSDD connected digits: planning on a small fake FSDD, and the real one when it is present."""

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.data.datadir import read_map, validate_data_dir
from espnet_trinet.data.fsdd import (
    DIGIT_WORDS,
    group_sizes,
    make_fsdd_corpus,
    plan_fsdd_corpus,
    render_fsdd,
    split_of_index,
)
from espnet_trinet.data.librispeech import prepare_librispeech

REAL_FSDD = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fsdd"


@pytest.fixture
def fake_fsdd(tmp_path):
    """2 speakers x 10 digits x 12 takes of short 8 kHz tones."""
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for speaker in ("bob", "al"):
        for digit in range(10):
            for index in range(12):
                sf.write(
                    rec / f"{digit}_{speaker}_{index}.wav",
                    np.full(800, 0.01 * (digit + 1), dtype=np.float32),
                    8000,
                    subtype="PCM_16",
                )
    return tmp_path / "fsdd"


def test_group_sizes_cover_everything_within_bounds():
    rng = random.Random(0)
    for total in range(2, 60):
        sizes = group_sizes(rng, total, 2, 5)
        assert sum(sizes) == total and all(2 <= s <= 5 for s in sizes)


def test_conventional_split():
    assert [split_of_index(i) for i in (0, 4, 5, 9, 10, 49)] == ["test", "test", "dev", "dev", "train", "train"]


def test_plan_uses_every_clip_once_in_its_split(fake_fsdd):
    readers, utts = plan_fsdd_corpus(fake_fsdd, seed=0)
    assert [r.reader for r in readers] == ["101", "102"] and readers[0].name == "FSDD al"
    clips = [p for u in utts for p in u.recipe[0]]
    assert len(clips) == len(set(clips)) == 2 * 10 * 12
    for u in utts:
        for path in u.recipe[0]:
            index = int(Path(path).stem.split("_")[2])
            assert split_of_index(index) == u.subset
        digits = [int(Path(p).name[0]) for p in u.recipe[0]]
        assert u.text.split() == [DIGIT_WORDS[d] for d in digits]
    assert plan_fsdd_corpus(fake_fsdd, seed=0) == (readers, utts)
    assert Counter(u.subset for u in utts)["test"] > 0


def test_corpus_is_16k_with_attribution_and_prepares(fake_fsdd, tmp_path):
    root = make_fsdd_corpus(fake_fsdd, tmp_path / "digits")
    readme = (root / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "free-spoken-digit-dataset" in readme
    flac = sorted(root.glob("train/*/*/*.flac"))[0]
    assert sf.info(str(flac)).samplerate == 16000
    prepare_librispeech(root, "test", tmp_path / "data" / "test")
    validate_data_dir(tmp_path / "data" / "test")
    texts = read_map(tmp_path / "data" / "test" / "text").values()
    assert texts and all(set(t.split()) <= set(DIGIT_WORDS) and 2 <= len(t.split()) <= 5 for t in texts)


def test_missing_fsdd_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="get the Free Spoken Digit Dataset from https://github.com/Jakobovski"):
        plan_fsdd_corpus(tmp_path / "nowhere")


@pytest.mark.skipif(
    not (REAL_FSDD / "recordings").is_dir(),
    reason=f"FSDD not found at {REAL_FSDD} (it lives outside the repository: ../shared/data/fsdd)",
)
def test_real_fsdd_plan():
    readers, utts = plan_fsdd_corpus(REAL_FSDD)
    assert len(readers) == 6 and sum(len(u.recipe[0]) for u in utts) == 3000
    counts = Counter(u.subset for u in utts)
    assert counts["train"] > 5 * counts["test"] and counts["dev"] > 0
    samples = render_fsdd(utts[0])
    clip_seconds = sum(sf.info(p).duration for p in utts[0].recipe[0])
    assert samples.dtype == np.int16 and len(samples) / 16000 >= clip_seconds
