"""Word lists and inflection: golden forms for every rule and irregular, and no known-bad form
anywhere in what the vocabulary yields."""

import re

import pytest

from espnet_trinet.data.synth import vocabulary as V

VERBS = sorted(set(V.TRANSITIVE) | set(V.INTRANSITIVE))


def _pairs(block: str):
    return [tuple(pair.split(":")) for pair in block.split()]


# Every irregular verb of the vocabulary, written out independently of the table.
GOLDEN_IRREGULAR_PAST = _pairs("""
bite:bit break:broke bring:brought build:built buy:bought catch:caught choose:chose come:came dig:dug
draw:drew drink:drank drive:drove eat:ate fall:fell feed:fed find:found fly:flew forget:forgot
freeze:froze give:gave go:went hang:hung hear:heard hide:hid hold:held keep:kept leave:left lend:lent
lose:lost make:made meet:met ride:rode run:ran see:saw sell:sold send:sent shake:shook sing:sang
sit:sat sleep:slept spin:spun stand:stood steal:stole sweep:swept swim:swam take:took teach:taught
tear:tore throw:threw wear:wore weave:wove win:won write:wrote
""")

GOLDEN_REGULAR_PAST = _pairs("""
bake:baked tie:tied squeeze:squeezed whistle:whistled arrive:arrived skate:skated
carry:carried bury:buried study:studied hurry:hurried
play:played enjoy:enjoyed destroy:destroyed stay:stayed
stir:stirred stop:stopped scrub:scrubbed rub:rubbed knit:knitted trim:trimmed tug:tugged pat:patted
tap:tapped wrap:wrapped grab:grabbed drag:dragged hug:hugged chop:chopped drop:dropped
heat:heated greet:greeted steer:steered wait:waited float:floated shout:shouted
rest:rested mend:mended lock:locked unlock:unlocked test:tested jump:jumped
fix:fixed mix:mixed borrow:borrowed follow:followed weigh:weighed
visit:visited open:opened answer:answered deliver:delivered cover:covered order:ordered
offer:offered discover:discovered remember:remembered wander:wandered iron:ironed
travel:travelled label:labelled crawl:crawled fill:filled roll:rolled spill:spilled pull:pulled
admit:admitted prefer:preferred occur:occurred regret:regretted equip:equipped
""")

GOLDEN_THIRD_PERSON = _pairs("""
catch:catches watch:watches teach:teaches fix:fixes mix:mixes miss:misses wash:washes push:pushes
finish:finishes buzz:buzzes go:goes do:does
carry:carries bury:buries study:studies play:plays buy:buys enjoy:enjoys
stir:stirs take:takes weigh:weighs squeeze:squeezes tie:ties
""")

GOLDEN_IRREGULAR_PLURAL = _pairs("""
child:children tooth:teeth mouse:mice woman:women sheep:sheep fish:fish goose:geese knife:knives
leaf:leaves wolf:wolves shelf:shelves scarf:scarves potato:potatoes tomato:tomatoes
""")

GOLDEN_REGULAR_PLURAL = _pairs("""
box:boxes fox:foxes bus:buses glass:glasses dress:dresses compass:compasses princess:princesses
brush:brushes watch:watches church:churches beach:beaches bench:benches sandwich:sandwiches
baby:babies city:cities cherry:cherries factory:factories sky:skies ferry:ferries
toy:toys key:keys monkey:monkeys valley:valleys chimney:chimneys
piano:pianos radio:radios kangaroo:kangaroos roof:roofs cliff:cliffs giraffe:giraffes cat:cats
""")

GOLDEN_ARTICLE = _pairs("""
apple:an owl:an umbrella:an uncle:an ugly:an egg:an island:an orange:an
honest:an useful:a hat:a huge:a horse:a big:a
""")

# Misspellings the rules must never produce, and those the old generator did produce.
KNOWN_BAD = set("""
stired scrubed labeled weaved bakeed carryed plaied visitted openned heatted fixxed
childs tooths mouses womans sheeps gooses knifes leafs wolfs shelfs scarfs potatos tomatos
gos watchs carrys runned goed sitted swimmed
""".split())


@pytest.mark.parametrize(
    "function, golden",
    [
        (V.past, GOLDEN_IRREGULAR_PAST + GOLDEN_REGULAR_PAST),
        (V.third_person, GOLDEN_THIRD_PERSON),
        (V.plural, GOLDEN_IRREGULAR_PLURAL + GOLDEN_REGULAR_PLURAL),
        (V.indefinite_article, GOLDEN_ARTICLE),
    ],
)
def test_golden_forms(function, golden):
    assert {word: function(word) for word, _ in golden} == dict(golden)


def test_every_irregular_is_golden_used_and_needed():
    assert dict(GOLDEN_IRREGULAR_PAST) == V.IRREGULAR_PAST
    assert dict(GOLDEN_IRREGULAR_PLURAL) == V.IRREGULAR_PLURAL
    assert set(V.IRREGULAR_PAST) <= set(VERBS) and set(V.IRREGULAR_PLURAL) <= set(V.NOUNS)
    assert [v for v, p in V.IRREGULAR_PAST.items() if V.regular_past(v) == p] == []
    assert [n for n, p in V.IRREGULAR_PLURAL.items() if V.regular_plural(n) == p] == []


def _syllables(word: str) -> int:
    return len(re.findall(r"[aeiou]+", word.replace("qu", "qw")))


def _past_problem(verb: str, form: str):
    """Why ``form`` cannot be the regular past of ``verb`` (None if it looks right)."""
    if verb.endswith("e"):
        return None if form == verb + "d" else "-e verbs take -d"
    if re.search(r"[^aeiou]y$", verb):
        return None if form == verb[:-1] + "ied" else "consonant + y takes -ied"
    doubled = form == verb + verb[-1] + "ed"
    if not doubled and form != verb + "ed":
        return "not a regular shape"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprtvz]", verb) and not doubled:
        return "one short stressed vowel + one consonant: the consonant doubles"
    if doubled and (re.search(r"[aeiou]{2}.$|[wxy]$", verb) or not re.search(r"[aeiou].$", verb)):
        return "doubled after two vowels or a consonant, or a doubled w/x/y"
    if doubled and _syllables(verb) > 1 and not verb.endswith("l") and verb not in V.STRESSED_LAST_SYLLABLE:
        return "doubled at an unstressed last syllable"
    if re.search(r"[^aeiou][aeiou]l$", verb) and _syllables(verb) > 1 and not doubled:
        return "British spelling doubles l (travelled)"
    return None


def test_no_generated_form_is_known_bad():
    forms = {}
    for verb in VERBS:
        forms[verb, "past"] = V.past(verb)
    for verb in V.TRANSITIVE:
        forms[verb, "third person"] = V.third_person(verb)
    for noun in V.NOUNS:
        forms[noun, "plural"] = V.plural(noun)
    assert {k: f for k, f in forms.items() if f in KNOWN_BAD} == {}

    problems = {
        v: (V.past(v), _past_problem(v, V.past(v)))
        for v in VERBS
        if v not in V.IRREGULAR_PAST and _past_problem(v, V.past(v))
    }
    assert problems == {}

    sibilant, consonant_y = re.compile(r"(s|x|z|ch|sh)$"), re.compile(r"[^aeiou]y$")
    for word, form in [(v, V.third_person(v)) for v in V.TRANSITIVE] + [
        (n, V.plural(n)) for n in V.NOUNS if n not in V.IRREGULAR_PLURAL
    ]:
        expected = word[:-1] + "ies" if consonant_y.search(word) else word + ("es" if sibilant.search(word) else "s")
        assert form == expected, (word, form)


def test_word_lists_are_large_and_lower_case():
    lemmas = set(V.NOUNS) | set(V.ADJECTIVES) | set(V.TRANSITIVE) | set(V.INTRANSITIVE) | set(V.NAMES) | set(V.PLACES)
    assert len(lemmas) > 800
    assert all(w.isalpha() and w.islower() for w in lemmas)
