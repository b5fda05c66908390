import pytest

from espnet_trinet.data.datadir.kaldi_files import (
    DataDirError,
    copy_filtered,
    is_spk_keyed,
    is_utt_keyed,
    read_entries,
    read_map,
    spk2utt_to_utt2spk,
    utt2spk_to_spk2utt,
    write_map,
)


def test_read_entries_keeps_line_numbers_and_empty_values(tmp_path):
    f = tmp_path / "text"
    f.write_text("a HELLO  WORLD\n\nb\nc x\n")
    assert [(e.line, e.key, e.value) for e in read_entries(f)] == [
        (1, "a", "HELLO  WORLD"),
        (3, "b", ""),
        (4, "c", "x"),
    ]


def test_read_map_names_file_and_line_of_duplicates(tmp_path):
    f = tmp_path / "utt2spk"
    f.write_text("a s\nb s\na t\n")
    with pytest.raises(DataDirError, match=r"utt2spk:3: duplicate id 'a' \(first at line 1\)"):
        read_map(f)


def test_write_map_sorts_in_c_order_and_is_atomic(tmp_path):
    f = tmp_path / "text"
    write_map(f, {"b": "X", "B": "Y", "a-1": "", "a_1": "Z"})
    assert f.read_text() == "B Y\na-1\na_1 Z\nb X\n"
    assert not list(tmp_path.glob(".*tmp"))


def test_spk2utt_round_trip():
    utt2spk = {"s1-b": "s1", "s1-a": "s1", "s2-a": "s2"}
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    assert spk2utt == {"s1": ["s1-a", "s1-b"], "s2": ["s2-a"]}
    assert spk2utt_to_utt2spk(spk2utt) == utt2spk
    with pytest.raises(DataDirError, match="two|listed under"):
        spk2utt_to_utt2spk({"s1": ["u"], "s2": ["u"]})


def test_file_kinds():
    assert all(is_utt_keyed(n) for n in ("wav.scp", "text", "utt2spk", "utt2num_samples"))
    assert is_spk_keyed("spk2gender") and not is_spk_keyed("spk2utt") and not is_utt_keyed("spk2gender")


def test_copy_filtered_follows_speakers(small_data_dir, tmp_path):
    (small_data_dir / "spk2gender").write_text("a m\nb f\n")
    copy_filtered(small_data_dir, tmp_path / "out", ["a-1", "a-2"])
    assert read_map(tmp_path / "out" / "spk2gender") == {"a": "m"}
    assert read_map(tmp_path / "out" / "spk2utt") == {"a": "a-1 a-2"}
    assert sorted(read_map(tmp_path / "out" / "utt2num_samples")) == ["a-1", "a-2"]
