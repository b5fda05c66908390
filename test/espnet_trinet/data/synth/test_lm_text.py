"""LM text of the synthetic corpus (librispeech-lm-norm.txt) and its preparation into ESPnet's
data/local/other_text/text."""

import gzip
import logging
import shutil
import time

import pytest

from espnet_trinet.bin.make_synth_corpus import main as make_synth_corpus_main
from espnet_trinet.data.librispeech import prepare_lm_text
from espnet_trinet.data.synth import SynthConfig, plan_synth_corpus, verify_held_out
from espnet_trinet.data.synth.lm_text import LM_TEXT_NAME, check_lm_text, generate_lm_sentences, write_lm_text
from espnet_trinet.data.synth.sentences import sentence_split, vocabulary
from espnet_trinet.data.text_norm import normalize_transcript

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _held_out(corpus):
    return {
        line.split(" ", 1)[1]
        for subset in ("dev", "test")
        for trans in (corpus / subset).glob("*/*/*.trans.txt")
        for line in trans.read_text().splitlines()
    }


def test_corpus_has_lm_text_of_the_grammar_without_dev_test(tiny_synth_corpus, tiny_synth_config):
    lines = (tiny_synth_corpus / LM_TEXT_NAME).read_text().splitlines()
    assert len(lines) == tiny_synth_config.num_lm_sentences
    assert all(line == normalize_transcript(line) and line for line in lines)  # normalised, no ids
    assert not set(lines) & _held_out(tiny_synth_corpus)
    words = {w.upper() for w in vocabulary()}
    assert {w for line in lines for w in line.split()} - words == set()


def test_generation_is_deterministic_fast_and_from_train_buckets_only():
    start = time.perf_counter()
    lines, dropped, _ = generate_lm_sentences(20000, seed=0)
    assert time.perf_counter() - start < 10  # about 0.3 s: text only
    assert (lines, dropped) == generate_lm_sentences(20000, seed=0)[:2]
    assert lines != generate_lm_sentences(20000, seed=1)[0]
    assert len(lines) == 20000 and 1000 < dropped < 4000  # 2 of 20 hash buckets are dev/test
    assert all(sentence_split(line) == "train" for line in lines)


def test_no_dev_test_sentence_of_a_full_size_plan(tmp_path):
    _, utts = plan_synth_corpus(SynthConfig(num_train_speakers=16))
    held_out = {u.text for u in utts if u.subset != "train"}
    path = write_lm_text(tmp_path / LM_TEXT_NAME, 5000, 0, held_out)
    assert check_lm_text(path, held_out) == 5000
    assert not set(path.read_text().splitlines()) & held_out
    assert not (tmp_path / (LM_TEXT_NAME + ".tmp")).exists()


def test_a_leaked_dev_sentence_is_caught(tiny_synth_corpus, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(tiny_synth_corpus, leaky)
    dev_sentence = sorted(_held_out(leaky))[0]
    with open(leaky / LM_TEXT_NAME, "a") as f:
        f.write(dev_sentence.lower() + "\n")  # normalisation makes it equal
    with pytest.raises(AssertionError, match="is a dev/test transcript"):
        verify_held_out(leaky)


@needs_espeak
def test_cli_writes_the_requested_number_of_lines(tmp_path):
    args = ["--num_train_speakers", "1", "--num_dev_speakers", "1", "--num_test_speakers", "1"]
    args += ["--utts_per_speaker", "1", "--eval_utts_per_speaker", "1", "--num_lm_sentences", "300"]
    assert make_synth_corpus_main(["--output_dir", str(tmp_path / "c")] + args) == 0
    text = (tmp_path / "c" / LM_TEXT_NAME).read_text()
    assert len(text.splitlines()) == 300
    assert text.splitlines() == generate_lm_sentences(300, seed=0)[0]


def test_other_text_from_the_corpus_as_espnet_writes_it(tiny_synth_corpus, tmp_path):
    out = tmp_path / "data" / "local" / "other_text" / "text"
    assert prepare_lm_text(tiny_synth_corpus, out) == 20000
    first = out.read_bytes()
    lm = (tiny_synth_corpus / LM_TEXT_NAME).read_text().splitlines()
    assert first.decode().splitlines() == [f"librispeech_lm_norm_{n:08d} {s}" for n, s in enumerate(lm, start=1)]
    assert prepare_lm_text(tiny_synth_corpus, out) == 20000 and out.read_bytes() == first  # idempotent
    assert sorted(p.name for p in out.parent.iterdir()) == ["text"]


def test_other_text_from_gz_in_the_parent_normalised(tmp_path):
    corpus = tmp_path / "LibriSpeech"
    corpus.mkdir()
    with gzip.open(tmp_path / "librispeech-lm-norm.txt.gz", "wt") as f:
        f.write("THE CAT SAT\nthe café, 'tis DON'T\n\n   \nA  B\n")
    out = tmp_path / "text"
    assert prepare_lm_text(corpus, out) == 3
    assert out.read_text().splitlines() == [
        "librispeech_lm_norm_00000001 THE CAT SAT",
        "librispeech_lm_norm_00000002 THE CAFE TIS DON'T",
        "librispeech_lm_norm_00000005 A B",
    ]


def test_absent_lm_text_is_logged_not_fatal(tmp_path, caplog):
    corpus = tmp_path / "LibriSpeech"
    corpus.mkdir()
    with caplog.at_level(logging.WARNING):
        assert prepare_lm_text(corpus, tmp_path / "text") is None
    assert "LM text is absent" in caplog.text and "librispeech-lm-norm.txt.gz" in caplog.text
    assert "--lm_train_text" in caplog.text and not (tmp_path / "text").exists()
