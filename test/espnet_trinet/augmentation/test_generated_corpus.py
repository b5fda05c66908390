import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.augmentation.generated_corpus import (
    NOISE_KINDS,
    make_noise,
    make_rir,
    rt60_of,
    write_augmentation_corpus,
)
from espnet_trinet.augmentation.student_augmentation import StudentAugmentation, read_audio_list

FS = 16000
TINY = dict(fs=FS, num_noises=3, noise_seconds=1.0, num_rirs=3, rt60_range=(0.2, 0.5), seed=0)


def band_power_db(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Mean power spectral density in [low_hz, high_hz) in dB."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / FS)
    return float(10 * np.log10(spectrum[(freqs >= low_hz) & (freqs < high_hz)].mean()))


def octave_slope_db(x: np.ndarray) -> float:
    """Spectral slope in dB per octave between the 250-500 Hz and 2-4 kHz octaves."""
    return (band_power_db(x, 2000, 4000) - band_power_db(x, 250, 500)) / 3.0


def files_of(root: Path):
    return sorted(p for p in root.rglob("*") if p.is_file())


def content(path: Path):
    """What a file holds: a WAV's samples and rate, other files' bytes. Not a WAV's bytes:
    libsndfile writes a float WAV (the RIRs) with a PEAK chunk that holds the time of writing,
    so two identical RIRs written in different seconds differ in their header."""
    if path.suffix == ".wav":
        samples, fs = sf.read(path, dtype="float64")
        return fs, samples.tobytes()
    return path.read_bytes()


# ---- noises


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_every_noise_kind_is_seeded_peak_normalised_and_of_its_length(kind):
    a = make_noise(kind, FS, 0.5, np.random.default_rng(1))
    assert a.shape == (8000,)
    assert np.max(np.abs(a)) == pytest.approx(0.5)
    assert np.array_equal(a, make_noise(kind, FS, 0.5, np.random.default_rng(1)))
    assert not np.allclose(a, make_noise(kind, FS, 0.5, np.random.default_rng(2)))


def test_white_pink_brown_have_their_spectral_slopes():
    rng = np.random.default_rng(0)
    assert octave_slope_db(make_noise("white", FS, 2.0, rng)) == pytest.approx(0.0, abs=0.5)
    assert octave_slope_db(make_noise("pink", FS, 2.0, rng)) == pytest.approx(-3.0, abs=0.5)
    assert octave_slope_db(make_noise("brown", FS, 2.0, rng)) == pytest.approx(-6.0, abs=0.5)


def test_hum_sits_on_the_mains_harmonics():
    x = make_noise("hum", FS, 1.0, np.random.default_rng(0))
    spectrum = np.abs(np.fft.rfft(x)) ** 2  # 1 Hz bins
    f0 = 50 if spectrum[50] > spectrum[60] else 60
    harmonics = np.arange(f0, 1000, f0)
    on = spectrum[harmonics].sum()
    assert on / spectrum.sum() > 0.99
    assert spectrum[2 * f0] > 100 * spectrum[2 * f0 + 7]


def test_band_noise_is_band_limited():
    x = make_noise("band", FS, 1.0, np.random.default_rng(3))
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    inside = np.nonzero(spectrum > 1e-6 * spectrum.max())[0]
    low, high = inside.min(), inside.max()  # 1 Hz bins
    assert 100 <= low and high <= 0.95 * FS / 2
    assert 2**0.5 * 0.99 <= high / low <= 4 * 1.01  # 0.5-2 octaves


def test_bursts_switch_on_and_off_and_babble_is_syllable_modulated():
    bursts = make_noise("bursts", FS, 4.0, np.random.default_rng(0))
    frames = (bursts.reshape(-1, 320) ** 2).mean(axis=1)  # 20 ms frames
    assert 10 * np.log10(frames.max() / frames.min()) > 20  # 30 dB down when off
    assert frames.min() > 0  # never digital silence, so a random segment always has power
    babble = make_noise("babble", FS, 4.0, np.random.default_rng(0))
    envelope = (babble.reshape(-1, 160) ** 2).mean(axis=1)  # 10 ms frames, 100 Hz
    modulation = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2
    rates = np.fft.rfftfreq(len(envelope), 1 / 100)
    assert 2.0 <= rates[np.argmax(modulation)] <= 7.0  # syllable rate ~4 Hz
    # speech-shaped: falls above ~600 Hz; below 100 Hz only what the modulation smears there
    assert band_power_db(babble, 2000, 4000) < band_power_db(babble, 200, 400) - 10
    assert band_power_db(babble, 20, 90) < band_power_db(babble, 200, 400) - 25


# ---- RIRs


@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_rir_has_its_rt60_and_a_leading_direct_path(rt60, seed):
    h = make_rir(FS, rt60, np.random.default_rng(seed))
    assert h.shape == (round(1.2 * rt60 * FS),)
    peak = int(np.argmax(np.abs(h)))
    assert h[peak] == 1.0 and not np.any(h[:peak])  # the first sample is the direct path, the peak
    assert 0.001 * FS <= peak <= 0.005 * FS
    assert rt60_of(h, FS) == pytest.approx(rt60, rel=0.25)
    reverberant = np.sum(h[peak + 1 :] ** 2)
    assert -1.0 < 10 * np.log10(1.0 / reverberant) < 16.0  # DRR drawn in 0..10 dB


def test_rt60_of_a_pure_exponential():
    t = np.arange(int(0.8 * FS)) / FS
    h = np.random.default_rng(0).standard_normal(len(t)) * np.exp(-6.91 * t / 0.6)
    assert rt60_of(h, FS) == pytest.approx(0.6, rel=0.05)
    assert rt60_of(np.stack([h, h[::-1]], axis=1), FS) == pytest.approx(0.6, rel=0.05)  # channel 0


# ---- the corpus


def test_corpus_layout_and_lists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    noise_scp, rir_scp = write_augmentation_corpus("aug", **TINY)
    assert (noise_scp, rir_scp) == (Path("aug/noise.scp"), Path("aug/rir.scp"))
    for name in ("settings.json", "README.md", ".done"):
        assert (tmp_path / "aug" / name).is_file()
    noises, rirs = read_audio_list(noise_scp), read_audio_list(rir_scp)
    assert [k for k, _ in noises] == ["noise0000_white", "noise0001_pink", "noise0002_brown"]
    assert [p for _, p in noises] == [f"aug/noise/{k}.wav" for k, _ in noises]  # relative, as given
    assert [p for _, p in rirs] == [f"aug/rir/rir000{i}.wav" for i in range(3)]
    for _, path in noises:
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.subtype) == (FS, FS, "PCM_16")
    for _, path in rirs:
        info = sf.info(path)
        assert (info.samplerate, info.subtype) == (FS, "FLOAT")
        h, _ = sf.read(path)
        assert 0.2 * 0.75 <= rt60_of(h, FS) <= 0.5 * 1.25
    settings = json.loads((tmp_path / "aug" / "settings.json").read_text())
    assert settings == {
        "format_version": 1,
        "fs": FS,
        "num_noises": 3,
        "noise_seconds": 1.0,
        "num_rirs": 3,
        "rt60_range": [0.2, 0.5],
        "seed": 0,
        "noise_kinds": list(NOISE_KINDS),
    }
    readme = (tmp_path / "aug" / "README.md").read_text()
    assert "Polack" in readme and '"seed": 0' in readme and "| rir0002 |" in readme
    # the lists drive StudentAugmentation as they are
    aug = StudentAugmentation(reverb={"prob": 1.0, "rir_scp": rir_scp}, background_noise={"noise_scp": noise_scp})
    aug.check_files()
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    assert aug(x, np.random.default_rng(0)).shape == x.shape


def test_corpus_is_deterministic_for_a_seed(tmp_path):
    write_augmentation_corpus(tmp_path / "a", **TINY)
    write_augmentation_corpus(tmp_path / "b", **TINY)
    write_augmentation_corpus(tmp_path / "c", **{**TINY, "seed": 1})
    audio = [p.relative_to(tmp_path / "a") for p in files_of(tmp_path / "a") if p.suffix == ".wav"]
    assert len(audio) == 6
    for rel in audio:
        assert content(tmp_path / "a" / rel) == content(tmp_path / "b" / rel)
        assert content(tmp_path / "a" / rel) != content(tmp_path / "c" / rel)


def test_each_file_is_independent_of_the_others(tmp_path):
    # more files do not change the first ones: each file has its own generator
    write_augmentation_corpus(tmp_path / "small", **TINY)
    write_augmentation_corpus(tmp_path / "big", **{**TINY, "num_noises": 5, "num_rirs": 4})
    for rel in ("noise/noise0002_brown.wav", "rir/rir0002.wav"):
        assert content(tmp_path / "small" / rel) == content(tmp_path / "big" / rel)


def test_a_finished_corpus_is_reused_untouched(tmp_path):
    lists = write_augmentation_corpus(tmp_path / "a", **TINY)
    stamps = {p: p.stat().st_mtime_ns for p in files_of(tmp_path / "a")}
    assert write_augmentation_corpus(tmp_path / "a", **TINY) == lists
    assert {p: p.stat().st_mtime_ns for p in files_of(tmp_path / "a")} == stamps


def test_other_settings_are_refused_naming_the_difference(tmp_path):
    write_augmentation_corpus(tmp_path / "a", **TINY)
    with pytest.raises(FileExistsError) as err:
        write_augmentation_corpus(tmp_path / "a", **{**TINY, "seed": 3, "num_rirs": 4})
    message = str(err.value)
    assert "seed = 0 there, 3 asked" in message and "num_rirs = 3 there, 4 asked" in message
    assert "--output_dir" in message and "remove" in message
    assert "num_noises" not in message


def test_a_killed_run_is_resumed_writing_only_what_is_missing(tmp_path):
    root = tmp_path / "a"
    write_augmentation_corpus(root, **TINY)
    reference = {p.relative_to(root): content(p) for p in files_of(root)}
    # as a kill leaves it: no .done, no lists yet, one noise and one RIR not written, a leftover temp file,
    # and a file under its final name that is unreadable (not made by this code, which renames)
    for rel in (".done", "noise.scp", "rir.scp", "README.md", "noise/noise0001_pink.wav", "rir/rir0000.wav"):
        (root / rel).unlink()
    (root / "rir" / ".rir0000.wav.tmp").write_bytes(b"half")
    (root / "rir" / "rir0002.wav").write_bytes(b"garbage")
    kept = root / "noise" / "noise0000_white.wav"
    stamp = kept.stat().st_mtime_ns
    write_augmentation_corpus(root, **TINY)
    assert kept.stat().st_mtime_ns == stamp  # not rewritten
    for rel, data in reference.items():
        assert content(root / rel) == data, rel


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="rt60_range"):
        write_augmentation_corpus(tmp_path / "a", **{**TINY, "rt60_range": (0.5, 0.2)})
    with pytest.raises(ValueError, match="rt60_range"):
        write_augmentation_corpus(tmp_path / "a", **{**TINY, "rt60_range": (0.01, 0.2)})
    with pytest.raises(ValueError, match="positive"):
        write_augmentation_corpus(tmp_path / "a", **{**TINY, "num_noises": 0})
