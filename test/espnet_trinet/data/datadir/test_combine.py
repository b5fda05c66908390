import pytest

from espnet_trinet.data.datadir import DataDirError, combine_data_dirs, read_map, subset_data_dir, validate_data_dir


def test_combine_two_parts(small_data_dir, tmp_path):
    subset_data_dir(small_data_dir, tmp_path / "p1", utt_ids=["a-1", "b-1"])
    subset_data_dir(small_data_dir, tmp_path / "p2", utt_ids=["a-2", "b-2"])
    assert combine_data_dirs(tmp_path / "all", [tmp_path / "p1", tmp_path / "p2"]) == 4
    validate_data_dir(tmp_path / "all")
    assert read_map(tmp_path / "all" / "spk2utt") == read_map(small_data_dir / "spk2utt")


def test_duplicate_ids_are_an_error_naming_both_sources(small_data_dir, tmp_path):
    subset_data_dir(small_data_dir, tmp_path / "p1", utt_ids=["a-1", "b-1"])
    subset_data_dir(small_data_dir, tmp_path / "p2", utt_ids=["b-1", "b-2"])
    with pytest.raises(DataDirError) as err:
        combine_data_dirs(tmp_path / "all", [tmp_path / "p1", tmp_path / "p2"])
    assert err.value.problems == [
        f"{tmp_path / 'p2' / 'utt2spk'}:1: duplicate utterance id 'b-1' (also in {tmp_path / 'p1' / 'utt2spk'}:2)"
    ]
    assert not (tmp_path / "all").exists()


def test_conflicting_speaker_data_and_partial_files(small_data_dir, tmp_path):
    subset_data_dir(small_data_dir, tmp_path / "p1", utt_ids=["a-1"])
    subset_data_dir(small_data_dir, tmp_path / "p2", utt_ids=["a-2"])
    (tmp_path / "p1" / "spk2gender").write_text("a m\n")
    (tmp_path / "p2" / "spk2gender").write_text("a f\n")
    with pytest.raises(DataDirError, match="speaker 'a' has 'f'"):
        combine_data_dirs(tmp_path / "all", [tmp_path / "p1", tmp_path / "p2"])
    (tmp_path / "p2" / "spk2gender").unlink()  # present in one source only: left out
    combine_data_dirs(tmp_path / "all", [tmp_path / "p1", tmp_path / "p2"])
    assert not (tmp_path / "all" / "spk2gender").exists()
