from espnet_trinet.bin.perturb_speed import main


def test_ids_and_pipes(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (tmp_path / "a.flac").write_bytes(b"")  # only its existence is checked here
    (d / "wav.scp").write_text(f"s-1 {tmp_path / 'a.flac'}\n")
    (d / "text").write_text("s-1 HI\n")
    (d / "utt2spk").write_text("s-1 s\n")
    (d / "spk2utt").write_text("s s-1\n")
    assert main(["--in_dir", str(d), "--out_dir", str(tmp_path / "sp"), "--factors", "0.9", "1.0", "1.1"]) == 0
    wav = (tmp_path / "sp" / "wav.scp").read_text().splitlines()
    assert wav == [
        f"s-1 {tmp_path / 'a.flac'}",
        f"sp0.9-s-1 sox {tmp_path / 'a.flac'} -t wav - speed 0.9 |",
        f"sp1.1-s-1 sox {tmp_path / 'a.flac'} -t wav - speed 1.1 |",
    ]
    assert main(["--in_dir", str(d), "--out_dir", str(tmp_path / "x"), "--factors", "0"]) == 1
