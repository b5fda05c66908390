from espnet_trinet.bin.make_fsdd_corpus import main


def test_missing_fsdd_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["--fsdd_dir", str(tmp_path / "nowhere"), "--output_dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "no FSDD recordings found" in err and "--fsdd_dir" in err
