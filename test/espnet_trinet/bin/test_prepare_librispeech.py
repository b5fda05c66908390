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


def test_every_subset_is_tried_and_the_fraction_is_an_option(tmp_path, capsys):
    for subset, reader, lines in (("dev", "1", "1-10-0000 HI\n"), ("test", "2", "2-10-0000 HI\n2-10-0001 GONE\n")):
        chapter = tmp_path / subset / reader / "10"
        chapter.mkdir(parents=True)
        sf.write(chapter / f"{reader}-10-0000.flac", np.zeros(800, dtype=np.int16), 16000)
        (chapter / f"{reader}-10.trans.txt").write_text(lines)
    args = ["--corpus_dir", str(tmp_path), "--subsets", "test", "dev", "--output_dir", str(tmp_path / "data")]
    assert main(args + ["--max_excluded_fraction", "0.2"]) == 1  # test: 1 of 2 excluded
    err = capsys.readouterr().err
    assert "1 of 2 utterances excluded (50%, more than max_excluded_fraction 0.2): {'no_audio': 1}" in err
    assert (tmp_path / "data" / "dev" / "text").read_text() == "1-10-0000 HI\n"  # dev still prepared
    assert main(args) == 0
    assert (tmp_path / "data" / "test" / "excluded.tsv").read_text().splitlines()[1].startswith(
        "2-10-0001\tprepare\tno_audio\t"
    )
