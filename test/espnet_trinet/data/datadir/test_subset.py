import pytest

from espnet_trinet.data.datadir import DataDirError, read_map, subset_data_dir, validate_data_dir


def test_subset_by_utt_list_and_speakers(small_data_dir, tmp_path):
    assert subset_data_dir(small_data_dir, tmp_path / "u", utt_ids=["b-2", "a-1"]) == ["a-1", "b-2"]
    validate_data_dir(tmp_path / "u")
    assert subset_data_dir(small_data_dir, tmp_path / "s", spk_ids=["b"]) == ["b-1", "b-2"]
    assert read_map(tmp_path / "s" / "spk2utt") == {"b": "b-1 b-2"}


def test_first_and_random_are_deterministic(small_data_dir, tmp_path):
    assert subset_data_dir(small_data_dir, tmp_path / "f", first=3) == ["a-1", "a-2", "b-1"]
    one = subset_data_dir(small_data_dir, tmp_path / "r1", num_random=2, seed=3)
    two = subset_data_dir(small_data_dir, tmp_path / "r2", num_random=2, seed=3)
    assert one == two and len(one) == 2


def test_unknown_ids_are_errors(small_data_dir, tmp_path):
    with pytest.raises(DataDirError, match="requested utterances not found, e.g. 'zz'"):
        subset_data_dir(small_data_dir, tmp_path / "x", utt_ids=["a-1", "zz"])
    with pytest.raises(DataDirError, match="only 4 available"):
        subset_data_dir(small_data_dir, tmp_path / "x", num_random=9)
