"""CTC forced alignment (Viterbi) of a reference token sequence, and per-frame class labels.

Used by representation_map.py to give every encoder frame of a test utterance the token it
belongs to: a fine-tuned CTC model scores the frames, the reference transcript fixes the token
order, and the best CTC path through both says which frames emit which token.
"""

from typing import List, Sequence

import numpy as np

BLANK_LABEL = -1


class AlignmentError(ValueError):
    """The reference cannot be aligned to the frames (too many tokens for too few frames)."""


def min_frames(tokens: Sequence[int]) -> int:
    """Frames a CTC path needs for ``tokens``: one per token, plus a blank between equal neighbours."""
    return len(tokens) + sum(a == b for a, b in zip(tokens, tokens[1:]))


def ctc_forced_align(log_probs: np.ndarray, tokens: Sequence[int], blank: int = 0) -> np.ndarray:
    """The most likely CTC path that spells ``tokens``.

    Args:
        log_probs: (T, V) per-frame log-probabilities (log-softmax of the CTC layer).
        tokens: (N,) reference token ids, none of them ``blank``.
        blank: the blank id.
    Returns:
        (T,) int64: the token id each frame emits on the best path (``blank`` for blank frames).
    Raises:
        AlignmentError: when T is too short for the reference, or a token is the blank.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    frames = log_probs.shape[0]
    tokens = list(tokens)
    if blank in tokens:
        raise AlignmentError(f"the reference holds the blank id {blank}")
    if frames < min_frames(tokens):
        raise AlignmentError(f"{len(tokens)} tokens need at least {min_frames(tokens)} frames, got {frames}")
    # Extended sequence: blank, t1, blank, t2, ..., tN, blank (states S = 2N + 1).
    ext = np.full(2 * len(tokens) + 1, blank, dtype=np.int64)
    ext[1::2] = tokens
    states = len(ext)
    # A state may also be entered from two back when it is a token that differs from the one two back.
    skip = np.zeros(states, dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])

    score = np.full(states, -np.inf)
    score[0] = log_probs[0, ext[0]]
    if states > 1:
        score[1] = log_probs[0, ext[1]]
    back = np.zeros((frames, states), dtype=np.int8)  # 0: stay, 1: from s-1, 2: from s-2
    for t in range(1, frames):
        stay = score
        step = np.concatenate(([-np.inf], score[:-1]))
        jump = np.where(skip, np.concatenate(([-np.inf, -np.inf], score[:-2])), -np.inf)
        options = np.stack([stay, step, jump])
        back[t] = options.argmax(axis=0)
        score = options.max(axis=0) + log_probs[t, ext]
    # The path ends on the last token or the blank after it.
    end = states - 1 if states == 1 or score[states - 1] >= score[states - 2] else states - 2
    path = np.empty(frames, dtype=np.int64)
    s = end
    for t in range(frames - 1, -1, -1):
        path[t] = ext[s]
        s -= int(back[t, s])
    if s != 0 and s != 1:
        raise AlignmentError("internal: the best path does not start at the first token")
    return path


def frame_labels(path: np.ndarray, blank: int = 0) -> np.ndarray:
    """(T,) aligned token ids -> (T,) class labels: the token for token frames, ``BLANK_LABEL``
    for blank frames (which carry no token identity and are left out of the pictures)."""
    path = np.asarray(path)
    return np.where(path == blank, BLANK_LABEL, path)


def most_frequent(labels: Sequence[np.ndarray], count: int, exclude: Sequence[int] = ()) -> List[int]:
    """The ``count`` most frequent labels over all utterances (ties: the smaller id first),
    leaving out ``BLANK_LABEL`` and ``exclude``."""
    values, freq = np.unique(np.concatenate([np.asarray(x) for x in labels]), return_counts=True)
    ranked = sorted(((-f, v) for v, f in zip(values.tolist(), freq.tolist())
                     if v != BLANK_LABEL and v not in set(exclude)))
    return [v for _, v in ranked[:count]]
