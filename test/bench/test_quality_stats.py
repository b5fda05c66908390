"""Aggregation over seeds and the seed-spread rule of the quality benchmark."""

import sys

import pytest

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from quality_stats import Summary, compare, markdown_table, ranges_overlap, summarise  # noqa: E402


def scores(table):
    """{(model, seed): cer} -> the collect() layout for test set 'test'."""
    return {("test", model, "cer", seed): value for (model, seed), value in table.items()}


def test_summary_gives_mean_range_and_per_seed_values():
    s = summarise(scores({("a", 0): 40.0, ("a", 1): 44.0, ("a", 2): 45.0}))[("test", "a", "cer")]
    assert s.mean == pytest.approx(43.0)
    assert (s.low, s.high, s.spread) == (40.0, 45.0, 5.0)
    assert s.as_dict()["per_seed"] == {"0": 40.0, "1": 44.0, "2": 45.0}


def test_ranges_overlap_includes_touching_ranges():
    assert ranges_overlap(Summary({0: 1.0, 1: 2.0}), Summary({0: 2.0, 1: 3.0}))
    assert not ranges_overlap(Summary({0: 1.0, 1: 2.0}), Summary({0: 2.1, 1: 3.0}))
    assert ranges_overlap(Summary({0: 1.0, 1: 5.0}), Summary({0: 2.0, 1: 3.0}))  # one inside the other


def test_compare_calls_only_disjoint_ranges_beyond_the_spread():
    summaries = summarise(scores({
        ("data2vec", 0): 49.0, ("data2vec", 1): 51.0,
        ("trinet", 0): 44.0, ("trinet", 1): 46.5,     # disjoint from data2vec: beyond
        ("other", 0): 47.0, ("other", 1): 49.5,      # overlaps data2vec: within
        ("single", 0): 10.0,                         # one seed: no spread, not compared
    }))
    result = {c.model: c for c in compare(summaries, [("trinet", "data2vec"), ("other", "data2vec"),
                                                       ("single", "data2vec"), ("missing", "data2vec")])}
    assert set(result) == {"trinet", "other"}
    assert result["trinet"].beyond_spread and result["trinet"].difference == pytest.approx(-4.75)
    assert not result["other"].beyond_spread
    names = {"trinet": "TriNet", "data2vec": "data2vec"}
    assert result["trinet"].sentence(names) == \
        "TriNet vs data2vec, CER: 4.8 points lower (better), larger than the seed spread"
    assert result["other"].sentence(names).endswith("1.8 points lower (better), within the seed spread")
    same = compare(summarise(scores({("a", 0): 1.0, ("a", 1): 2.0, ("b", 0): 1.02, ("b", 1): 2.0})), [("b", "a")])
    assert same[0].sentence({}) == "b vs a, CER: the same to 0.1 points, within the seed spread"


def test_markdown_table_shows_missing_models_and_seeds():
    summaries = summarise(scores({("a", 0): 40.0, ("a", 1): 42.0, ("b", 1): 30.0}))
    lines = markdown_table(summaries, "test", ["a", "b", "c"], {"a": "model A"}, [0, 1])
    assert lines[0].startswith("| model | WER % mean (min-max) | CER % mean (min-max) | WER % seed 0 / seed 1 |")
    assert lines[2] == "| model A | - | 41.0 (40.0-42.0) | - | 40.0 / 42.0 |"
    assert lines[3] == "| b | - | 30.0 (30.0-30.0) | - | - / 30.0 |"
    assert lines[4] == "| c | - | - | - | - |"
