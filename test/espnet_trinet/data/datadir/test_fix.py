from espnet_trinet.data.datadir import fix_data_dir, read_map, validate_data_dir


def test_fix_sorts_dedupes_intersects_and_regenerates_spk2utt(small_data_dir):
    d = small_data_dir
    (d / "text").write_text("b-1 B ONE\na-2 A TWO\na-1 A ONE\na-1 AGAIN\nz-9 ORPHAN\n")  # unsorted, dup, extra
    (d / "spk2utt").write_text("junk junk\n")
    report = fix_data_dir(d)
    assert report.num_utts == 3
    assert report.removed == {"b-2": "no entry in text", "z-9": "no entry in utt2num_samples, utt2spk, wav.scp"}
    assert report.duplicates == [f"{d / 'text'}:4"]
    assert read_map(d / "text") == {"a-1": "A ONE", "a-2": "A TWO", "b-1": "B ONE"}
    assert read_map(d / "spk2utt") == {"a": "a-1 a-2", "b": "b-1"}
    validate_data_dir(d)
    assert (d / ".backup" / "text").read_text().startswith("b-1 B ONE")


def test_fix_into_other_dir_drops_empty_speakers(small_data_dir, tmp_path):
    (small_data_dir / "spk2gender").write_text("a m\nb f\n")
    (small_data_dir / "text").write_text("a-1 X\n")
    fix_data_dir(small_data_dir, tmp_path / "fixed")
    assert read_map(tmp_path / "fixed" / "spk2gender") == {"a": "m"}
    assert not (small_data_dir / ".backup").exists()
