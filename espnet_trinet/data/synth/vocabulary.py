"""Word lists of the synthetic corpus, written for this project: about 900 common English words
by part of speech (some 1,600 word forms with the inflections the grammar needs: plurals, past
tense, third person).

Everyday words that espeak-ng pronounces well were chosen; the lists are long enough that
sentences rarely repeat and a model has to learn sounds rather than whole phrases. Inflected
forms come from explicit tables of the irregular ones (IRREGULAR_PAST, IRREGULAR_PLURAL) and
spelling rules for the rest (``plural``, ``past``, ``third_person``), in British spelling.
"""

from typing import Dict, List


def _words(block: str) -> List[str]:
    words = block.split()
    if len(set(words)) != len(words):
        duplicates = sorted({w for w in words if words.count(w) > 1})
        raise ValueError(f"duplicate words in a vocabulary list: {duplicates}")
    return words


NOUNS = (
    _words("""
apple baby bag ball band bank basket bath beach bean bear bed bee bell belt bench bicycle bird
blanket boat body bone book boot bottle bowl box boy bread brick bridge brother brush bucket
building bus butter button cabin cake camera candle cap car card carpet carrot castle cat chair
cheese cherry chicken child church circle city clock cloud coat coffee coin collar computer cook
corner cottage cow crab cup curtain cushion daughter desk dinner doctor dog doll door dragon
drawer dress drum duck eagle egg elephant engine envelope face factory farm farmer feather fence
field finger fire fish flag flower fork fox friend frog garden gate gift girl glass glove goat
grape guitar hammer hat helmet hill horse hospital hotel house island jacket jar kettle key king
kitchen kite knife ladder lake lamp leaf lemon letter library lion lizard lock machine map market
meadow message mirror monkey moon mountain mouse needle nest newspaper nose note nurse ocean
office onion orange owl painter pan paper park parrot pear pen pencil pepper piano picture pig
pillow pilot pipe plate pocket poet pond potato pot puppy queen rabbit radio river road rock roof
room rope rose sailor sandwich school shadow sheep shelf shell ship shirt shoe shop shoulder
singer sister sky snake sock soldier song spoon stair star station stone storm stove street
student suitcase sun table tail teacher teapot tent ticket tiger tomato tooth towel tower town
toy tractor train tree truck tunnel turtle umbrella uncle valley van village violin wagon wall
wallet watch wheel whistle window wing wolf woman worm writer yard
""")
    + _words("""
anchor arrow badge barrel banner barn beard blade blossom bonnet branch bubble bullet cage canal carpenter
cellar chimney cliff compass cousin cradle crown dentist diamond dolphin donkey engineer feast
ferry fountain giraffe goose grandmother harbour hedge honey iceberg insect jewel judge juggler
kangaroo lantern lawyer magnet medal merchant miner monster motor mushroom musician necklace
orchard oven paddle palace parcel peach pebble penguin pirate planet plum porch prince princess
puzzle rainbow ribbon robot saddle scarf shovel sledge spider squirrel statue stream sweater
tailor temple thumb tortoise trumpet vase waiter whale wizard zebra
""")
)

ADJECTIVES = _words("""
big small tall short long wide narrow heavy light dark bright old young new ancient modern quiet
loud soft hard warm cold hot cool wet dry clean dirty empty full rich poor happy sad angry calm
brave shy clever silly gentle kind rude proud lazy busy tired hungry thirsty sleepy lucky strange
famous secret simple plain fancy pretty ugly lovely handsome strong weak fast slow early late sweet
sour bitter fresh rotten sharp smooth rough round square flat deep shallow thick thin red blue
green yellow purple orange pink brown black white grey golden silver wooden woollen broken hidden
frozen striped spotted tiny huge little giant distant local foreign northern southern eastern
western friendly lonely noisy sunny rainy windy cloudy stormy foggy careful careless honest
curious eager nervous patient polite serious cheerful bored excited worried grateful precious
useful ordinary special perfect terrible wonderful beautiful dangerous expensive cheap crooked
enormous fragile gloomy hollow jolly mighty muddy shiny slippery sticky wicked wise wild
""")

# Verbs whose simple past is irregular (the grammar uses no participles): base -> past. Every
# other verb follows the spelling rules in ``past``; a test checks that each entry is needed.
IRREGULAR_PAST: Dict[str, str] = {
    "bite": "bit",
    "break": "broke",
    "bring": "brought",
    "build": "built",
    "buy": "bought",
    "catch": "caught",
    "choose": "chose",
    "come": "came",
    "dig": "dug",
    "draw": "drew",
    "drink": "drank",
    "drive": "drove",
    "eat": "ate",
    "fall": "fell",
    "feed": "fed",
    "find": "found",
    "fly": "flew",
    "forget": "forgot",
    "freeze": "froze",
    "give": "gave",
    "go": "went",
    "hang": "hung",
    "hear": "heard",
    "hide": "hid",
    "hold": "held",
    "keep": "kept",
    "leave": "left",
    "lend": "lent",
    "lose": "lost",
    "make": "made",
    "meet": "met",
    "ride": "rode",
    "run": "ran",
    "see": "saw",
    "sell": "sold",
    "send": "sent",
    "shake": "shook",
    "sing": "sang",
    "sit": "sat",
    "sleep": "slept",
    "spin": "spun",
    "stand": "stood",
    "steal": "stole",
    "sweep": "swept",
    "swim": "swam",
    "take": "took",
    "teach": "taught",
    "tear": "tore",
    "throw": "threw",
    "wear": "wore",
    "weave": "wove",
    "win": "won",
    "write": "wrote",
}

TRANSITIVE = sorted(
    _words("""
bring buy catch choose draw drink drive eat find forget give hear hide hold keep leave lend lose make
meet ride see sell send shake steal sweep take teach throw wear win write build feed break dig hang
bite freeze spin tear
open close carry paint clean wash cook bake fix push pull kick touch watch visit follow help call
answer borrow collect count cover deliver destroy drag drop enjoy fill fold guard hug join lift like
love mend miss move order pack pick plant play polish pour prepare protect reach remember repair
rescue return save share smell start stop study taste thank tie trust turn use want warn weigh wrap
offer check chase climb describe discover explore finish greet hunt invite lock mark measure notice
place print record rent roll rub search serve spill squeeze stir stretch tickle trade tug unlock
admire attack bury chop decorate dust fetch grab heat iron juggle knit label lick mix nudge pat
pinch poke rattle scrub shave sketch slice splash stamp sort steer tap test trim weave whistle
""")
)

# Intransitive verbs (followed by a place or a time, not an object).
INTRANSITIVE = sorted(
    _words("""
walk run swim sit sleep arrive dance jump wait laugh smile fly fall hurry live stay rest wander sing
shout go come stand skate travel march crawl float hide work
""")
)

ADVERBS = _words("""
quickly slowly quietly loudly carefully happily sadly gently suddenly finally again always never
often rarely soon today yesterday tomorrow tonight together alone outside inside upstairs
downstairs away home abroad secretly proudly politely bravely eagerly calmly nervously patiently
easily badly kindly neatly rudely softly warmly angrily lazily noisily silently sleepily
""")

TIME_PHRASES = [
    "on monday",
    "on tuesday",
    "on wednesday",
    "on thursday",
    "on friday",
    "on saturday",
    "on sunday",
    "in january",
    "in february",
    "in march",
    "in april",
    "in may",
    "in june",
    "in july",
    "in august",
    "in september",
    "in october",
    "in november",
    "in december",
    "this morning",
    "last night",
    "at noon",
    "at midnight",
    "every day",
    "after dinner",
    "before breakfast",
    "in the evening",
    "next week",
    "last year",
    "in the spring",
    "in the summer",
    "in the autumn",
    "in the winter",
    "at dawn",
    "at sunset",
    "after lunch",
]

PREPOSITIONS = _words("""
in on under near behind beside above below across along around through into onto towards past
from with without against inside outside beyond over
""")

NAMES = _words("""
alice anna arthur ben charlotte daniel david edward ella emily emma frank george grace hannah harry
helen henry isabel jack james jane john julia kate laura leo lily lucy maria mark martin mary max
mia michael nancy nathan nora oliver oscar paul peter rachel robert rose ruby sam sarah simon sophie
thomas tom victor william zoe adam amy andrew chloe clara eric fiona hugo ivan jacob kevin linda
marcus megan nina patrick rita steve tina vera walter
""")

PLACES = _words("""
london paris berlin madrid rome vienna dublin oslo lisbon cairo tokyo sydney boston chicago denver
houston seattle toronto montreal glasgow edinburgh cardiff bristol leeds york oxford cambridge
brighton canada france spain italy norway sweden egypt india china japan brazil mexico peru chile
kenya africa europe scotland ireland wales england america australia iceland greece poland
""")

NUMBERS = _words("two three four five six seven eight nine ten eleven twelve twenty")

# Nouns with irregular plurals (and the -f/-fe -> -ves and -o -> -oes nouns, which spelling
# alone cannot tell from roofs and pianos); the rest follow the spelling rules in ``plural``.
IRREGULAR_PLURAL = {
    "child": "children",
    "tooth": "teeth",
    "mouse": "mice",
    "woman": "women",
    "sheep": "sheep",
    "fish": "fish",
    "knife": "knives",
    "leaf": "leaves",
    "wolf": "wolves",
    "shelf": "shelves",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "goose": "geese",
    "scarf": "scarves",
}

# Verbs of more than one syllable stressed on the last one: they double a final consonant like
# one-syllable verbs (admitted, preferred), unlike visit -> visited, open -> opened.
STRESSED_LAST_SYLLABLE = {"admit", "commit", "equip", "occur", "omit", "permit", "prefer", "refer", "regret", "submit"}

# Words whose first letter misleads the choice of a/an: a vowel letter read as a consonant
# (a useful ...) or a silent h (an honest ...).
_ARTICLE_EXCEPTIONS = {"useful": "a", "unicorn": "a", "uniform": "a", "one": "a", "honest": "an", "hour": "an"}

_VOWELS = "aeiou"
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")


def indefinite_article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by sound: ``an owl``, ``a useful``, ``an honest``)."""
    return _ARTICLE_EXCEPTIONS.get(word, "an" if word[0] in _VOWELS else "a")


def _consonant_then(word: str, last: str) -> bool:
    """Whether ``word`` ends in a consonant followed by the letter ``last`` (carry, go; not play, zoo)."""
    return word.endswith(last) and len(word) > 1 and word[-2] not in _VOWELS


def _doubles_final_consonant(verb: str) -> bool:
    """Whether ``verb`` doubles its last letter before -ed (stir -> stirred, travel -> travelled).

    That needs a single vowel letter before a single final consonant other than w, x, y
    (stop, but heat, fix, rest), in a stressed syllable: the only one, or the last by
    STRESSED_LAST_SYLLABLE. British spelling, the corpus's (harbour, grey), also doubles a final
    l after an unstressed vowel (travelled, labelled).
    """
    spelled = verb.replace("qu", "qw")  # the u of qu is no vowel (quit, equip)
    if len(spelled) < 2 or spelled[-1] in _VOWELS + "wxy" or spelled[-2] not in _VOWELS:
        return False
    if len(spelled) > 2 and spelled[-3] in _VOWELS:
        return False
    if verb.endswith("l"):
        return True
    syllables = sum(1 for i, c in enumerate(spelled) if c in _VOWELS and (i == 0 or spelled[i - 1] not in _VOWELS))
    return syllables == 1 or verb in STRESSED_LAST_SYLLABLE


def plural(noun: str) -> str:
    """English plural of a noun (``box`` -> ``boxes``, ``city`` -> ``cities``, ``knife`` -> ``knives``)."""
    return IRREGULAR_PLURAL.get(noun) or regular_plural(noun)


def regular_plural(noun: str) -> str:
    """The plural by the spelling rules alone: -es after a sibilant, -ies after consonant + y, else -s."""
    if noun.endswith(_SIBILANT_ENDINGS):
        return noun + "es"
    if _consonant_then(noun, "y"):
        return noun[:-1] + "ies"
    return noun + "s"


def past(verb: str) -> str:
    """Simple past of a verb (``stir`` -> ``stirred``, ``visit`` -> ``visited``, ``carry`` -> ``carried``,
    ``bake`` -> ``baked``, ``go`` -> ``went``)."""
    return IRREGULAR_PAST.get(verb) or regular_past(verb)


def regular_past(verb: str) -> str:
    """The past by the spelling rules alone: -d after e, -ied after consonant + y, a doubled final
    consonant where _doubles_final_consonant says so, else -ed."""
    if verb.endswith("e"):
        return verb + "d"
    if _consonant_then(verb, "y"):
        return verb[:-1] + "ied"
    if _doubles_final_consonant(verb):
        return verb + verb[-1] + "ed"
    return verb + "ed"


def third_person(verb: str) -> str:
    """Third person singular present (``catch`` -> ``catches``, ``carry`` -> ``carries``, ``go`` -> ``goes``)."""
    if verb.endswith(_SIBILANT_ENDINGS) or _consonant_then(verb, "o"):
        return verb + "es"
    if _consonant_then(verb, "y"):
        return verb[:-1] + "ies"
    return verb + "s"
