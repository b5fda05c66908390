import subprocess
import sys
import time


def test_no_network_fails_at_once(tmp_path):
    start = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet_trinet.bin.download_librispeech",
            "--data_dir",
            str(tmp_path),
            "--parts",
            "dev-clean",
            "--base_url",
            "http://127.0.0.1:9",
            "--timeout",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and time.time() - start < 10
    assert "--librispeech_dir" in proc.stderr


def test_unknown_part_is_rejected(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet_trinet.bin.download_librispeech",
            "--data_dir",
            str(tmp_path),
            "--parts",
            "train-clean-5",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
