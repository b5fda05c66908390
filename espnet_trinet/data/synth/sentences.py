"""Sentences of the synthetic corpus from a small grammar over the vocabulary.

The grammar yields grammatical but mostly nonsensical sentences ("the wooden goat painted a
kettle near the bridge"): the words carry no predictable context, so a recogniser has to hear
them. Which split may use a sentence is decided by a hash of its text (``sentence_split``), so
dev and test sentences can never occur in training, whatever the seed or corpus size.
"""

import hashlib
import random
from typing import Callable, List, Set

from espnet_trinet.data.synth import vocabulary as V

# Of 20 hash buckets, one is reserved for dev sentences and one for test sentences.
_NUM_BUCKETS = 20
_DEV_BUCKET, _TEST_BUCKET = 0, 1

# The grammar's own words, by the place they take (repeats weight a choice).
PLURAL_DETERMINERS = ["the", "some", "many", "these", "those", "my", "our", "their", "a few"] + V.NUMBERS
SINGULAR_DETERMINERS = ["the", "the", "a", "this", "that", "my", "your", "his", "her", "our", "every"]
CITY_PREPOSITIONS = ["to", "from", "in", "near"]
QUESTION_OPENERS = ["did", "why did", "when did", "where did", "how did", "could", "will", "would"]
NEGATIONS = ["didn't", "couldn't", "won't", "can't", "did not", "will never", "should not"]
MODALS = ["can", "must", "should", "might", "will", "may", "could"]
LINKING_VERBS = ["was", "is", "looked", "seemed", "felt"]
EXISTENTIAL_COUNTS = V.NUMBERS + ["many", "some", "no"]
IMPERATIVE_LEADS = ["please", "do not", "never", "always", "now", ""]
REPORTING_VERBS = ["said", "thought", "knew", "heard", "hoped"]
COUNTING_VERBS = ["counted", "found", "saw", "bought", "sold"]
OTHER_WORDS = ["an", "and", "that", "there were"]


def sentence_split(text: str) -> str:
    """The only split (``train``, ``dev`` or ``test``) allowed to use this sentence.

    Args:
        text: the sentence; case and spacing are ignored.
    """
    canonical = " ".join(text.lower().split())
    bucket = int(hashlib.md5(canonical.encode("utf-8")).hexdigest()[:8], 16) % _NUM_BUCKETS
    return {_DEV_BUCKET: "dev", _TEST_BUCKET: "test"}.get(bucket, "train")


def _noun_phrase(rng: random.Random, plural: bool = False) -> List[str]:
    noun = rng.choice(V.NOUNS)
    adjective = [rng.choice(V.ADJECTIVES)] if rng.random() < 0.5 else []
    if plural:
        det = rng.choice(PLURAL_DETERMINERS)
        return det.split() + adjective + [V.plural(noun)]
    det = rng.choice(SINGULAR_DETERMINERS)
    if det == "a":
        det = V.indefinite_article((adjective + [noun])[0])
    return [det] + adjective + [noun]


def _subject(rng: random.Random) -> List[str]:
    return [rng.choice(V.NAMES)] if rng.random() < 0.4 else _noun_phrase(rng)


def _place(rng: random.Random) -> List[str]:
    if rng.random() < 0.3:
        return [rng.choice(CITY_PREPOSITIONS), rng.choice(V.PLACES)]
    return [rng.choice(V.PREPOSITIONS)] + _noun_phrase(rng, plural=rng.random() < 0.3)


def _tail(rng: random.Random) -> List[str]:
    """An optional adverb, time phrase or place at the end of a clause."""
    roll = rng.random()
    if roll < 0.25:
        return [rng.choice(V.ADVERBS)]
    if roll < 0.45:
        return rng.choice(V.TIME_PHRASES).split()
    if roll < 0.7:
        return _place(rng)
    return []


def _past_statement(rng):
    return _subject(rng) + [V.past(rng.choice(V.TRANSITIVE))] + _noun_phrase(rng, rng.random() < 0.3) + _tail(rng)


def _present_statement(rng):
    if rng.random() < 0.5:
        return [rng.choice(V.NAMES), V.third_person(rng.choice(V.TRANSITIVE))] + _noun_phrase(rng) + _tail(rng)
    return _noun_phrase(rng, plural=True) + [rng.choice(V.TRANSITIVE)] + _noun_phrase(rng) + _tail(rng)


def _motion(rng):
    who = [rng.choice(V.NAMES), "and", rng.choice(V.NAMES)] if rng.random() < 0.4 else _subject(rng)
    return who + [V.past(rng.choice(V.INTRANSITIVE))] + _place(rng) + (_tail(rng) if rng.random() < 0.5 else [])


def _question(rng):
    opener = rng.choice(QUESTION_OPENERS)
    return opener.split() + _subject(rng) + [rng.choice(V.TRANSITIVE)] + _noun_phrase(rng) + _tail(rng)


def _negation(rng):
    neg = rng.choice(NEGATIONS)
    return _subject(rng) + neg.split() + [rng.choice(V.TRANSITIVE)] + _noun_phrase(rng) + _tail(rng)


def _modal(rng):
    modal = rng.choice(MODALS)
    return _subject(rng) + [modal, rng.choice(V.TRANSITIVE)] + _noun_phrase(rng, rng.random() < 0.3) + _tail(rng)


def _description(rng):
    verb = rng.choice(LINKING_VERBS)
    adjectives = [rng.choice(V.ADJECTIVES)]
    if rng.random() < 0.4:
        adjectives += ["and", rng.choice(V.ADJECTIVES)]
    return _noun_phrase(rng) + [verb] + adjectives + _tail(rng)


def _existential(rng):
    count = rng.choice(EXISTENTIAL_COUNTS)
    return ["there", "were", count] + [V.plural(rng.choice(V.NOUNS))] + _place(rng)


def _imperative(rng):
    lead = rng.choice(IMPERATIVE_LEADS).split()
    return lead + [rng.choice(V.TRANSITIVE)] + _noun_phrase(rng) + _place(rng)


def _reported(rng):
    verb = rng.choice(REPORTING_VERBS)
    return [rng.choice(V.NAMES), verb, "that"] + _subject(rng) + [V.past(rng.choice(V.TRANSITIVE))] + _noun_phrase(rng)


def _counting(rng):
    return (
        [rng.choice(V.NAMES), rng.choice(COUNTING_VERBS)]
        + _noun_phrase(rng, True)
        + _tail(rng)
    )


TEMPLATES: List[Callable[[random.Random], List[str]]] = [
    _past_statement,
    _past_statement,
    _present_statement,
    _motion,
    _question,
    _negation,
    _modal,
    _description,
    _existential,
    _imperative,
    _reported,
    _counting,
]


def vocabulary() -> Set[str]:
    """Every word a generated sentence can contain (lower case): the word lists with their
    inflected forms, and the grammar's own words."""
    phrases = (
        PLURAL_DETERMINERS + SINGULAR_DETERMINERS + CITY_PREPOSITIONS + QUESTION_OPENERS + NEGATIONS + MODALS
        + LINKING_VERBS + EXISTENTIAL_COUNTS + IMPERATIVE_LEADS + REPORTING_VERBS + COUNTING_VERBS + OTHER_WORDS
        + V.TIME_PHRASES
    )
    words = {w for phrase in phrases for w in phrase.split()}
    words.update(V.NOUNS, V.ADJECTIVES, V.TRANSITIVE, V.ADVERBS, V.PREPOSITIONS, V.NAMES, V.PLACES)
    words.update(V.plural(n) for n in V.NOUNS)
    words.update(V.past(v) for v in V.TRANSITIVE + V.INTRANSITIVE)
    words.update(V.third_person(v) for v in V.TRANSITIVE)
    return words


def generate_sentence(rng: random.Random) -> str:
    """One lower-case sentence, words separated by single spaces (no punctuation)."""
    return " ".join(rng.choice(TEMPLATES)(rng))


def sample_sentence(rng: random.Random, split: str, accept: Callable[[str], bool], max_tries: int = 10000) -> str:
    """A sentence that belongs to ``split`` (see sentence_split) and passes ``accept``.

    Args:
        rng: random source (the result is a deterministic function of its state).
        split: ``train``, ``dev`` or ``test``.
        accept: extra condition, e.g. on estimated duration or novelty.
        max_tries: give up after this many draws (a condition that cannot be met).
    """
    for _ in range(max_tries):
        text = generate_sentence(rng)
        if sentence_split(text) == split and accept(text):
            return text
    raise RuntimeError(f"no acceptable {split} sentence in {max_tries} draws; loosen the length limits")
