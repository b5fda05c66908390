"""The project's own noise and RIR corpus, for machines without MUSAN and RIRS_NOISES.

Every file comes from a numpy Generator seeded with (seed, kind of file, index), so each file is
reproducible on its own and a resumed run makes exactly the files a whole run would.

Noises (16-bit wav, peak 0.5), the kinds taken in turn:

- ``white``: flat spectrum.
- ``pink``: power ~ 1/f (flat below 20 Hz, so that no rumble below hearing holds the power).
- ``brown``: power ~ 1/f^2 (flat below 20 Hz).
- ``band``: white noise limited to a random band (lower edge 100 Hz..0.6 x Nyquist, 0.5-2 octaves).
- ``hum``: mains hum at 50 or 60 Hz with harmonics (random amplitudes ~ 1/k, random phases) plus a
  little white noise (30 dB below).
- ``babble``: six babble-like streams summed, each noise with a long-term speech spectrum (flat up
  to a random 400-800 Hz, -6 dB/octave above, nothing below 100 Hz), amplitude-modulated at a
  jittered syllable rate of about 4 Hz.
- ``bursts``: non-stationary noise: coloured noise (random tilt between white and pink) switched on
  and off (exponential durations, mean 0.3 s on, 0.5 s off, 5 ms ramps), 30 dB down when off.

RIRs (float wav, peak 1 at the direct path), Polack's statistical model: the diffuse field of a
room is Gaussian noise under the envelope exp(-6.91 t / RT60) (60 dB of energy per RT60), starting
at the direct sound. Here: a direct-path impulse after a random 1-5 ms delay; up to the mixing time
(50 ms, or RT60 / 4 if shorter) 12-30 sparse early reflections with random signs, amplitudes
following the envelope and together holding the energy the diffuse field would hold there; from
the mixing time the diffuse field itself, gently low-passed (one pole, 0.2-0.6). The envelope's
level gives a direct-to-reverberant ratio drawn in 0..10 dB. RT60 is drawn uniformly in
``rt60_range``; the RIR lasts 1.2 x RT60 (72 dB of decay).
"""

import json
import logging
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import scipy.signal
import soundfile as sf

from espnet_trinet.data.audio import to_int16, write_audio_atomic
from espnet_trinet.data.datadir.kaldi_files import write_lines

PathLike = Union[str, Path]

FORMAT_VERSION = 1
DONE_MARKER = ".done"
SETTINGS_NAME = "settings.json"
NOISE_KINDS = ("white", "pink", "brown", "band", "hum", "babble", "bursts")
NOISE_PEAK = 0.5
MIN_RT60 = 0.1  # shorter RIRs would end before the 50 ms mixing time
_NOISE, _RIR = 0, 1  # stream tags of the per-file generators


def _file_rng(seed: int, tag: int, index: int) -> np.random.Generator:
    """An independent generator per file: the same file whatever else is (re)made."""
    return np.random.default_rng([seed, tag, index])


def _shaped(white: np.ndarray, gain_of_freq) -> np.ndarray:
    """White noise (T,) filtered in the frequency domain by the amplitude response gain_of_freq(f / fs)."""
    spectrum = np.fft.rfft(white)
    spectrum *= gain_of_freq(np.fft.rfftfreq(len(white)))
    return np.fft.irfft(spectrum, n=len(white))


def _coloured(n: int, fs: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise of power ~ 1/f^exponent above 20 Hz (flat below, no DC), shape (n,)."""
    floor = 20.0 / fs

    def gain(f):
        g = np.maximum(f, floor) ** (-exponent / 2.0)
        g[0] = 0.0
        return g

    return _shaped(rng.standard_normal(n), gain)


def _band(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    nyquist = fs / 2.0
    low = np.exp(rng.uniform(np.log(100.0), np.log(0.6 * nyquist)))
    high = min(low * 2.0 ** rng.uniform(0.5, 2.0), 0.95 * nyquist)
    return _shaped(rng.standard_normal(n), lambda f: ((f * fs >= low) & (f * fs <= high)).astype(float))


def _hum(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    f0 = float(rng.choice([50.0, 60.0]))
    t = np.arange(n) / fs
    hum = np.zeros(n)
    for k in range(1, 16):
        if k * f0 >= fs / 2.0:
            break
        hum += rng.uniform(0.3, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    rms = np.sqrt(np.mean(hum**2))
    return hum + rms * 10 ** (-30 / 20) * rng.standard_normal(n)


def _smooth_noise(n: int, fs: int, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise below cutoff_hz, shape (n,): a slowly varying random signal."""
    x = _shaped(rng.standard_normal(n), lambda f: (f * fs <= cutoff_hz).astype(float))
    return x / max(np.std(x), 1e-12)


def _babble(n: int, fs: int, rng: np.random.Generator, streams: int = 6) -> np.ndarray:
    total = np.zeros(n)
    for _ in range(streams):
        corner = rng.uniform(400.0, 800.0)

        def ltass(f, corner=corner):
            hz = f * fs
            return (hz >= 100.0) / np.sqrt(1.0 + (hz / corner) ** 2)

        carrier = _shaped(rng.standard_normal(n), ltass)
        # syllable-rate modulation: ~4 Hz with a slowly wandering rate, so streams do not lock
        rate = rng.uniform(3.0, 5.0) * (1.0 + 0.3 * np.tanh(_smooth_noise(n, fs, 1.0, rng)))
        phase = 2 * np.pi * np.cumsum(rate) / fs + rng.uniform(0, 2 * np.pi)
        envelope = (0.5 * (1.0 - np.cos(phase))) ** 1.5
        total += carrier / max(np.std(carrier), 1e-12) * envelope
    return total


def _bursts(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    gate = np.empty(n)
    pos, on = 0, bool(rng.integers(2))
    while pos < n:
        length = max(1, int(rng.exponential(0.3 if on else 0.5) * fs))
        gate[pos : pos + length] = 1.0 if on else 10 ** (-30 / 20)
        pos, on = pos + length, not on
    ramp = np.hanning(max(3, int(0.005 * fs)))
    # edge padding keeps the ends at their level instead of fading them to zero
    gate = np.convolve(np.pad(gate, len(ramp) // 2, mode="edge"), ramp / ramp.sum(), mode="same")
    gate = gate[len(ramp) // 2 : len(ramp) // 2 + n]
    return _coloured(n, fs, rng.uniform(0.0, 1.0), rng) * gate


def make_noise(kind: str, fs: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One noise of the given kind (see the module docstring), peak-normalised to 0.5.

    Args:
        kind: one of NOISE_KINDS.
        fs: sampling rate in Hz.
        seconds: duration.
        rng: its only source of randomness.
    Returns:
        float64 array of shape (round(seconds * fs),).
    """
    n = int(round(seconds * fs))
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _coloured(n, fs, 1.0, rng)
    elif kind == "brown":
        x = _coloured(n, fs, 2.0, rng)
    elif kind == "band":
        x = _band(n, fs, rng)
    elif kind == "hum":
        x = _hum(n, fs, rng)
    elif kind == "babble":
        x = _babble(n, fs, rng)
    elif kind == "bursts":
        x = _bursts(n, fs, rng)
    else:
        raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(NOISE_KINDS)})")
    return x * (NOISE_PEAK / max(float(np.max(np.abs(x))), 1e-12))


def draw_rt60(rng: np.random.Generator, rt60_range: Tuple[float, float]) -> float:
    """The RIR's RT60, the first draw of its generator (so the README can list it without the RIR)."""
    return float(rng.uniform(*rt60_range))


def make_rir(fs: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A room impulse response from Polack's statistical model (see the module docstring).

    Args:
        fs: sampling rate in Hz.
        rt60: reverberation time in s (>= 0.1).
        rng: its only source of randomness.
    Returns:
        float64 array of shape (round(1.2 * rt60 * fs),), peak 1.0 at the direct path.
    """
    if rt60 < MIN_RT60:
        raise ValueError(f"rt60 = {rt60} s is below {MIN_RT60} s")
    n = int(round(1.2 * rt60 * fs))
    decay = 6.91 / rt60  # ln(1000): amplitude falls 60 dB per RT60
    h = np.zeros(n)
    direct = int(round(rng.uniform(0.001, 0.005) * fs))
    h[direct] = 1.0
    # Polack's diffuse decay starts at the direct sound: its level is set so that, taken back to
    # the direct path, it holds drr_db less energy than the direct path (the sum of
    # gain^2 exp(-2 decay t) over all samples is gain^2 fs / (2 decay))
    drr_db = rng.uniform(0.0, 10.0)
    gain = np.sqrt(2.0 * decay / fs * 10 ** (-drr_db / 10))
    # up to the mixing time (50 ms; RT60 / 4 in a small, dry room) it comes as 12-30 sparse
    # reflections carrying the same energy, so the energy decays as one exponential from the
    # direct path on (what RT60 measures)
    mixing_s = min(0.05, rt60 / 4)
    num_early = int(rng.integers(12, 31))
    times = np.sort(rng.uniform(0.005, mixing_s, num_early))
    spread = np.sqrt((mixing_s - 0.005) * fs / num_early)
    level = rng.uniform(0.6, 1.2, num_early) / np.sqrt(0.84)  # E[U(0.6, 1.2)^2] = 0.84
    signs = rng.choice([-1.0, 1.0], num_early)
    np.add.at(h, direct + np.round(times * fs).astype(int), signs * level * spread * gain * np.exp(-decay * times))
    mixing = direct + int(round(mixing_s * fs))
    t = np.arange(n - mixing) / fs + mixing_s
    diffuse = scipy.signal.lfilter([1.0], [1.0, -rng.uniform(0.2, 0.6)], rng.standard_normal(n - mixing))
    diffuse /= max(float(np.std(diffuse)), 1e-12)  # the low-pass colours the tail, not its level
    h[mixing:] += gain * np.exp(-decay * t) * diffuse
    # the direct path must stay the peak: convolve_rir aligns on argmax |h|
    rest = float(np.max(np.abs(np.delete(h, direct))))
    if rest >= 0.95:
        h[np.arange(n) != direct] *= 0.95 / rest
    return h / h[direct]


def rt60_of(rir: np.ndarray, fs: int) -> float:
    """RT60 measured by Schroeder's backward integration: the energy decay curve's slope between
    -5 and -35 dB (T30; T20's range is dominated by the early reflections when the direct path is
    strong), extrapolated to 60 dB.

    Args:
        rir: float array of shape (L,) or (L, C) (channel 0 used).
        fs: its sampling rate in Hz.
    Returns:
        RT60 in seconds.
    """
    h = np.asarray(rir, dtype=np.float64)
    if h.ndim == 2:
        h = h[:, 0]
    edc = np.cumsum((h**2)[::-1])[::-1]
    edc_db = 10.0 * np.log10(np.maximum(edc / edc[0], 1e-300))
    idx = np.nonzero((edc_db <= -5.0) & (edc_db >= -35.0))[0]
    if len(idx) < 2:
        raise ValueError("the RIR's energy decay does not span -5..-35 dB")
    slope = np.polyfit(idx / fs, edc_db[idx], 1)[0]
    return float(-60.0 / slope)


def _is_complete(path: Path, frames: int) -> bool:
    try:
        return sf.info(str(path)).frames == frames
    except (RuntimeError, OSError):
        return False  # absent or an unreadable leftover: make it again


def _check_settings(out_dir: Path, settings: Dict) -> None:
    path = out_dir / SETTINGS_NAME
    if not path.exists():
        return
    try:
        there = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        there = {}
    if there == settings:
        return
    diffs = [
        f"{key} = {json.dumps(there.get(key))} there, {json.dumps(settings.get(key))} asked"
        for key in sorted(set(there) | set(settings))
        if there.get(key) != settings.get(key)
    ]
    raise FileExistsError(
        f"{out_dir} holds an augmentation corpus made with other settings ({path}): "
        + "; ".join(diffs)
        + f". Fix: choose another --output_dir, or remove {out_dir} to make it anew."
    )


def _readme(settings: Dict, noise_ids: Sequence[str], rir_ids: Sequence[str], rt60s: Sequence[float]) -> str:
    rir_lines = "\n".join(f"| {key} | {rt60:.3f} |" for key, rt60 in zip(rir_ids, rt60s))
    return f"""# Generated noise and RIR corpus

Made by `python -m espnet_trinet.bin.make_augmentation_corpus` (espnet_trinet.augmentation.generated_corpus)
for the student's augmentation of data2vec-aqc on machines without MUSAN or RIRS_NOISES. Everything
is synthesised from a seeded random generator; no recorded material is in it.

- `noise/<id>.wav`: {len(noise_ids)} noises of {settings['noise_seconds']} s, 16-bit, {settings['fs']} Hz,
  peak {NOISE_PEAK}; kinds in turn: {', '.join(NOISE_KINDS)} (white, 1/f, 1/f^2, random band,
  50/60 Hz hum with harmonics, babble-like syllable-rate modulated speech-shaped noise, on/off bursts).
- `rir/<id>.wav`: {len(rir_ids)} room impulse responses, 32-bit float, {settings['fs']} Hz, from Polack's
  statistical model (direct path after 1-5 ms, 12-30 sparse early reflections up to the mixing time
  of 50 ms (RT60 / 4 if shorter), then an exponentially decaying Gaussian tail; direct-to-reverberant
  ratio 0..10 dB), RT60 uniform in {settings['rt60_range'][0]}..{settings['rt60_range'][1]} s, length 1.2 x RT60,
  direct path = peak = 1.0.
- `noise.scp`, `rir.scp`: ESPnet-style lists (`<id> <path>`), for StudentAugmentation's
  `background_noise.noise_scp` and `reverb.rir_scp` (or ESPnet's `noise_scp` / `rir_scp`).
- `settings.json`: the settings below; a re-run with other settings is refused.

Settings: `{json.dumps(settings, sort_keys=True)}`

Target RT60 of each RIR:

| id | RT60 (s) |
|----|----------|
{rir_lines}
"""


def write_augmentation_corpus(
    out_dir: PathLike,
    fs: int = 16000,
    num_noises: int = 40,
    noise_seconds: float = 10.0,
    num_rirs: int = 40,
    rt60_range: Tuple[float, float] = (0.2, 0.9),
    seed: int = 0,
) -> Tuple[Path, Path]:
    """Writes the generated noise and RIR corpus, resumably.

    Args:
        out_dir: corpus folder (created): ``noise/<id>.wav``, ``rir/<id>.wav``, ``noise.scp``,
            ``rir.scp``, ``settings.json``, ``README.md``, ``.done``. List paths are
            ``out_dir/...`` as given (relative if ``out_dir`` is).
        fs: sampling rate in Hz.
        num_noises: noise files (kinds taken in turn).
        noise_seconds: duration of each noise.
        num_rirs: RIR files.
        rt60_range: (min, max) RT60 in s, drawn uniformly per RIR.
        seed: the corpus seed.
    Returns:
        (noise_scp, rir_scp).
    Raises:
        FileExistsError: ``out_dir`` holds a corpus made with other settings (the message names them).
        ValueError: a setting out of range.
    """
    lo, hi = (float(v) for v in rt60_range)
    if fs <= 0 or num_noises < 1 or num_rirs < 1 or noise_seconds <= 0:
        raise ValueError("fs, num_noises, num_rirs and noise_seconds must be positive")
    if not MIN_RT60 <= lo <= hi:
        raise ValueError(f"rt60_range = ({lo}, {hi}) must have {MIN_RT60} <= min <= max")
    out_dir = Path(out_dir)
    settings = {
        "format_version": FORMAT_VERSION,
        "fs": int(fs),
        "num_noises": int(num_noises),
        "noise_seconds": float(noise_seconds),
        "num_rirs": int(num_rirs),
        "rt60_range": [lo, hi],
        "seed": int(seed),
        "noise_kinds": list(NOISE_KINDS),
    }
    noise_scp, rir_scp = out_dir / "noise.scp", out_dir / "rir.scp"
    _check_settings(out_dir, settings)
    if (out_dir / DONE_MARKER).exists():
        logging.info("%s is complete (%s exists); reusing it", out_dir, out_dir / DONE_MARKER)
        return noise_scp, rir_scp
    out_dir.mkdir(parents=True, exist_ok=True)
    write_lines(out_dir / SETTINGS_NAME, [json.dumps(settings, indent=2, sort_keys=True)])

    made = 0
    noise_frames = int(round(noise_seconds * fs))
    noise_ids: List[str] = []
    for i in range(num_noises):
        kind = NOISE_KINDS[i % len(NOISE_KINDS)]
        key = f"noise{i:04d}_{kind}"
        noise_ids.append(key)
        path = out_dir / "noise" / f"{key}.wav"
        if not _is_complete(path, noise_frames):
            samples, _ = to_int16(make_noise(kind, fs, noise_seconds, _file_rng(seed, _NOISE, i)))
            write_audio_atomic(path, samples, fs, "wav")
            made += 1
    rir_ids: List[str] = []
    rt60s: List[float] = []
    for i in range(num_rirs):
        key = f"rir{i:04d}"
        rir_ids.append(key)
        rng = _file_rng(seed, _RIR, i)
        rt60 = draw_rt60(rng, (lo, hi))
        rt60s.append(rt60)
        path = out_dir / "rir" / f"{key}.wav"
        if not _is_complete(path, int(round(1.2 * rt60 * fs))):
            write_audio_atomic(path, make_rir(fs, rt60, rng).astype(np.float32), fs, "wav", subtype="FLOAT")
            made += 1

    write_lines(noise_scp, [f"{k} {out_dir / 'noise' / f'{k}.wav'}" for k in noise_ids])
    write_lines(rir_scp, [f"{k} {out_dir / 'rir' / f'{k}.wav'}" for k in rir_ids])
    write_lines(out_dir / "README.md", [_readme(settings, noise_ids, rir_ids, rt60s).rstrip("\n")])
    (out_dir / DONE_MARKER).touch()
    logging.info(
        "wrote %d files to %s (%d noises of %.1f s, %d RIRs with RT60 %.2f-%.2f s; %d were already there)",
        made,
        out_dir,
        num_noises,
        noise_seconds,
        num_rirs,
        lo,
        hi,
        num_noises + num_rirs - made,
    )
    return noise_scp, rir_scp
