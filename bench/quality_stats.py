"""Mean and spread over seeds, and which differences between models exceed the seed spread.

The rule (stated in every table this writes): a difference between two models is larger than
the seed spread when the ranges [min, max] of their per-seed values do not overlap. With two or
three seeds this is a coarse, conservative test; it is not a significance test.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

SPREAD_RULE = ("a difference is called larger than the seed spread when the two models' per-seed "
               "[min, max] ranges do not overlap; otherwise it is within the seed spread")


@dataclass
class Summary:
    """Per-seed values of one model on one test set and metric (error rates in %)."""

    values: Dict[int, float]

    @property
    def mean(self) -> float:
        return sum(self.values.values()) / len(self.values)

    @property
    def low(self) -> float:
        return min(self.values.values())

    @property
    def high(self) -> float:
        return max(self.values.values())

    @property
    def spread(self) -> float:
        """max - min over seeds."""
        return self.high - self.low

    def as_dict(self) -> dict:
        return dict(mean=self.mean, min=self.low, max=self.high, spread=self.spread,
                    per_seed={str(k): v for k, v in sorted(self.values.items())})


def ranges_overlap(a: Summary, b: Summary) -> bool:
    """True when [a.low, a.high] and [b.low, b.high] share a point."""
    return a.low <= b.high and b.low <= a.high


@dataclass
class Comparison:
    """``model`` against ``reference`` on one test set and metric (lower is better)."""

    test_set: str
    metric: str
    model: str
    reference: str
    difference: float  # mean(model) - mean(reference), percentage points
    beyond_spread: bool

    def sentence(self, names: Dict[str, str]) -> str:
        verdict = "larger than the seed spread" if self.beyond_spread else "within the seed spread"
        change = f"{abs(self.difference):.1f} points " + ("lower (better)" if self.difference < 0 else "higher (worse)")
        if round(self.difference, 1) == 0:
            change = "the same to 0.1 points"
        return (f"{names.get(self.model, self.model)} vs {names.get(self.reference, self.reference)}, "
                f"{self.metric.upper()}: {change}, {verdict}")

    def as_dict(self) -> dict:
        return dict(test_set=self.test_set, metric=self.metric, model=self.model, reference=self.reference,
                    difference=self.difference, beyond_spread=self.beyond_spread)


def summarise(scores: Dict[Tuple[str, str, str, int], float]) -> Dict[Tuple[str, str, str], Summary]:
    """{(test_set, model, metric, seed): value} -> {(test_set, model, metric): Summary}."""
    grouped: Dict[Tuple[str, str, str], Dict[int, float]] = {}
    for (test_set, model, metric, seed), value in scores.items():
        grouped.setdefault((test_set, model, metric), {})[seed] = value
    return {key: Summary(values) for key, values in grouped.items()}


def compare(summaries: Dict[Tuple[str, str, str], Summary], pairs: Sequence[Tuple[str, str]]) -> List[Comparison]:
    """Every (model, reference) pair on every test set and metric where both have results.

    Models with fewer than two seeds are not compared: one seed has no spread.
    """
    out = []
    keys = sorted({(t, m) for t, _, m in summaries})
    for test_set, metric in keys:
        for model, reference in pairs:
            a, b = summaries.get((test_set, model, metric)), summaries.get((test_set, reference, metric))
            if a is None or b is None or len(a.values) < 2 or len(b.values) < 2:
                continue
            out.append(Comparison(test_set, metric, model, reference, a.mean - b.mean, not ranges_overlap(a, b)))
    return out


def format_summary(s: Optional[Summary]) -> str:
    """``mean (min-max)`` or ``-`` when missing."""
    if s is None:
        return "-"
    return f"{s.mean:.1f} ({s.low:.1f}-{s.high:.1f})"


def format_seeds(s: Optional[Summary], seeds: Sequence[int]) -> str:
    if s is None:
        return "-"
    return " / ".join(f"{s.values[k]:.1f}" if k in s.values else "-" for k in seeds)


def markdown_table(summaries: Dict[Tuple[str, str, str], Summary], test_set: str, models: Sequence[str],
                   names: Dict[str, str], seeds: Sequence[int]) -> List[str]:
    """One table for a test set: WER and CER as mean (min-max) and per seed."""
    seed_head = " / ".join(f"seed {k}" for k in seeds)
    lines = [f"| model | WER % mean (min-max) | CER % mean (min-max) | WER % {seed_head} | CER % {seed_head} |",
             "|---|---|---|---|---|"]
    for model in models:
        wer, cer = summaries.get((test_set, model, "wer")), summaries.get((test_set, model, "cer"))
        lines.append(f"| {names.get(model, model)} | {format_summary(wer)} | {format_summary(cer)} | "
                     f"{format_seeds(wer, seeds)} | {format_seeds(cer, seeds)} |")
    return lines
