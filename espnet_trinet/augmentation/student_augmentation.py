"""The student's augmentation of data2vec-aqc: the student sees a noisy, reverberant copy of each
utterance, the EMA teacher the clean one.

The reference (arXiv 2211.01246, Speech-Lab-IITM/data2vec-aqc) applies, in this order and each with
its own probability:

1. additive white Gaussian noise, p 0.6, noise std = U(0.001, 0.7) x std(speech): uniform in the
   amplitude ratio, i.e. an SNR between 60 dB and 3.1 dB, most draws near the low end;
2. reverberation with a room impulse response (RIR), p 0.7;
3. background noise from MUSAN's noise set, p 0.8, at an SNR drawn uniformly in 0..15 dB.

Deviations from the reference, both deliberate:

- Alignment: the RIR's samples before its direct-path peak are dropped, so the reverberant copy is
  not delayed against the clean one (the student's frames are compared with the teacher's frame by
  frame; a 1-5 ms delay would shift every target).
- SNR: the reference mixes background noise with ``exp(dB / 10)`` applied to the speech and halves
  the sum, so its "SNR" is not one; here the noise is scaled so that the mixture has exactly the
  drawn SNR (powers are mean squares over the whole utterance).

The RIR and noise lists are ESPnet-style (``<id> <path>`` or ``<path>`` per line, as
espnet2/train/preprocessor.py's CommonPreprocessor reads ``rir_scp`` and ``noise_scp``). Machines
without MUSAN/RIRS_NOISES use the generated corpus of
:mod:`espnet_trinet.augmentation.generated_corpus`.
"""

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.signal
import soundfile as sf

PathLike = Union[str, Path]

# Known keys of each part, with their defaults; the scp keys have none and must be given.
DEFAULTS: Dict[str, Dict[str, object]] = {
    "white_noise": {"prob": 0.6, "snr_db": (3.1, 60.0), "uniform_in": "amplitude"},
    "reverb": {"prob": 0.7, "rir_scp": None},
    "background_noise": {"prob": 0.8, "noise_scp": None, "snr_db": (0.0, 15.0)},
}
REQUIRED = {"reverb": "rir_scp", "background_noise": "noise_scp"}
UNIFORM_IN = ("amplitude", "db")
MAX_LISTED = 20  # bad files named in one error; the rest are counted


class AugmentationFileError(ValueError):
    """A RIR or noise list, or a file it names, cannot be used (missing, unreadable, wrong rate, empty)."""


def _power(x: np.ndarray) -> float:
    """Mean square, accumulated in float64 (a float32 sum over a long utterance drifts by ~1e-4).
    einsum, not np.dot: BLAS threads contending with a busy machine made np.dot 50x slower."""
    x = np.asarray(x)
    return float(np.einsum("i,i->", x, x, dtype=np.float64) / max(len(x), 1))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Adds noise scaled so that ``10 * log10(P_speech / P_scaled_noise) == snr_db`` exactly.

    Args:
        speech: float array of shape (S,).
        noise: float array of shape (S,).
        snr_db: wanted SNR in dB.
    Returns:
        float32 array of shape (S,); ``speech`` unchanged (as float32) when either part is silent,
        since no scale gives a silent signal an SNR.
    """
    speech = np.asarray(speech)
    noise = np.asarray(noise)
    if speech.shape != noise.shape or speech.ndim != 1:
        raise ValueError(f"speech {speech.shape} and noise {noise.shape} must both be of shape (S,)")
    p_speech, p_noise = _power(speech), _power(noise)
    if p_speech == 0.0 or p_noise == 0.0:
        return speech.astype(np.float32)
    scale = np.float32(np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0))))
    return speech.astype(np.float32, copy=False) + scale * noise.astype(np.float32, copy=False)


def add_white_noise(speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Adds white Gaussian noise at exactly ``snr_db`` (the drawn noise is rescaled to its target
    power, so noise std = 10 ** (-snr_db / 20) x rms(speech)).

    Args:
        speech: float array of shape (S,).
        snr_db: SNR in dB.
        rng: source of the noise.
    Returns:
        float32 array of shape (S,).
    """
    noise = rng.standard_normal(len(speech), dtype=np.float32)
    return mix_at_snr(speech, noise, snr_db)


def convolve_rir(speech: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Reverberates ``speech`` with ``rir``, time-aligned and at the original mean power.

    Args:
        speech: float array of shape (S,).
        rir: float array of shape (L,) or (L, C) as soundfile reads it; only channel 0 is used.
    Returns:
        float32 array of shape (S,): the convolution cut to S samples, starting at the RIR's
        direct-path peak (argmax |h|) so that it stays aligned with ``speech``, rescaled to
        ``speech``'s mean power as ESPnet's ``_convolve_rir`` does.
    """
    speech = np.asarray(speech)
    rir = np.asarray(rir)
    if rir.ndim == 2:
        rir = rir[:, 0]
    if rir.ndim != 1 or len(rir) == 0:
        raise ValueError(f"rir must be of shape (L,) or (L, C) with L > 0, got {rir.shape}")
    rir = rir[int(np.argmax(np.abs(rir))) :].astype(np.float32, copy=False)
    out = scipy.signal.fftconvolve(speech.astype(np.float32, copy=False), rir)[: len(speech)]
    p_in, p_out = _power(speech), _power(out)
    if p_out > 0.0:
        out = out * np.float32(np.sqrt(p_in / p_out))
    return out.astype(np.float32, copy=False)


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of ``noisy`` against ``clean`` in dB: 10 log10(P(clean) / P(noisy - clean)); inf if equal,
    -inf for a silent ``clean``.

    Args:
        clean: float array of shape (S,).
        noisy: float array of shape (S,).
    """
    clean = np.asarray(clean, dtype=np.float64)
    p_clean, p_noise = _power(clean), _power(np.asarray(noisy, dtype=np.float64) - clean)
    if p_noise == 0.0:
        return float("inf")
    return float("-inf") if p_clean == 0.0 else float(10.0 * np.log10(p_clean / p_noise))


def _read_list_lines(scp_path: PathLike) -> List[Tuple[int, str, str]]:
    """(line number, id, path) of each non-blank line of an ESPnet-style list."""
    entries = []
    with open(scp_path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            parts = raw.strip().split(None, 1)
            if not parts:
                continue
            if len(parts) == 1:
                entries.append((number, parts[0], parts[0]))
            else:
                entries.append((number, parts[0], parts[1].strip()))
    if not entries:
        raise AugmentationFileError(f"{scp_path}: the list is empty (want lines '<id> <path>' or '<path>')")
    return entries


def read_audio_list(scp_path: PathLike) -> List[Tuple[str, str]]:
    """Reads an ESPnet-style audio list (``rir_scp``, ``noise_scp``).

    Args:
        scp_path: lines ``<id> <path>`` or ``<path>`` (then the id is the path); blank lines skipped.
    Returns:
        ``[(id, path), ...]`` in file order.
    Raises:
        AugmentationFileError: the list has no entry.
    """
    return [(key, path) for _, key, path in _read_list_lines(scp_path)]


def _check_part(name: str, given: Optional[Mapping]) -> Optional[Dict[str, object]]:
    """The settings of one part merged over its defaults, validated; None for a part that is off."""
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise ValueError(f"{name} must be a mapping of settings or None (off), got {given!r}")
    known = DEFAULTS[name]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})")
    conf = {**known, **given}
    prob = conf["prob"]
    if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0.0 <= prob <= 1.0:
        raise ValueError(f"{name}.prob = {prob!r} must be a number in [0, 1]")
    conf["prob"] = float(prob)
    if "snr_db" in conf:
        snr = conf["snr_db"]
        if (
            isinstance(snr, (str, bytes))
            or not isinstance(snr, Sequence)
            or len(snr) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in snr)
        ):
            raise ValueError(f"{name}.snr_db = {snr!r} must be [low, high] in dB")
        if snr[0] > snr[1]:
            raise ValueError(f"{name}.snr_db = {list(snr)}: low {snr[0]} > high {snr[1]}")
        conf["snr_db"] = (float(snr[0]), float(snr[1]))
    if "uniform_in" in conf and conf["uniform_in"] not in UNIFORM_IN:
        raise ValueError(f"{name}.uniform_in = {conf['uniform_in']!r} must be one of {', '.join(UNIFORM_IN)}")
    scp_key = REQUIRED.get(name)
    if scp_key is not None and not conf[scp_key]:
        raise ValueError(
            f"{name}.{scp_key} is required: a list of '<id> <path>' lines (generate one with "
            "python -m espnet_trinet.bin.make_augmentation_corpus), or set {name} to None to turn it off"
        )
    return conf


class StudentAugmentation:
    """data2vec-aqc's augmentation of the student's input: white noise -> reverb -> background noise.

    Args:
        fs: sampling rate in Hz of the speech and of every listed file.
        white_noise: ``{prob: 0.6, snr_db: [3.1, 60.0], uniform_in: "amplitude" | "db"}``;
            ``amplitude`` draws the noise/speech amplitude ratio uniformly (the reference), ``db``
            the SNR. None: off.
        reverb: ``{prob: 0.7, rir_scp: path}``. None: off.
        background_noise: ``{prob: 0.8, noise_scp: path, snr_db: [0.0, 15.0]}``. None: off.
    Missing keys take these defaults; unknown keys, a prob outside [0, 1], ``snr_db`` low > high or
    a missing scp raise ValueError. The lists are read here (the audio at each call).
    """

    def __init__(
        self,
        fs: int = 16000,
        white_noise: Optional[dict] = None,
        reverb: Optional[dict] = None,
        background_noise: Optional[dict] = None,
    ):
        if isinstance(fs, bool) or not isinstance(fs, int) or fs <= 0:
            raise ValueError(f"fs = {fs!r} must be a positive integer (Hz)")
        self.fs = fs
        self.white_noise = _check_part("white_noise", white_noise)
        self.reverb = _check_part("reverb", reverb)
        self.background_noise = _check_part("background_noise", background_noise)
        self._lists: Dict[str, Tuple[str, List[Tuple[int, str, str]]]] = {}
        for part, conf in (("reverb", self.reverb), ("background_noise", self.background_noise)):
            if conf is None:
                continue
            scp = str(conf[REQUIRED[part]])
            try:
                self._lists[part] = (scp, _read_list_lines(scp))
            except OSError as err:
                raise AugmentationFileError(f"{part}.{REQUIRED[part]}: cannot read the list {scp}: {err}") from err
        if self.white_noise is not None:
            low, high = self.white_noise["snr_db"]
            # amplitude ratio bounds: the high SNR gives the small ratio
            self._ratio_range = (10.0 ** (-high / 20.0), 10.0 ** (-low / 20.0))

    def __repr__(self) -> str:
        return (
            f"StudentAugmentation(fs={self.fs}, white_noise={self.white_noise}, reverb={self.reverb}, "
            f"background_noise={self.background_noise})"
        )

    def check_files(self) -> None:
        """Checks every listed file with soundfile.info only (no audio is read): it exists, is readable,
        has ``fs`` as its rate and at least one frame.

        Raises:
            AugmentationFileError: naming each bad file (``list:line: path: reason``) and the fix.
        """
        bad = []
        total = 0
        for scp, entries in self._lists.values():
            for line, _, path in entries:
                total += 1
                if not Path(path).is_file():
                    reason = "missing (no such file)"
                else:
                    try:
                        info = sf.info(path)
                    except (RuntimeError, OSError) as err:
                        reason = f"unreadable by soundfile ({err})"
                    else:
                        if info.samplerate != self.fs:
                            reason = f"sample rate {info.samplerate} Hz, not {self.fs} Hz"
                        elif info.frames <= 0:
                            reason = "no samples (0 frames)"
                        else:
                            continue
                bad.append(f"  {scp}:{line}: {path}: {reason}")
        if not bad:
            return
        shown = bad[:MAX_LISTED]
        if len(bad) > MAX_LISTED:
            shown.append(f"  ... and {len(bad) - MAX_LISTED} more")
        raise AugmentationFileError(
            f"{len(bad)} of {total} files of the augmentation lists cannot be used:\n"
            + "\n".join(shown)
            + f"\nFix: resample a file of another rate to {self.fs} Hz (e.g. sox in.wav -r {self.fs} out.wav), "
            "correct a wrong path, or remove the file's line from its list."
        )

    def _read_rir(self, path: str) -> np.ndarray:
        rir, fs = sf.read(path, dtype="float32", always_2d=True)
        self._check_rate(path, fs, len(rir))
        return rir[:, 0]

    def _read_noise(self, path: str, num_samples: int, rng: np.random.Generator) -> Tuple[np.ndarray, int]:
        """``num_samples`` of channel 0 from a random offset, wrapping around a file that is shorter;
        only the needed frames are read (seek), as ESPnet's ``_add_noise`` does. Returns (noise, offset)."""
        with sf.SoundFile(path) as f:
            self._check_rate(path, f.samplerate, f.frames)
            frames = f.frames
            if frames >= num_samples:
                offset = int(rng.integers(0, frames - num_samples + 1))
                f.seek(offset)
                noise = f.read(num_samples, dtype="float32", always_2d=True)[:, 0]
                if len(noise) != num_samples:
                    raise AugmentationFileError(f"{path}: read {len(noise)} of {num_samples} frames (truncated file?)")
                return noise, offset
            whole = f.read(dtype="float32", always_2d=True)[:, 0]
        offset = int(rng.integers(0, frames))
        return np.resize(np.roll(whole, -offset), num_samples), offset

    def _check_rate(self, path: str, fs: int, frames: int) -> None:
        if fs != self.fs or frames <= 0:
            raise AugmentationFileError(
                f"{path}: {fs} Hz and {frames} frames, want {self.fs} Hz and > 0 frames "
                "(StudentAugmentation.check_files lists every such file)"
            )

    def __call__(self, speech: np.ndarray, rng: np.random.Generator, applied: Optional[dict] = None) -> np.ndarray:
        """Augments one utterance.

        Args:
            speech: float array of shape (S,).
            rng: the only source of randomness (the same seed gives the same output).
            applied: if given, cleared and filled with what was done: ``white_noise_snr_db``,
                ``rir`` (its id), ``noise`` (its id), ``noise_offset``, ``noise_snr_db``.
        Returns:
            float32 array of shape (S,). The background noise's SNR is relative to the signal it is
            added to (after white noise and reverb). An all-zero input is returned unchanged.
        """
        speech = np.asarray(speech)
        if speech.ndim != 1:
            raise ValueError(f"speech must be of shape (S,), got {speech.shape}")
        out = speech.astype(np.float32)  # a copy: the caller's array is never modified
        if applied is not None:
            applied.clear()
        if not np.any(out):
            return out
        conf = self.white_noise
        if conf is not None and rng.random() < conf["prob"]:
            if conf["uniform_in"] == "amplitude":
                snr_db = -20.0 * np.log10(rng.uniform(*self._ratio_range))
            else:
                snr_db = rng.uniform(*conf["snr_db"])
            out = add_white_noise(out, snr_db, rng)
            if applied is not None:
                applied["white_noise_snr_db"] = float(snr_db)
        if self.reverb is not None and rng.random() < self.reverb["prob"]:
            entries = self._lists["reverb"][1]
            _, key, path = entries[int(rng.integers(len(entries)))]
            out = convolve_rir(out, self._read_rir(path))
            if applied is not None:
                applied["rir"] = key
        conf = self.background_noise
        if conf is not None and rng.random() < conf["prob"]:
            entries = self._lists["background_noise"][1]
            _, key, path = entries[int(rng.integers(len(entries)))]
            snr_db = rng.uniform(*conf["snr_db"])
            noise, offset = self._read_noise(path, len(out), rng)
            out = mix_at_snr(out, noise, snr_db)
            if applied is not None:
                applied.update(noise=key, noise_offset=offset, noise_snr_db=float(snr_db))
        return out
