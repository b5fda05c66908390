import random
from collections import Counter

import pytest

from espnet_trinet.data.synth import vocabulary as V
from espnet_trinet.data.synth.sentences import generate_sentence, sample_sentence, sentence_split, vocabulary


def test_generation_is_deterministic_and_varied():
    first = [generate_sentence(random.Random(3)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = random.Random(0)
    sentences = [generate_sentence(rng) for _ in range(2000)]
    assert len(set(sentences)) == len(sentences)
    assert all(s == s.lower() and "  " not in s and 3 <= len(s.split()) <= 16 for s in sentences)
    words = Counter(w for s in sentences for w in s.split())
    assert len(words) > 900  # the vocabulary is really used, not a few phrases


def test_split_is_a_function_of_the_text_only():
    assert sentence_split("The cat  SAW a dog") == sentence_split("the cat saw a dog")
    rng = random.Random(1)
    counts = Counter(sentence_split(generate_sentence(rng)) for _ in range(4000))
    assert counts["dev"] > 100 and counts["test"] > 100 and counts["train"] > 3000


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_sample_sentence_respects_split_and_condition(split):
    text = sample_sentence(random.Random(0), split, lambda t: len(t.split()) >= 6)
    assert sentence_split(text) == split and len(text.split()) >= 6


def test_impossible_condition_raises():
    with pytest.raises(RuntimeError, match="loosen"):
        sample_sentence(random.Random(0), "dev", lambda t: False, max_tries=50)


def test_vocabulary_holds_every_generated_word():
    words = vocabulary()
    rng = random.Random(5)
    unknown = {w for _ in range(5000) for w in generate_sentence(rng).split()} - words
    assert unknown == set()
    assert {"stirred", "scrubbed", "labelled", "wove", "knives", "an", "there"} <= words
    assert not {"stired", "scrubed", "labeled", "weaved"} & words


def test_articles_follow_the_sound():
    rng = random.Random(2)
    pairs = {
        tuple(words[i : i + 2])
        for words in (generate_sentence(rng).split() for _ in range(20000))
        for i in range(len(words) - 1)
        if words[i] in ("a", "an") and words[i + 1] != "few"
    }
    assert {("a", "useful"), ("an", "honest"), ("an", "umbrella"), ("a", "huge")} <= pairs
    assert [p for p in pairs if p[0] != V.indefinite_article(p[1])] == []
