"""Word and character error rates from a Levenshtein alignment (what sclite reports).

Kaldi and ESPnet score with sclite, which is not a Python dependency; the counts here
are the same: a minimum-edit alignment per utterance, summed over the set.
"""

from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence


@dataclass
class ErrorCounts:
    """Alignment counts summed over utterances (``ref`` tokens = corr + sub + dele)."""

    sentences: int = 0
    sentence_errors: int = 0
    ref: int = 0
    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def error_rate(self) -> float:
        """Errors per reference token in percent (100 * (S + D + I) / N)."""
        return 100.0 * self.errors / max(self.ref, 1)

    def add(self, other: "ErrorCounts") -> None:
        for name in ("sentences", "sentence_errors", "ref", "corr", "sub", "dele", "ins"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> Dict[str, float]:
        return dict(asdict(self), errors=self.errors, error_rate=round(self.error_rate, 2))


def align_counts(ref: Sequence[str], hyp: Sequence[str]) -> ErrorCounts:
    """Counts of the minimum-edit alignment of two token sequences.

    Ties are broken towards substitutions (sclite's preference), so that e.g. one wrong
    word counts as 1 substitution rather than 1 deletion + 1 insertion.
    """
    n, m = len(ref), len(hyp)
    # cost[i][j] = (edits, subs, dels, ins) aligning ref[:i] with hyp[:j]
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, m + 1):
            if ref[i - 1] == hyp[j - 1]:
                diag = prev[j - 1]
            else:
                e, s, d, k = prev[j - 1]
                diag = (e + 1, s + 1, d, k)
            e, s, d, k = prev[j]
            up = (e + 1, s, d + 1, k)
            e, s, d, k = cur[j - 1]
            left = (e + 1, s, d, k + 1)
            cur.append(min(diag, up, left, key=lambda c: (c[0], -c[1])))
        prev = cur
    edits, sub, dele, ins = prev[m]
    return ErrorCounts(
        sentences=1,
        sentence_errors=int(edits > 0),
        ref=n,
        corr=n - sub - dele,
        sub=sub,
        dele=dele,
        ins=ins,
    )


def words(text: str) -> List[str]:
    return text.split()


def chars(text: str) -> List[str]:
    """Characters, with each word boundary as one '<space>' token (ESPnet's CER convention)."""
    tokens: List[str] = []
    for k, word in enumerate(text.split()):
        if k:
            tokens.append("<space>")
        tokens.extend(word)
    return tokens
