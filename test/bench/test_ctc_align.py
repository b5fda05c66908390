"""CTC forced alignment and frame labelling for the representation pictures."""

import itertools
import sys

import numpy as np
import pytest

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from ctc_align import (  # noqa: E402
    BLANK_LABEL, AlignmentError, ctc_forced_align, frame_labels, min_frames, most_frequent,
)


def collapse(path, blank=0):
    out, prev = [], None
    for p in path:
        if p != prev and p != blank:
            out.append(p)
        prev = p
    return out


def peaked(path, vocab, sharp=5.0):
    """(T, V) log-probs whose argmax at each frame is ``path``."""
    logits = np.zeros((len(path), vocab))
    logits[np.arange(len(path)), path] = sharp
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def test_a_clear_path_is_recovered_with_repeats_and_a_blank_between_equal_tokens():
    path = [0, 3, 3, 0, 3, 2, 2, 0]
    assert collapse(path) == [3, 3, 2]
    np.testing.assert_array_equal(ctc_forced_align(peaked(path, 4), [3, 3, 2]), path)


def test_a_long_utterance_is_aligned():
    # More states than an int8 can index (2N + 1 = 161).
    rng = np.random.default_rng(0)
    path = [int(t) for t in rng.integers(0, 6, size=200)]
    tokens = collapse(path)
    assert len(tokens) >= 80
    np.testing.assert_array_equal(ctc_forced_align(peaked(path, 6), tokens), path)


def test_the_reference_wins_over_the_frames_argmax():
    # The frames say "1 2", the reference says "1 3": the path must spell the reference.
    log_probs = peaked([1, 1, 2, 2], 4, sharp=2.0)
    path = ctc_forced_align(log_probs, [1, 3])
    assert collapse(path) == [1, 3]
    assert list(path[:2]) == [1, 1]


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_equals_brute_force_over_all_paths(seed):
    rng = np.random.default_rng(seed)
    frames, vocab = 6, 4
    tokens = [int(t) for t in rng.integers(1, vocab, size=int(rng.integers(1, 4)))]
    logits = rng.normal(size=(frames, vocab))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    best = max((p for p in itertools.product(range(vocab), repeat=frames) if collapse(p) == tokens),
               key=lambda p: log_probs[np.arange(frames), p].sum())
    path = ctc_forced_align(log_probs, tokens)
    assert collapse(path) == tokens
    assert log_probs[np.arange(frames), path].sum() == pytest.approx(log_probs[np.arange(frames), best].sum())


def test_too_few_frames_and_blank_tokens_are_errors():
    assert min_frames([1, 1, 2]) == 4
    with pytest.raises(AlignmentError, match="3 tokens need at least 4 frames, got 3"):
        ctc_forced_align(peaked([1, 0, 1], 3), [1, 1, 2])
    with pytest.raises(AlignmentError, match="blank id 0"):
        ctc_forced_align(peaked([1, 0, 1], 3), [1, 0])


def test_frame_labels_and_the_most_frequent_classes():
    labels = frame_labels(np.array([0, 5, 5, 0, 7]))
    np.testing.assert_array_equal(labels, [BLANK_LABEL, 5, 5, BLANK_LABEL, 7])
    utts = [labels, np.array([7, 7, 2, BLANK_LABEL, 9, 9])]
    assert most_frequent(utts, 2) == [7, 5]  # 7 three times; 5 and 9 twice, the smaller id first
    assert most_frequent(utts, 3, exclude=[5]) == [7, 9, 2]
