"""The datadir CLI: each subcommand on a small data dir."""

import numpy as np
import soundfile as sf
import pytest

from espnet_trinet.bin.datadir import main


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    wav, text, utt2spk, lengths = [], [], [], []
    for spk in ("a", "b"):
        for i, sec in enumerate((0.2, 1.0)):
            utt = f"{spk}-{i}"
            sf.write(tmp_path / f"{utt}.flac", np.zeros(int(sec * 16000), dtype=np.int16), 16000)
            wav.append(f"{utt} {tmp_path / (utt + '.flac')}")
            text.append(f"{utt} WORD")
            utt2spk.append(f"{utt} {spk}")
            lengths.append(f"{utt} {int(sec * 16000)}")
    for name, lines in (("wav.scp", wav), ("text", text), ("utt2spk", utt2spk), ("utt2num_samples", lengths)):
        (d / name).write_text("\n".join(lines) + "\n")
    (d / "spk2utt").write_text("a a-0 a-1\nb b-0 b-1\n")
    return d


def test_validate_ok_and_error(data_dir, capsys):
    assert main(["validate", str(data_dir)]) == 0
    assert "OK (4 utterances, 2 speakers" in capsys.readouterr().out
    (data_dir / "text").write_text("b-0 X\na-0 Y\n")
    assert main(["validate", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert f"{data_dir / 'text'}:2: not sorted" in err and "has no entry in text" in err


def test_fix_then_validate(data_dir):
    (data_dir / "text").write_text("b-0 X\na-0 Y\n")
    assert main(["fix", str(data_dir)]) == 0
    assert main(["validate", str(data_dir)]) == 0
    assert (data_dir / "spk2utt").read_text() == "a a-0\nb b-0\n"


def test_split_filter_combine(data_dir, tmp_path, capsys):
    assert main(["split", str(data_dir), "2"]) == 0
    assert capsys.readouterr().out.split() == [str(data_dir / "split2" / "1"), str(data_dir / "split2" / "2")]
    (tmp_path / "spk.list").write_text("b\n")
    assert (
        main(
            [
                "filter",
                "--in_dir",
                str(data_dir),
                "--out_dir",
                str(tmp_path / "f"),
                "--spk_list",
                str(tmp_path / "spk.list"),
                "--min_sec",
                "0.5",
            ]
        )
        == 0
    )
    assert (tmp_path / "f" / "text").read_text() == "b-1 WORD\n"
    assert "b-0\ttoo_short" in (tmp_path / "f" / "dropped.tsv").read_text()
    assert main(["combine", str(tmp_path / "all"), str(data_dir / "split2" / "1"), str(data_dir / "split2" / "2")]) == 0
    assert (tmp_path / "all" / "text").read_text() == (data_dir / "text").read_text()
    assert main(["combine", str(tmp_path / "dup"), str(data_dir), str(data_dir / "split2" / "1")]) == 1
    assert "duplicate utterance id 'a-0'" in capsys.readouterr().err


def test_spk2utt_and_utt2spk(data_dir, tmp_path, capsys):
    assert main(["spk2utt", str(data_dir / "utt2spk"), "-"]) == 0
    assert capsys.readouterr().out == "a a-0 a-1\nb b-0 b-1\n"
    assert main(["utt2spk", str(data_dir / "spk2utt"), str(tmp_path / "u2s")]) == 0
    assert (tmp_path / "u2s").read_text() == (data_dir / "utt2spk").read_text()
