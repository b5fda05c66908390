"""The unlabelled extension of the synthetic corpus (subset train_extra): the rest of the corpus
stays exactly as without it, its voices and sentences are new, and verify_held_out covers it."""

import dataclasses
import json
import shutil

import pytest

from espnet_trinet.data.corpus_writer import SETTINGS_NAME, write_transcripts
from espnet_trinet.data.synth import SynthConfig, make_synth_corpus, plan_synth_corpus, verify_held_out
from espnet_trinet.data.synth.corpus import _readme, corpus_settings
from espnet_trinet.data.synth.lm_text import LM_TEXT_NAME, generate_lm_sentences
from espnet_trinet.data.synth.sentences import sentence_split
from espnet_trinet.data.synth.voices import all_voice_pairs

BASE = SynthConfig(
    seed=3, num_train_speakers=4, num_dev_speakers=2, num_test_speakers=2, utts_per_speaker=5, eval_utts_per_speaker=3
)
EXTENDED = dataclasses.replace(BASE, num_extra_train_speakers=3)
# The settings a default corpus recorded before train_extra existed (settings.json must not change).
SETTINGS_KEYS_BEFORE = {
    "title",
    "version",
    "seed",
    "num_train_speakers",
    "num_dev_speakers",
    "num_test_speakers",
    "utts_per_speaker",
    "eval_utts_per_speaker",
    "min_sec",
    "max_sec",
    "num_lm_sentences",
}


def _voice(utt):
    return utt.recipe[1]  # "<accent>+<variant>"


def test_extension_leaves_the_base_plan_unchanged():
    base_readers, base_utts = plan_synth_corpus(BASE)
    readers, utts = plan_synth_corpus(EXTENDED)
    assert readers[: len(base_readers)] == base_readers
    assert utts[: len(base_utts)] == base_utts
    assert {r.subset for r in readers[len(base_readers) :]} == {"train_extra"}
    assert {u.subset for u in utts[len(base_utts) :]} == {"train_extra"}
    # Other seeds and sizes too (the extra split is drawn last, from its own stream).
    for config in (SynthConfig(), dataclasses.replace(BASE, seed=11, num_train_speakers=9)):
        base = plan_synth_corpus(config)
        extended = plan_synth_corpus(dataclasses.replace(config, num_extra_train_speakers=5))
        assert extended[0][: len(base[0])] == base[0] and extended[1][: len(base[1])] == base[1]


def test_extra_speakers_have_new_voices_and_new_training_sentences():
    base_readers, base_utts = plan_synth_corpus(BASE)
    readers, utts = plan_synth_corpus(EXTENDED)
    extra_readers, extra_utts = readers[len(base_readers) :], utts[len(base_utts) :]
    assert [r.reader for r in extra_readers] == ["4000", "4001", "4002"]
    assert [u.utt_id for u in extra_utts] == [
        f"{reader}-{reader}1-{i:04d}" for reader in ("4000", "4001", "4002") for i in range(BASE.utts_per_speaker)
    ]
    extra_voices = [r.name.split()[1] for r in extra_readers]
    base_voices = {r.name.split()[1] for r in base_readers}
    assert len(set(extra_voices)) == 3 and not set(extra_voices) & base_voices
    assert {_voice(u) for u in extra_utts} == set(extra_voices)
    texts = [u.recipe[0] for u in utts]
    assert len(set(texts)) == len(texts)  # unique across the whole corpus
    held_out = {u.recipe[0] for u in base_utts if u.subset in ("dev", "test")}
    extra_texts = {u.recipe[0] for u in extra_utts}
    assert not extra_texts & held_out
    assert {sentence_split(t) for t in extra_texts} == {"train"}
    assert all(u.text == u.recipe[0].upper() for u in extra_utts)


def test_extra_speakers_are_checked():
    with pytest.raises(ValueError, match=">= 0"):
        plan_synth_corpus(dataclasses.replace(BASE, num_extra_train_speakers=-1))
    too_many = len(all_voice_pairs()) - 8 + 1  # BASE has 8 speakers
    with pytest.raises(ValueError, match="accent/variant pairs"):
        plan_synth_corpus(dataclasses.replace(BASE, num_extra_train_speakers=too_many))
    readers, _ = plan_synth_corpus(dataclasses.replace(BASE, num_extra_train_speakers=too_many - 1))
    voices = [r.name.split()[1] for r in readers]
    assert len(voices) == len(set(voices)) == len(all_voice_pairs())  # every pair in use, each once


def test_default_settings_and_readme_are_unchanged():
    for config in (SynthConfig(), BASE):
        settings = corpus_settings(config)
        assert set(settings) == SETTINGS_KEYS_BEFORE
        assert {k: settings[k] for k in SETTINGS_KEYS_BEFORE - {"title", "version"}} == {
            k: v for k, v in dataclasses.asdict(config).items() if k != "num_extra_train_speakers"
        }
        readme = _readme(config)
        assert "train_extra" not in readme and "num_extra_train_speakers" not in readme
    assert corpus_settings(EXTENDED)["num_extra_train_speakers"] == 3
    assert set(corpus_settings(EXTENDED)) == SETTINGS_KEYS_BEFORE | {"num_extra_train_speakers"}
    readme = _readme(EXTENDED)
    assert "`train_extra` (readers 4000...)" in readme and "- num_extra_train_speakers: 3" in readme


TINY_BASE = SynthConfig(
    seed=0,
    num_train_speakers=2,
    num_dev_speakers=1,
    num_test_speakers=1,
    utts_per_speaker=2,
    eval_utts_per_speaker=2,
    num_lm_sentences=50,
)
TINY_EXTENDED = dataclasses.replace(TINY_BASE, num_extra_train_speakers=1)


@pytest.fixture(scope="module")
def extended_corpus(tmp_path_factory):
    """2 train speakers x 2 utterances, 1 train_extra speaker x 2, 1 dev and 1 test speaker x 2."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return make_synth_corpus(tmp_path_factory.mktemp("synth_extra") / "corpus", TINY_EXTENDED, nj=1)


def test_written_extension_is_verified_and_leaves_the_rest_unchanged(extended_corpus, tmp_path):
    root = extended_corpus
    verify_held_out(root)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["dev", "test", "train", "train_extra"]
    assert [p.name for p in sorted((root / "train_extra").glob("*/*/*.flac"))] == [
        "4000-40001-0000.flac",
        "4000-40001-0001.flac",
    ]
    assert "4000 " in (root / "SPEAKERS.TXT").read_text() and "| train_extra" in (root / "SPEAKERS.TXT").read_text()
    assert json.loads((root / SETTINGS_NAME).read_text())["num_extra_train_speakers"] == 1
    assert "train_extra" in (root / "README.md").read_text()
    # Transcripts of train/dev/test and the LM text are those of the corpus without the extension.
    without = tmp_path / "without"
    write_transcripts(without, plan_synth_corpus(TINY_BASE)[1])
    expected = {p.relative_to(without): p.read_bytes() for p in without.glob("*/*/*/*.trans.txt")}
    written = {
        p.relative_to(root): p.read_bytes() for p in root.glob("*/*/*/*.trans.txt") if p.parts[-4] != "train_extra"
    }
    assert written == expected
    lm_lines = generate_lm_sentences(TINY_BASE.num_lm_sentences, TINY_BASE.seed)[0]
    assert (root / LM_TEXT_NAME).read_text() == "".join(line + "\n" for line in lm_lines)


def _copy(corpus, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(corpus, leaky)
    return leaky


def test_verify_held_out_catches_a_dev_sentence_in_train_extra(extended_corpus, tmp_path):
    leaky = _copy(extended_corpus, tmp_path)
    dev_line = next((leaky / "dev").glob("*/*/*.trans.txt")).read_text().splitlines()[0]
    extra_trans = next((leaky / "train_extra").glob("*/*/*.trans.txt"))
    lines = extra_trans.read_text().splitlines()
    lines[0] = lines[0].split()[0] + " " + dev_line.split(" ", 1)[1]
    extra_trans.write_text("\n".join(lines) + "\n")
    with pytest.raises(AssertionError, match="dev sentence also in train_extra"):
        verify_held_out(leaky)


def test_verify_held_out_catches_a_test_voice_in_train_extra(extended_corpus, tmp_path):
    leaky = _copy(extended_corpus, tmp_path)
    speakers = (leaky / "SPEAKERS.TXT").read_text().splitlines()
    test_voice = next(line for line in speakers if "| test" in line).split("|")[4].split()[1]
    extra = next(i for i, line in enumerate(speakers) if "| train_extra" in line)
    fields = speakers[extra].split("|")
    name = fields[4].split()
    fields[4] = " " + " ".join(name[:1] + [test_voice] + name[2:])
    speakers[extra] = "|".join(fields)
    (leaky / "SPEAKERS.TXT").write_text("\n".join(speakers) + "\n")
    with pytest.raises(AssertionError, match="test voice also in train_extra"):
        verify_held_out(leaky)
