"""prepare_librispeech on the tiny synthetic corpus and on messy corpora written by the tests."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.data.datadir import DataDirError, read_map, validate_data_dir
from espnet_trinet.data.datadir.exclusion_report import read_report
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


def _chapter(root: Path, subset: str, reader: str, chapter: str, utts, lines) -> Path:
    """Writes one chapter folder: a short FLAC per index in ``utts``, the transcript ``lines`` as given."""
    folder = root / subset / reader / chapter
    folder.mkdir(parents=True)
    for index in utts:
        sf.write(folder / f"{reader}-{chapter}-{index}.flac", np.zeros(1600, dtype=np.int16), 16000)
    trans = folder / f"{reader}-{chapter}.trans.txt"
    if lines is not None:
        trans.write_bytes(b"".join(line + b"\n" for line in lines))
    return folder


@pytest.fixture
def messy_corpus(tmp_path):
    """A subset with one utterance per kind of transcript problem, and six good ones."""
    root = tmp_path / "corpus"
    _chapter(root, "dev", "7", "70", ["0000", "0001", "0002"], [
        b"\xef\xbb\xbf7-70-0000 FIRST LINE AFTER A BYTE ORDER MARK",
        b"7-70-0001\tTAB   SEPARATED  ",
        b"7-70-0002 SAID TWICE",
        b"7-70-0002 SAID TWICE",  # verbatim: merged
    ])
    _chapter(root, "dev", "8", "80", ["0000", "0001", "0002", "0003", "0005", "0006"], [
        b"8-80-0000 GOOD",
        b"8-80-0001 ONE VERSION",
        b"8-80-0001 ANOTHER VERSION",  # conflicting: both lines excluded
        b"9-99-0002 WRONG FOLDER",
        b"8-80-0003 caf\xe9 IN LATIN-1",
        b"8-80-0004 NO AUDIO FOR THIS LINE",
        b"",
        b"8-80-0005 GOOD TOO",
        b"8-80-0006",  # empty transcript: kept (stage 4 drops it)
    ])
    _chapter(root, "dev", "9", "90", ["0000"], None)  # FLAC without any transcript file
    return root


def test_messy_subset_keeps_the_usable_and_reports_the_rest(messy_corpus, tmp_path, caplog):
    out = tmp_path / "data" / "dev"
    with caplog.at_level(logging.INFO):
        report = prepare_librispeech(messy_corpus, "dev", out)
    trans7 = messy_corpus / "dev" / "7" / "70" / "7-70.trans.txt"
    chapter8 = messy_corpus / "dev" / "8" / "80"
    trans8 = chapter8 / "8-80.trans.txt"
    flac90 = messy_corpus / "dev" / "9" / "90" / "9-90-0000.flac"

    text = read_map(out / "text")
    assert text == {
        "7-70-0000": "FIRST LINE AFTER A BYTE ORDER MARK",
        "7-70-0001": "TAB SEPARATED",
        "7-70-0002": "SAID TWICE",
        "8-80-0000": "GOOD",
        "8-80-0005": "GOOD TOO",
        "8-80-0006": "",
    }
    validate_data_dir(out)
    assert report.num_utts == 6 and report.fixes == {"duplicate_line_merged": 1}
    assert (out / "excluded.tsv").read_text().splitlines() == [
        "utt_id\tstep\treason\tsource\tdetail",
        f"8-80-0001\tprepare\tduplicate_id\t{trans8}:2\tlines 2, 3 give different transcripts",
        f"8-80-0001\tprepare\tduplicate_id\t{trans8}:3\tlines 2, 3 give different transcripts",
        f"8-80-0002\tprepare\tno_transcript\t{chapter8 / '8-80-0002.flac'}\tno line in {trans8}",
        f"8-80-0003\tprepare\tbad_encoding\t{trans8}:5\tnot UTF-8: byte 0xe9 at column 14",
        f"8-80-0004\tprepare\tno_audio\t{trans8}:6\tno file {chapter8 / '8-80-0004.flac'}",
        f"9-90-0000\tprepare\tno_transcript\t{flac90}\t9-90.trans.txt is missing from {flac90.parent}",
        f"9-99-0002\tprepare\tbad_id\t{trans8}:4\tid '9-99-0002' is not 8-80-<number>",
    ]
    assert [(e.utt, e.reason) for e in read_report(out / "excluded.tsv")] == [
        (e.utt, e.reason) for e in report.excluded
    ]
    assert (
        "fixes: {'duplicate_line_merged': 1}; excluded: {'bad_encoding': 1, 'bad_id': 1, 'duplicate_id': 1, "
        "'no_audio': 1, 'no_transcript': 2}" in caplog.text
    )


def test_unreadable_transcript_excludes_its_chapter(messy_corpus, tmp_path, monkeypatch):
    trans = messy_corpus / "dev" / "7" / "70" / "7-70.trans.txt"
    real_read_bytes = Path.read_bytes

    def read_bytes(path):
        if path == trans:
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = prepare_librispeech(messy_corpus, "dev", tmp_path / "dev", max_excluded_fraction=1.0)
    rows = {(e.utt, e.reason, e.source, e.detail) for e in report.excluded if e.reason == "unreadable_transcript"}
    assert rows == {(f"7-70-{i}", "unreadable_transcript", str(trans), f"{trans}: Permission denied")
                    for i in ("0000", "0001", "0002")}
    assert "7-70-0000" not in read_map(tmp_path / "dev" / "text")


def test_too_many_excluded_fails_after_writing_everything(messy_corpus, tmp_path):
    out = tmp_path / "dev"
    shutil.rmtree(messy_corpus / "dev" / "7")  # the good chapter: 6 of 9 utterances excluded, above 0.5
    with pytest.raises(DataDirError, match=r"6 of 9 utterances excluded \(67%, more than max_excluded_fraction "
                       r"0.5\).*is this the right folder\? Each is listed in .*excluded.tsv.*--max_excluded_fraction"):
        prepare_librispeech(messy_corpus, "dev", out)
    assert len(read_map(out / "wav.scp")) == 3 and len(read_report(out / "excluded.tsv")) == 7
    assert prepare_librispeech(messy_corpus, "dev", out, max_excluded_fraction=0.7).num_utts == 3


def test_nothing_usable_or_wrong_folder_fails_loudly(tmp_path):
    root = tmp_path / "corpus"
    _chapter(root, "dev", "1", "10", ["0000", "0001"], [b"1-10-0002 NO AUDIO"])
    with pytest.raises(DataDirError, match=r"none of its 3 utterances is usable \(\{'no_audio': 1, "
                       r"'no_transcript': 2\}\); each is listed in"):
        prepare_librispeech(root, "dev", tmp_path / "out")
    assert len(read_report(tmp_path / "out" / "excluded.tsv")) == 3
    assert not (tmp_path / "out" / "wav.scp").exists()

    (root / "empty").mkdir()
    with pytest.raises(DataDirError, match="no utterances found .* is this the right folder"):
        prepare_librispeech(root, "empty", tmp_path / "out2")


def test_missing_subset(tiny_synth_corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="subset 'train-clean-100' not found"):
        prepare_librispeech(tiny_synth_corpus, "train-clean-100", tmp_path / "x")


def test_data_dir_name():
    assert data_dir_name("train-clean-100") == "train_clean_100"
