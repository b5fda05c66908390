import shutil

import pytest
import soundfile as sf

from espnet_trinet.data.datadir import read_map, validate_data_dir
from espnet_trinet.data.format_audio import format_data_dir
from espnet_trinet.data.speed_perturb import factor_prefix, perturb_speed, sox_speed_entry


def test_prefix_and_sox_entries():
    assert factor_prefix(0.9) == "sp0.9-" and factor_prefix(1.1) == "sp1.1-"
    assert sox_speed_entry("/a b/x.flac", 0.9) == "sox '/a b/x.flac' -t wav - speed 0.9 |"
    assert sox_speed_entry("flac -dc x.flac |", 1.1) == "flac -dc x.flac | sox -t wav - -t wav - speed 1.1 |"


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
def test_pipes_like_espnet_then_format(small_data_dir, tmp_path):
    (small_data_dir / "spk2gender").write_text("a m\nb f\n")
    out = tmp_path / "sp"
    assert perturb_speed(small_data_dir, out, [0.9, 1.0, 1.1]) == 12
    validate_data_dir(out)
    utt2spk = read_map(out / "utt2spk")
    assert utt2spk["sp0.9-a-1"] == "sp0.9-a" and utt2spk["a-1"] == "a" and utt2spk["sp1.1-b-2"] == "sp1.1-b"
    assert read_map(out / "utt2uniq")["sp1.1-a-2"] == "a-2"
    assert read_map(out / "spk2gender")["sp0.9-b"] == "f"
    assert read_map(out / "text")["sp0.9-a-2"] == read_map(small_data_dir / "text")["a-2"]
    format_data_dir(out, tmp_path / "dump")
    n = {k: int(v) for k, v in read_map(tmp_path / "dump" / "utt2num_samples").items()}
    assert abs(n["sp0.9-b-1"] - n["b-1"] / 0.9) < 100 and abs(n["sp1.1-b-1"] - n["b-1"] / 1.1) < 100


def test_written_files_are_resumable(small_data_dir, tmp_path):
    out = tmp_path / "sp"
    perturb_speed(small_data_dir, out, [0.9, 1.0], write_files=True, nj=1)
    path = read_map(out / "wav.scp")["sp0.9-b-1"]
    assert path == str(out / "data" / "sp0.9" / "b" / "sp0.9-b-1.flac")
    assert abs(sf.info(path).frames - 32000 / 0.9) < 10
    stamp = (out / "data" / "sp0.9" / "b" / "sp0.9-b-1.flac").stat().st_mtime_ns
    perturb_speed(small_data_dir, out, [0.9, 1.0], write_files=True, nj=1)
    assert (out / "data" / "sp0.9" / "b" / "sp0.9-b-1.flac").stat().st_mtime_ns == stamp
