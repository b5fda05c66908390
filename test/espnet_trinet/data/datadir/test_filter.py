import pytest

from espnet_trinet.data.datadir import filter_data_dir, read_map, validate_data_dir
from espnet_trinet.data.datadir.exclusion_report import Excluded, read_report, write_report


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


def test_excluded_report_carries_earlier_rows_and_names_sources(small_data_dir, tmp_path):
    (small_data_dir / "utt2source").write_text("a-1 /corpus/a-1.flac\na-2 /corpus/a-2.flac\nb-1 x\nb-2 y\n")
    earlier = Excluded("a-0", "format", "empty_file", "/corpus/a-0.flac", "/corpus/a-0.flac: 0 bytes")
    write_report(small_data_dir / "excluded.tsv", [earlier])
    out = tmp_path / "filtered"
    report = filter_data_dir(small_data_dir, out, min_sec=0.1, max_sec=1.5, min_encodable_sec=0.3)
    assert report.counts() == {"empty_text": 1, "too_long": 1, "too_short_to_encode": 1}
    assert read_report(out / "excluded.tsv") == [
        earlier,
        Excluded("a-1", "filter", "too_short_to_encode", "/corpus/a-1.flac",
                 "0.200 s < 0.3 s, the shortest input the models' frontend and subsampling can encode"),
        Excluded("b-1", "filter", "too_long", "x", "2.00 s > 1.5 s"),
        Excluded("b-2", "filter", "empty_text", "y", ""),
    ]
    assert (out / "utt2source").read_text() == "a-2 /corpus/a-2.flac\n"
    validate_data_dir(out)


def test_sources_default_to_wav_scp(small_data_dir, tmp_path):
    report = filter_data_dir(small_data_dir, tmp_path / "f", min_encodable_sec=0.25)
    wav = read_map(small_data_dir / "wav.scp")
    assert report.dropped["a-1"][0] == "too_short_to_encode"
    assert [(e.utt, e.source) for e in read_report(tmp_path / "f" / "excluded.tsv")] == [
        ("a-1", wav["a-1"]), ("b-2", wav["b-2"])
    ]
