"""Transcript normalisation to LibriSpeech's convention: upper-case ASCII letters, digits,
apostrophes inside words, single spaces.

Non-ASCII letters are transliterated where Unicode gives an ASCII base letter (``é`` -> ``E``,
``ß`` -> ``SS``, ``æ`` -> ``AE``); anything else non-ASCII (other scripts, symbols, emoji) is
removed. Punctuation becomes a word break, except an apostrophe between letters (``DON'T``).
"""

import re
import unicodedata

# Letters that have no decomposition into an ASCII base letter but an accepted spelling.
_SPECIAL = {
    "ß": "ss",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "þ": "th",
    "Þ": "TH",
    "ð": "d",
    "Ð": "D",
    "ı": "i",
}
_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"}
_NOT_ALLOWED = re.compile(r"[^A-Z0-9' ]+")
_LONE_APOSTROPHE = re.compile(r"(?<![A-Z0-9])'|'(?![A-Z0-9])")


def transliterate(text: str) -> str:
    """Maps text to ASCII: decomposes accented letters and drops what has no ASCII form."""
    text = "".join(_SPECIAL.get(c, _APOSTROPHES.get(c, c)) for c in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if ord(c) < 128)


def normalize_transcript(text: str) -> str:
    """LibriSpeech-style transcript.

    Args:
        text: raw transcript (any case, punctuation, Unicode).
    Returns:
        upper-case words of ``A-Z``, ``0-9`` and inner apostrophes, separated by single spaces;
        possibly empty.
    """
    text = transliterate(text).upper()
    text = _NOT_ALLOWED.sub(" ", text)
    text = _LONE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())
