from espnet_trinet.bin.filter_datadir import main


def test_filter_counts_and_report(tmp_path, caplog):
    d = tmp_path / "in"
    d.mkdir()
    (d / "wav.scp").write_text("s-1 /x/1.flac\ns-2 /x/2.flac\ns-3 /x/3.flac\n")
    (d / "text").write_text("s-1 HI\ns-2\ns-3 LONG\n")
    (d / "utt2spk").write_text("s-1 s\ns-2 s\ns-3 s\n")
    (d / "spk2utt").write_text("s s-1 s-2 s-3\n")
    (d / "utt2num_samples").write_text("s-1 16000\ns-2 16000\ns-3 480000\n")
    assert main(["--in_dir", str(d), "--out_dir", str(tmp_path / "out"), "--max_sec", "20"]) == 0
    assert (tmp_path / "out" / "wav.scp").read_text() == "s-1 /x/1.flac\n"
    assert (tmp_path / "out" / "dropped.tsv").read_text().splitlines()[1:] == [
        "s-2\tempty_text\t",
        "s-3\ttoo_long\t30.00 s > 20 s",
    ]
    assert main(["--in_dir", str(d), "--out_dir", str(tmp_path / "none"), "--min_sec", "100"]) == 1


def test_min_encodable_sec_applies_with_min_sec_zero(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "wav.scp").write_text("s-1 /x/1.flac\ns-2 /x/2.flac\n")
    (d / "text").write_text("s-1 HI\ns-2 HO\n")
    (d / "utt2spk").write_text("s-1 s\ns-2 s\n")
    (d / "spk2utt").write_text("s s-1 s-2\n")
    (d / "utt2num_samples").write_text("s-1 800\ns-2 960\n")  # 0.05 s, 0.06 s
    args = ["--in_dir", str(d), "--out_dir", str(tmp_path / "out"), "--min_sec", "0", "--max_sec", "100000"]
    assert main(args + ["--min_encodable_sec", "0.06"]) == 0
    assert (tmp_path / "out" / "wav.scp").read_text() == "s-2 /x/2.flac\n"
    assert (tmp_path / "out" / "excluded.tsv").read_text().splitlines()[1].startswith(
        "s-1\tfilter\ttoo_short_to_encode\t/x/1.flac\t0.050 s < 0.06 s"
    )
