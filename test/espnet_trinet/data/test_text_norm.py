import pytest

from espnet_trinet.data.text_norm import normalize_transcript, transliterate


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("hello, world!", "HELLO WORLD"),
        ("It's  a well-known fact.", "IT'S A WELL KNOWN FACT"),
        ("Café naïve Straße Æsir", "CAFE NAIVE STRASSE AESIR"),
        ("don\u2019t 'quoted' words", "DON'T QUOTED WORDS"),
        ("日本 speech 🙂 test", "SPEECH TEST"),
        ("room 101", "ROOM 101"),
        ("?!", ""),
    ],
)
def test_normalize_transcript(raw, expected):
    assert normalize_transcript(raw) == expected


def test_transliterate_drops_what_has_no_ascii_form():
    assert transliterate("ñ→ü") == "nu"
