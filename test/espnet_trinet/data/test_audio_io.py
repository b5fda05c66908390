import shutil

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.data.audio_io import AudioReadError, load_wav_scp_entry


def test_file_pipe_and_ark(tmp_path):
    x = (np.arange(1600) % 100 - 50).astype(np.int16)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="PCM_16")
    from_file = load_wav_scp_entry(str(tmp_path / "a.wav"))
    assert from_file.fs == 16000 and from_file.subtype == "PCM_16" and from_file.samples.shape == (1600, 1)
    from_pipe = load_wav_scp_entry(f"cat {tmp_path / 'a.wav'} |")
    assert np.array_equal(from_pipe.samples, from_file.samples)
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path / 'w.ark'},{tmp_path / 'w.scp'}") as writer:
        writer("u", (16000, x))
    ark_entry = (tmp_path / "w.scp").read_text().split()[1]
    assert np.allclose(load_wav_scp_entry(ark_entry).samples[:, 0] * 32768, x)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
def test_sox_pipe_with_unknown_length(tmp_path):
    sf.write(tmp_path / "a.flac", np.zeros(8000, dtype=np.int16), 16000)
    audio = load_wav_scp_entry(f"sox {tmp_path / 'a.flac'} -t wav - speed 2.0 |")
    assert audio.fs == 16000 and abs(audio.samples.shape[0] - 4000) < 50


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: None, "missing_file"),
        (lambda p: p.write_bytes(b""), "empty_file"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00garbage" * 10), "unreadable_audio"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.int16), 16000), "zero_samples"),
        (
            lambda p: sf.write(p, np.array([0.1, np.nan], dtype=np.float32), 16000, subtype="FLOAT"),
            "non_finite_samples",
        ),
    ],
)
def test_failures_have_reasons(tmp_path, make, reason):
    path = tmp_path / "x.wav"
    make(path)
    with pytest.raises(AudioReadError) as err:
        load_wav_scp_entry(str(path))
    assert err.value.reason == reason and str(path) in err.value.detail


def test_failing_pipe(tmp_path):
    with pytest.raises(AudioReadError) as err:
        load_wav_scp_entry("echo oops >&2; exit 3 |")
    assert err.value.reason == "pipe_failed" and "exited with 3: oops" in err.value.detail
