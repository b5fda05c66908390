import pytest

from espnet_trinet.data.datadir import DataDirError, read_map, split_data_dir, validate_data_dir
from espnet_trinet.data.datadir.split import partition_sizes


def test_partition_sizes_contiguous_balanced_nonempty():
    assert partition_sizes([1, 1, 1, 1], 2) == [0, 0, 1, 1]
    assert partition_sizes([10, 1, 1, 1], 3) == [0, 1, 1, 2]
    assert partition_sizes([1, 1, 10], 3) == [0, 1, 2]
    parts = partition_sizes([3] * 10, 4)
    assert sorted(set(parts)) == [0, 1, 2, 3] and parts == sorted(parts)
    with pytest.raises(ValueError):
        partition_sizes([1, 2], 3)


def test_split_by_speaker_like_kaldi(small_data_dir):
    parts = split_data_dir(small_data_dir, 2)
    assert parts == [small_data_dir / "split2" / "1", small_data_dir / "split2" / "2"]
    assert read_map(parts[0] / "spk2utt") == {"a": "a-1 a-2"}
    assert read_map(parts[1] / "spk2utt") == {"b": "b-1 b-2"}
    for part in parts:
        validate_data_dir(part)
    assert sorted(read_map(parts[1] / "utt2num_samples")) == ["b-1", "b-2"]


def test_split_per_utt_and_too_many_parts(small_data_dir):
    parts = split_data_dir(small_data_dir, 4, per_utt=True)
    assert [list(read_map(p / "text")) for p in parts] == [["a-1"], ["a-2"], ["b-1"], ["b-2"]]
    assert parts[0].parent.name == "split4utt"
    with pytest.raises(DataDirError, match="cannot split 2 speakers into 3 parts"):
        split_data_dir(small_data_dir, 3)


def test_resplit_replaces_old_parts(small_data_dir):
    split_data_dir(small_data_dir, 2)
    (small_data_dir / "text").write_text("a-1 NEW\na-2 X\nb-1 Y\nb-2 Z\n")
    parts = split_data_dir(small_data_dir, 2)
    assert read_map(parts[0] / "text")["a-1"] == "NEW"
