from espnet_trinet.bin.prepare_pocketsphinx_testdata import main


def test_missing_data_root(tmp_path, capsys):
    assert main(["--output_dir", str(tmp_path / "ps"), "--data_root", str(tmp_path / "none")]) == 1
    assert "apt-get install pocketsphinx-testdata" in capsys.readouterr().err
