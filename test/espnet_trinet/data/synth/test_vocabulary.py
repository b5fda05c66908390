from espnet_trinet.data.synth import vocabulary as V


def test_word_lists_are_large_and_lower_case():
    lemmas = set(V.NOUNS) | set(V.ADJECTIVES) | set(V.TRANSITIVE) | set(V.INTRANSITIVE) | set(V.NAMES) | set(V.PLACES)
    assert len(lemmas) > 800
    assert all(w.isalpha() and w.islower() for w in lemmas)


def test_plural_rules():
    assert [V.plural(n) for n in ("box", "city", "toy", "child", "knife", "cat", "brush")] == [
        "boxes",
        "cities",
        "toys",
        "children",
        "knives",
        "cats",
        "brushes",
    ]


def test_past_and_third_person_rules():
    assert [V.past(v) for v in ("stop", "carry", "tie", "play", "catch", "go", "open")] == [
        "stopped",
        "carried",
        "tied",
        "played",
        "caught",
        "went",
        "opened",
    ]
    assert [V.third_person(v) for v in ("catch", "carry", "play", "go", "fix")] == [
        "catches",
        "carries",
        "plays",
        "goes",
        "fixes",
    ]
