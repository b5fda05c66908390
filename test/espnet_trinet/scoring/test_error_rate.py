import pytest

from espnet_trinet.scoring.error_rate import ErrorCounts, align_counts, chars, words


@pytest.mark.parametrize(
    "ref, hyp, sub, dele, ins",
    [
        ("a b c", "a b c", 0, 0, 0),
        ("a b c", "a x c", 1, 0, 0),
        ("a b c", "a c", 0, 1, 0),
        ("a b c", "a b c d", 0, 0, 1),
        ("a b c", "", 0, 3, 0),
        ("", "a b", 0, 0, 2),
        ("a b c d", "x a b d", 0, 1, 1),  # a shift: cheaper as 1 ins + 1 del than 3 subs
    ],
)
def test_alignment_counts(ref, hyp, sub, dele, ins):
    c = align_counts(words(ref), words(hyp))
    assert (c.sub, c.dele, c.ins) == (sub, dele, ins)
    assert c.corr == len(words(ref)) - sub - dele
    assert c.sentence_errors == int(sub + dele + ins > 0)


def test_one_wrong_word_is_a_substitution_not_a_deletion_and_an_insertion():
    c = align_counts(["the", "cat"], ["the", "hat"])
    assert (c.sub, c.dele, c.ins) == (1, 0, 0)


def test_chars_mark_word_boundaries_once():
    assert chars("  AB  C ") == ["A", "B", "<space>", "C"]
    assert chars("") == []


def test_error_rate_sums_over_utterances():
    total = ErrorCounts()
    total.add(align_counts(words("a b"), words("a x")))  # 1 sub of 2
    total.add(align_counts(words("c d e"), words("c d e f")))  # 1 ins of 3
    assert total.ref == 5 and total.errors == 2 and total.sentences == 2
    assert total.error_rate == pytest.approx(40.0)
    assert total.as_dict()["error_rate"] == 40.0
