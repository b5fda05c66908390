import pytest

from espnet_trinet.data.datadir import filter_data_dir, read_map, validate_data_dir


def test_filter_reports_every_dropped_utterance(small_data_dir, tmp_path):
    # a-1 0.2 s, a-2 1.0 s, b-1 2.0 s, b-2 0.5 s with empty text
    out = tmp_path / "filtered"
    report = filter_data_dir(small_data_dir, out, min_sec=0.3, max_sec=1.5)
    assert report.num_kept == 1
    assert report.dropped == {
        "a-1": ("too_short", "0.20 s < 0.3 s"),
        "b-1": ("too_long", "2.00 s > 1.5 s"),
        "b-2": ("empty_text", ""),
    }
    assert report.counts() == {"too_short": 1, "too_long": 1, "empty_text": 1}
    assert (out / "dropped.tsv").read_text().splitlines() == [
        "utt_id\treason\tdetail",
        "a-1\ttoo_short\t0.20 s < 0.3 s",
        "b-1\ttoo_long\t2.00 s > 1.5 s",
        "b-2\tempty_text\t",
    ]
    assert list(read_map(out / "wav.scp")) == ["a-2"]
    validate_data_dir(out)


def test_chars_per_second(small_data_dir, tmp_path):
    (small_data_dir / "text").write_text("a-1 ABCDEFGHIJKLMNOPQRSTUVWXYZ\na-2 A\nb-1 B\nb-2 C\n")
    report = filter_data_dir(small_data_dir, tmp_path / "f", max_chars_per_sec=20)
    assert report.dropped == {"a-1": ("too_many_chars", "130.0 chars/s > 20")}


def test_needs_utt2num_samples_for_durations(small_data_dir, tmp_path):
    (small_data_dir / "utt2num_samples").unlink()
    with pytest.raises(FileNotFoundError, match="format the audio first"):
        filter_data_dir(small_data_dir, tmp_path / "f", min_sec=0.3)
