import numpy as np
import soundfile as sf

from espnet_trinet.data.audio import downmix, resample, to_int16, write_audio_atomic


def test_resample_length_and_identity():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    assert len(resample(x, 8000, 16000)) == 16000
    assert resample(x, 16000, 16000) is x or np.array_equal(resample(x, 16000, 16000), x)


def test_downmix_and_int16_clipping():
    stereo = np.stack([np.ones(4), -np.ones(4) * 0.5], axis=1).astype(np.float32)
    assert np.allclose(downmix(stereo), 0.25)
    pcm, clipped = to_int16(np.array([0.0, 0.5, 1.5, -2.0], dtype=np.float32))
    assert pcm.dtype == np.int16 and list(pcm) == [0, 16384, 32767, -32768] and clipped == 2


def test_write_audio_atomic(tmp_path):
    path = tmp_path / "x" / "a.flac"
    write_audio_atomic(path, np.zeros(160, dtype=np.int16), 16000)
    assert sf.info(str(path)).subtype == "PCM_16" and not list(path.parent.glob(".*"))
