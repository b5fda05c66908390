import subprocess
import sys

import soundfile as sf

from espnet_trinet.augmentation.student_augmentation import read_audio_list
from espnet_trinet.bin.make_augmentation_corpus import main

TINY = ["--num_noises", "2", "--noise_seconds", "0.5", "--num_rirs", "2", "--rt60_min", "0.2", "--rt60_max", "0.3"]


def test_module_runs_and_writes_the_lists(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "espnet_trinet.bin.make_augmentation_corpus", "--output_dir", "aug", *TINY],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "noise list: aug/noise.scp" in result.stderr and "aug/rir.scp" in result.stderr
    noises = read_audio_list(tmp_path / "aug" / "noise.scp")
    rirs = read_audio_list(tmp_path / "aug" / "rir.scp")
    assert [k for k, _ in noises] == ["noise0000_white", "noise0001_pink"] and len(rirs) == 2
    for _, path in noises + rirs:
        assert sf.info(str(tmp_path / path)).frames > 0  # relative to where it was run
    assert (tmp_path / "aug" / ".done").is_file()


def test_settings_conflict_exits_1_with_the_message(tmp_path, capsys):
    out = str(tmp_path / "aug")
    assert main(["--output_dir", out, *TINY]) == 0
    assert main(["--output_dir", out, *TINY]) == 0  # same settings: reused
    assert main(["--output_dir", out, *TINY, "--seed", "5"]) == 1
    err = capsys.readouterr().err
    assert "make_augmentation_corpus:" in err and "seed = 0 there, 5 asked" in err and "--output_dir" in err
    assert main(["--output_dir", str(tmp_path / "bad"), *TINY[:-1], "0.1"]) == 1  # rt60_max < rt60_min
    assert "rt60_range" in capsys.readouterr().err
