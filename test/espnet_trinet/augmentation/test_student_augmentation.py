from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from espnet_trinet.augmentation.generated_corpus import make_rir
from espnet_trinet.augmentation.student_augmentation import (
    AugmentationFileError,
    StudentAugmentation,
    add_white_noise,
    convolve_rir,
    measured_snr_db,
    mix_at_snr,
    read_audio_list,
)

FS = 16000


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Float32 (S,): low-passed noise under a 4 Hz syllable envelope, rms ~0.1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    carrier = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(n))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * np.arange(n) / FS)) + 0.05
    x = carrier * envelope
    return (0.1 * x / np.sqrt(np.mean(x**2))).astype(np.float32)


def write_list(path: Path, lines) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    """(rir_scp, noise_scp): 3 float RIRs (RT60 0.2-0.4 s) and 3 noises of 0.5 s, one of them 2-channel."""
    rirs, noises = [], []
    for i, rt60 in enumerate([0.2, 0.3, 0.4]):
        path = tmp_path / f"rir{i}.wav"
        sf.write(path, make_rir(FS, rt60, np.random.default_rng(i)).astype(np.float32), FS, subtype="FLOAT")
        rirs.append(f"rir{i} {path}")
    rng = np.random.default_rng(10)
    for i in range(3):
        path = tmp_path / f"noise{i}.wav"
        samples = 0.3 * rng.standard_normal((FS // 2, 2) if i == 2 else FS // 2)
        sf.write(path, samples, FS, subtype="PCM_16")
        noises.append(f"noise{i} {path}")
    return write_list(tmp_path / "rir.scp", rirs), write_list(tmp_path / "noise.scp", noises)


# ---- pure functions


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 3.1, 17.3, 60.0])
def test_mix_at_snr_reaches_the_requested_snr(snr_db):
    x = speech_like(0.5)
    noise = np.random.default_rng(1).uniform(-1, 1, len(x))
    y = mix_at_snr(x, noise, snr_db)
    assert y.shape == x.shape and y.dtype == np.float32
    assert measured_snr_db(x, y) == pytest.approx(snr_db, abs=0.01)


def test_mix_at_snr_leaves_speech_alone_when_a_part_is_silent():
    x = speech_like(0.1)
    assert np.array_equal(mix_at_snr(x, np.zeros_like(x), 10.0), x)
    assert np.array_equal(mix_at_snr(np.zeros(5), np.ones(5), 10.0), np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        mix_at_snr(x, x[:-1], 10.0)


def test_add_white_noise_is_exact_and_seeded():
    x = speech_like(0.5)
    a = add_white_noise(x, 7.5, np.random.default_rng(3))
    assert measured_snr_db(x, a) == pytest.approx(7.5, abs=0.01)
    assert np.array_equal(a, add_white_noise(x, 7.5, np.random.default_rng(3)))
    assert not np.allclose(a, add_white_noise(x, 7.5, np.random.default_rng(4)))
    # white: the noise's spectrum is flat (low and high halves hold the same power)
    spectrum = np.abs(np.fft.rfft(a - x)) ** 2
    half = len(spectrum) // 2
    assert spectrum[1:half].mean() / spectrum[half:].mean() == pytest.approx(1.0, rel=0.1)


def test_convolve_rir_keeps_length_power_and_alignment():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)  # white: sharp correlation peak
    rir = make_rir(FS, 0.4, np.random.default_rng(5))
    delay = int(np.argmax(np.abs(rir)))
    assert 16 <= delay <= 80  # the model's 1-5 ms direct-path delay, which must not reach the output
    y = convolve_rir(x, rir)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.mean(y.astype(np.float64) ** 2) == pytest.approx(np.mean(x.astype(np.float64) ** 2), rel=1e-4)

    def peak_lag(clean, reverberant):
        xc = scipy.signal.correlate(reverberant, clean, mode="full", method="fft")
        return int(np.argmax(np.abs(xc))) - (len(clean) - 1)

    assert peak_lag(x, y) == 0
    # the untrimmed convolution is late by the direct-path delay: what the trim removes
    assert peak_lag(x, scipy.signal.fftconvolve(x, rir)[: len(x)]) == delay
    assert not np.allclose(y, x, atol=1e-3)  # it did reverberate


def test_convolve_rir_uses_the_first_channel():
    x = speech_like(0.2)
    rir = make_rir(FS, 0.3, np.random.default_rng(1))
    two = np.stack([rir, np.roll(rir, 100)], axis=1)
    np.testing.assert_allclose(convolve_rir(x, two), convolve_rir(x, rir), atol=1e-6)


def test_read_audio_list(tmp_path):
    scp = write_list(tmp_path / "a.scp", ["id1 /data/a.wav", "", "  /data/b.wav  ", "id3 /data/with space.wav", "   "])
    assert read_audio_list(scp) == [
        ("id1", "/data/a.wav"),
        ("/data/b.wav", "/data/b.wav"),
        ("id3", "/data/with space.wav"),
    ]
    empty = write_list(tmp_path / "empty.scp", ["", "  "])
    with pytest.raises(AugmentationFileError, match="empty.scp.*empty"):
        read_audio_list(empty)


# ---- configuration


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"white_noise": {"prob": 0.5, "snr": [0, 1]}}, "white_noise: unknown key.*snr"),
        ({"white_noise": {"prob": 1.5}}, r"white_noise\.prob"),
        ({"white_noise": {"prob": -0.1}}, r"white_noise\.prob"),
        ({"white_noise": {"snr_db": [60.0, 3.1]}}, r"white_noise\.snr_db.*low 60.0 > high 3.1"),
        ({"white_noise": {"snr_db": [1.0]}}, r"white_noise\.snr_db"),
        ({"white_noise": {"uniform_in": "power"}}, r"white_noise\.uniform_in"),
        ({"reverb": {"prob": 0.7}}, r"reverb\.rir_scp is required"),
        ({"background_noise": {"prob": 0.8}}, r"background_noise\.noise_scp is required"),
        ({"background_noise": {"noise_scp": "x", "snr_db": [15, 0]}}, r"background_noise\.snr_db"),
        ({"fs": 0}, "fs"),
    ],
)
def test_bad_settings_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StudentAugmentation(**kwargs)


def test_defaults_are_the_reference(corpus):
    rir_scp, noise_scp = corpus
    aug = StudentAugmentation(white_noise={}, reverb={"rir_scp": rir_scp}, background_noise={"noise_scp": noise_scp})
    assert aug.white_noise == {"prob": 0.6, "snr_db": (3.1, 60.0), "uniform_in": "amplitude"}
    assert aug.reverb["prob"] == 0.7
    assert aug.background_noise["prob"] == 0.8 and aug.background_noise["snr_db"] == (0.0, 15.0)


def test_a_missing_or_empty_list_is_named_at_construction(tmp_path):
    with pytest.raises(AugmentationFileError, match=r"reverb\.rir_scp.*nowhere\.scp"):
        StudentAugmentation(reverb={"rir_scp": str(tmp_path / "nowhere.scp")})
    with pytest.raises(AugmentationFileError, match="empty.scp"):
        StudentAugmentation(background_noise={"noise_scp": write_list(tmp_path / "empty.scp", [])})


# ---- check_files


def test_check_files_names_each_bad_file_and_the_fix(tmp_path, corpus, monkeypatch):
    rir_scp, noise_scp = corpus
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio" * 100)
    wrong_rate = tmp_path / "8k.wav"
    sf.write(wrong_rate, np.zeros(800), 8000, subtype="PCM_16")
    no_frames = tmp_path / "empty.wav"
    sf.write(no_frames, np.zeros(0), FS, subtype="PCM_16")
    lines = noise_scp.read_text().splitlines()
    bad_scp = write_list(
        tmp_path / "bad_noise.scp",
        lines[:1] + ["", f"gone {tmp_path / 'gone.wav'}", f"g {garbage}", str(wrong_rate), f"e {no_frames}"],
    )
    aug = StudentAugmentation(reverb={"rir_scp": rir_scp}, background_noise={"noise_scp": bad_scp})

    # only headers are read: check_files works with soundfile's readers disabled
    def no_reading(*args, **kwargs):
        raise AssertionError("check_files read audio")

    monkeypatch.setattr(sf, "read", no_reading)
    monkeypatch.setattr(sf.SoundFile, "read", no_reading)
    with pytest.raises(AugmentationFileError) as err:
        aug.check_files()
    message = str(err.value)
    assert "4 of 8 files" in message
    assert f"{bad_scp}:3: {tmp_path / 'gone.wav'}: missing" in message
    assert f"{bad_scp}:4: {garbage}: unreadable by soundfile" in message
    assert f"{bad_scp}:5: {wrong_rate}: sample rate 8000 Hz, not 16000 Hz" in message
    assert f"{bad_scp}:6: {no_frames}: no samples" in message
    assert "sox" in message and "remove" in message
    assert "rir0" not in message and "noise0" not in message  # the good files are not named


def test_check_files_passes_and_caps_the_listing(tmp_path, corpus):
    rir_scp, noise_scp = corpus
    StudentAugmentation(reverb={"rir_scp": rir_scp}, background_noise={"noise_scp": noise_scp}).check_files()
    many = write_list(tmp_path / "many.scp", [f"m{i} {tmp_path / f'missing{i}.wav'}" for i in range(25)])
    with pytest.raises(AugmentationFileError, match="and 5 more") as err:
        StudentAugmentation(reverb={"rir_scp": many}).check_files()
    assert str(err.value).count("missing (no such file)") == 20


# ---- the augmentation


def full(rir_scp, noise_scp, p=(1.0, 1.0, 1.0)):
    return StudentAugmentation(
        white_noise={"prob": p[0]},
        reverb={"prob": p[1], "rir_scp": rir_scp},
        background_noise={"prob": p[2], "noise_scp": noise_scp},
    )


def test_output_keeps_length_and_is_seeded(corpus):
    aug = full(*corpus)
    x = speech_like(0.7)
    before = x.copy()
    a = aug(x, np.random.default_rng(7))
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(x, before)  # the input is not modified
    assert np.array_equal(a, aug(x, np.random.default_rng(7)))
    assert not np.allclose(a, aug(x, np.random.default_rng(8)))
    assert measured_snr_db(x, a) < 20.0  # it did something


def test_silence_is_returned_unchanged(corpus):
    zeros = np.zeros(1000, dtype=np.int16)
    out = full(*corpus)(zeros, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == (1000,) and not np.any(out)


def test_white_noise_snr_is_uniform_in_amplitude_by_default():
    x = speech_like(0.1)
    aug = StudentAugmentation(white_noise={"prob": 1.0})
    rng = np.random.default_rng(0)
    snrs = []
    for _ in range(400):
        applied = {}
        y = aug(x, rng, applied)
        snrs.append(measured_snr_db(x, y))
        assert snrs[-1] == pytest.approx(applied["white_noise_snr_db"], abs=0.01)
    snrs = np.array(snrs)
    assert 3.1 - 0.01 <= snrs.min() and snrs.max() <= 60.0 + 0.01
    ratio = 10 ** (-snrs / 20)  # noise/speech amplitude: U(0.001, 0.7) in the reference
    assert ratio.min() < 0.04 and ratio.max() > 0.66
    assert ratio.mean() == pytest.approx(0.35, abs=0.03)
    assert np.median(snrs) == pytest.approx(9.1, abs=1.5)  # -20 log10(0.35): most draws are noisy


def test_white_noise_snr_can_be_uniform_in_db():
    x = speech_like(0.1)
    aug = StudentAugmentation(white_noise={"prob": 1.0, "snr_db": [5.0, 25.0], "uniform_in": "db"})
    rng = np.random.default_rng(1)
    snrs = np.array([measured_snr_db(x, aug(x, rng)) for _ in range(300)])
    assert 5.0 - 0.01 <= snrs.min() < 6.0 and 24.0 < snrs.max() <= 25.0 + 0.01
    assert np.mean(snrs) == pytest.approx(15.0, abs=1.0)


def test_background_noise_reaches_the_configured_snr_range(corpus):
    _, noise_scp = corpus
    x = speech_like(0.2)
    aug = StudentAugmentation(background_noise={"prob": 1.0, "noise_scp": noise_scp})
    rng = np.random.default_rng(2)
    snrs, used = [], set()
    for _ in range(300):
        applied = {}
        y = aug(x, rng, applied)
        snrs.append(measured_snr_db(x, y))
        assert snrs[-1] == pytest.approx(applied["noise_snr_db"], abs=0.01)
        used.add((applied["noise"], applied["noise_offset"]))
    snrs = np.array(snrs)
    assert 0.0 - 0.01 <= snrs.min() < 1.5 and 13.5 < snrs.max() <= 15.0 + 0.01
    assert {n for n, _ in used} == {"noise0", "noise1", "noise2"}
    assert len(used) > 100  # random offsets


def test_background_noise_is_the_file_segment_at_the_offset_first_channel(corpus):
    _, noise_scp = corpus
    x = speech_like(0.2)
    aug = StudentAugmentation(background_noise={"prob": 1.0, "noise_scp": noise_scp})
    rng = np.random.default_rng(3)
    seen = set()
    while len(seen) < 3:
        applied = {}
        residual = aug(x, rng, applied).astype(np.float64) - x
        files = dict(read_audio_list(noise_scp))
        audio = sf.read(files[applied["noise"]], dtype="float32", always_2d=True)[0][:, 0]
        segment = audio[applied["noise_offset"] : applied["noise_offset"] + len(x)]
        scale = np.dot(residual, segment) / np.dot(segment, segment)
        np.testing.assert_allclose(residual, scale * segment, atol=1e-5)
        seen.add(applied["noise"])


def test_a_short_noise_is_tiled_with_wrap(tmp_path):
    noise = 0.3 * np.random.default_rng(0).standard_normal((1000, 2))
    sf.write(tmp_path / "short.wav", noise, FS, subtype="FLOAT")
    scp = write_list(tmp_path / "n.scp", [str(tmp_path / "short.wav")])
    aug = StudentAugmentation(background_noise={"prob": 1.0, "noise_scp": scp})
    x = speech_like(0.16)  # 2560 samples
    applied = {}
    residual = aug(x, np.random.default_rng(0), applied).astype(np.float64) - x
    assert applied["noise"] == str(tmp_path / "short.wav")  # the id defaults to the path
    expected = np.resize(np.roll(noise[:, 0], -applied["noise_offset"]), len(x))
    scale = np.dot(residual, expected) / np.dot(expected, expected)
    np.testing.assert_allclose(residual, scale * expected, atol=1e-5)


def test_reverb_then_noise_is_what_the_pure_functions_give(corpus):
    rir_scp, noise_scp = corpus
    aug = full(rir_scp, noise_scp, p=(0.0, 1.0, 1.0))
    x = speech_like(0.3)
    applied = {}
    y = aug(x, np.random.default_rng(4), applied)
    rir = sf.read(dict(read_audio_list(rir_scp))[applied["rir"]], dtype="float32")[0]
    noise = sf.read(dict(read_audio_list(noise_scp))[applied["noise"]], dtype="float32", always_2d=True)[0][:, 0]
    segment = noise[applied["noise_offset"] : applied["noise_offset"] + len(x)]
    expected = mix_at_snr(convolve_rir(x, rir), segment, applied["noise_snr_db"])
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_white_noise_comes_before_reverb(tmp_path):
    # an echo of 0.9 at 100 samples: white noise added before the reverb carries the echo too
    rir = np.zeros(101, dtype=np.float32)
    rir[0], rir[100] = 1.0, 0.9
    sf.write(tmp_path / "echo.wav", rir, FS, subtype="FLOAT")
    aug = StudentAugmentation(
        white_noise={"prob": 1.0, "snr_db": [10.0, 10.0]},
        reverb={"prob": 1.0, "rir_scp": write_list(tmp_path / "r.scp", [str(tmp_path / "echo.wav")])},
    )
    x = speech_like(0.5)
    y = aug(x, np.random.default_rng(0)).astype(np.float64)
    echoed = scipy.signal.fftconvolve(x, rir)[: len(x)]
    residual = y - np.dot(y, echoed) / np.dot(echoed, echoed) * echoed
    lag100 = np.dot(residual[100:], residual[:-100]) / np.dot(residual, residual)
    assert lag100 == pytest.approx(0.9 / (1 + 0.9**2), abs=0.1)  # white noise alone: ~0


def test_each_part_is_applied_with_its_probability(tmp_path):
    rir = np.zeros(8, dtype=np.float32)
    rir[0], rir[3] = 1.0, 0.5
    sf.write(tmp_path / "r.wav", rir, FS, subtype="FLOAT")
    sf.write(tmp_path / "n.wav", np.random.default_rng(0).uniform(-0.5, 0.5, 400), FS, subtype="PCM_16")
    aug = StudentAugmentation(
        white_noise={"prob": 0.6},
        reverb={"prob": 0.7, "rir_scp": write_list(tmp_path / "r.scp", [str(tmp_path / "r.wav")])},
        background_noise={"prob": 0.8, "noise_scp": write_list(tmp_path / "n.scp", [str(tmp_path / "n.wav")])},
    )
    x = speech_like(0.02)
    rng = np.random.default_rng(0)
    counts = {"white_noise_snr_db": 0, "rir": 0, "noise": 0}
    both = 0
    draws = 2000
    for _ in range(draws):
        applied = {}
        aug(x, rng, applied)
        for key in counts:
            counts[key] += key in applied
        both += "white_noise_snr_db" in applied and "noise" in applied
    assert counts["white_noise_snr_db"] / draws == pytest.approx(0.6, abs=0.05)
    assert counts["rir"] / draws == pytest.approx(0.7, abs=0.05)
    assert counts["noise"] / draws == pytest.approx(0.8, abs=0.05)
    assert both / draws == pytest.approx(0.6 * 0.8, abs=0.05)  # independent draws


def test_prob_zero_and_one(corpus):
    x = speech_like(0.05)
    rng = np.random.default_rng(0)
    off = full(*corpus, p=(0.0, 0.0, 0.0))
    on = full(*corpus, p=(1.0, 1.0, 1.0))
    for _ in range(50):
        applied = {"stale": 1}
        assert np.array_equal(off(x, rng, applied), x) and applied == {}
        on(x, rng, applied)
        assert {"white_noise_snr_db", "rir", "noise", "noise_snr_db"} <= set(applied) and "stale" not in applied


def test_a_file_of_another_rate_met_at_call_time_is_an_error(tmp_path):
    sf.write(tmp_path / "8k.wav", np.ones(800) * 0.1, 8000, subtype="PCM_16")
    scp = write_list(tmp_path / "n.scp", [str(tmp_path / "8k.wav")])
    aug = StudentAugmentation(background_noise={"prob": 1.0, "noise_scp": scp})
    with pytest.raises(AugmentationFileError, match="8000 Hz.*check_files"):
        aug(speech_like(0.1), np.random.default_rng(0))
