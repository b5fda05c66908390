import numpy as np
import soundfile as sf

from espnet_trinet.bin.prepare_librispeech import main


def test_subsets_to_data_dirs(tmp_path, capsys):
    for subset, reader in (("dev-clean", "1"), ("test-clean", "2")):
        chapter = tmp_path / "LibriSpeech" / subset / reader / "10"
        chapter.mkdir(parents=True)
        sf.write(chapter / f"{reader}-10-0000.flac", np.zeros(800, dtype=np.int16), 16000)
        (chapter / f"{reader}-10.trans.txt").write_text(f"{reader}-10-0000 HELLO\n")
    assert (
        main(
            [
                "--corpus_dir",
                str(tmp_path / "LibriSpeech"),
                "--subsets",
                "dev-clean",
                "test-clean",
                "--output_dir",
                str(tmp_path / "data"),
            ]
        )
        == 0
    )
    assert (tmp_path / "data" / "dev_clean" / "text").read_text() == "1-10-0000 HELLO\n"
    assert (tmp_path / "data" / "test_clean" / "spk2utt").read_text() == "2-10 2-10-0000\n"
    assert main(["--corpus_dir", str(tmp_path), "--subsets", "train-clean-100", "--output_dir", str(tmp_path)]) == 1
    assert "subset 'train-clean-100' not found" in capsys.readouterr().err
