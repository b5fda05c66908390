"""prepare_librispeech on the tiny synthetic corpus and on broken copies of it."""

import shutil

import pytest

from espnet_trinet.data.datadir import DataDirError, read_map, validate_data_dir
from espnet_trinet.data.librispeech import data_dir_name, prepare_librispeech, read_speakers_txt


@pytest.mark.parametrize("subset,num_utts", [("train", 6), ("dev", 2), ("test", 2)])
def test_prepare_synthetic_subsets(tiny_synth_corpus, tmp_path, subset, num_utts):
    out = tmp_path / "data" / subset
    summary = prepare_librispeech(tiny_synth_corpus, subset, out)
    assert summary.num_utts == num_utts
    validate_data_dir(out)
    wav, text, utt2spk = (read_map(out / n) for n in ("wav.scp", "text", "utt2spk"))
    utt = sorted(wav)[0]
    reader, chapter, _ = utt.split("-")
    assert wav[utt] == str(tiny_synth_corpus / subset / reader / chapter / f"{utt}.flac")
    assert utt2spk[utt] == f"{reader}-{chapter}"
    assert text[utt].isupper()
    assert set(read_map(out / "spk2gender").values()) <= {"m", "f"}


def test_reader_level_speakers_and_parent_dir(tiny_synth_corpus, tmp_path):
    parent = tmp_path / "downloads"
    (parent).mkdir()
    shutil.copytree(tiny_synth_corpus, parent / "LibriSpeech")
    prepare_librispeech(parent, "dev", tmp_path / "dev", speaker_level="reader")
    assert set(read_map(tmp_path / "dev" / "utt2spk").values()) == {"2000"}


def test_speakers_txt(tiny_synth_corpus):
    genders = read_speakers_txt(tiny_synth_corpus / "SPEAKERS.TXT")
    assert set(genders) == {"1000", "1001", "2000", "3000"}


def test_inconsistent_corpus_is_reported_before_writing(tiny_synth_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_synth_corpus, corpus)
    chapter = corpus / "train" / "1000" / "10001"
    (chapter / "1000-10001-0001.flac").unlink()
    trans = chapter / "1000-10001.trans.txt"
    lines = trans.read_text().splitlines()
    trans.write_text("\n".join(lines[:2] + ["9-9-0000 WRONG ID"]) + "\n")  # line 3 replaced
    with pytest.raises(DataDirError) as err:
        prepare_librispeech(corpus, "train", tmp_path / "out")
    assert err.value.problems == [
        f"{trans}:2: no audio file {chapter / '1000-10001-0001.flac'}",
        f"{trans}:3: id '9-9-0000' is not 1000-10001-<number>",
        f"{chapter / '1000-10001-0002.flac'}: no line in {trans}",
    ]
    assert not (tmp_path / "out").exists()


def test_missing_subset(tiny_synth_corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="subset 'train-clean-100' not found"):
        prepare_librispeech(tiny_synth_corpus, "train-clean-100", tmp_path / "x")


def test_data_dir_name():
    assert data_dir_name("train-clean-100") == "train_clean_100"
