import subprocess
import sys

import numpy as np
import soundfile as sf

from espnet_trinet.bin.format_datadir import main


def _data_dir(tmp_path, entries):
    d = tmp_path / "in"
    d.mkdir()
    (d / "wav.scp").write_text("".join(f"{u} {v}\n" for u, v in entries))
    (d / "text").write_text("".join(f"{u} hello, world\n" for u, _ in entries))
    (d / "utt2spk").write_text("".join(f"{u} s\n" for u, _ in entries))
    (d / "spk2utt").write_text("s " + " ".join(u for u, _ in entries) + "\n")
    return d


def test_format_via_python_m(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros((4000, 2), dtype=np.float32), 8000, subtype="PCM_24")
    d = _data_dir(tmp_path, [("s-1", tmp_path / "a.wav"), ("s-2", tmp_path / "gone.wav")])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet_trinet.bin.format_datadir",
            "--in_dir",
            str(d),
            "--out_dir",
            str(tmp_path / "out"),
            "--nj",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fixes: {'bit_depth_converted': 1, 'downmixed': 1, 'resampled': 1}" in proc.stderr
    assert "excluded: {'missing_file': 1}" in proc.stderr
    assert (tmp_path / "out" / "utt2num_samples").read_text() == "s-1 8000\n"
    assert (tmp_path / "out" / "text").read_text() == "s-1 HELLO WORLD\n"


def test_nothing_usable_is_an_error(tmp_path, capsys):
    d = _data_dir(tmp_path, [("s-1", tmp_path / "gone.wav")])
    assert main(["--in_dir", str(d), "--out_dir", str(tmp_path / "out")]) == 1
    assert "no usable utterance" in capsys.readouterr().err


def test_excluded_fraction_is_an_option(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(1600, dtype=np.int16), 16000)
    d = _data_dir(tmp_path, [("s-1", tmp_path / "a.wav"), ("s-2", tmp_path / "gone.wav")])
    args = ["--in_dir", str(d), "--out_dir", str(tmp_path / "out")]
    assert main(args + ["--max_excluded_fraction", "0.4"]) == 1
    assert "1 of 2 utterances excluded (more than max_excluded_fraction 0.4)" in capsys.readouterr().err
    assert main(args) == 0 and (tmp_path / "out" / ".done").exists()
