"""Sample-level conversions to the uniform training format: resampling, down-mixing, 16-bit,
and atomic writing of audio files."""

import os
from pathlib import Path
from typing import Tuple

import numpy as np
import soundfile as sf
import soxr  # a dependency of librosa, which ESPnet requires; high quality and fast on CPU


def resample(samples: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Band-limited resampling.

    Args:
        samples: float array of shape (T,) or (T, C).
        fs_in: its rate in Hz.
        fs_out: target rate in Hz.
    Returns:
        float32 array of shape (T * fs_out / fs_in,) or (..., C).
    """
    if fs_in == fs_out:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), fs_in, fs_out, quality="HQ").astype(np.float32)


def downmix(samples: np.ndarray) -> np.ndarray:
    """Averages the channels: (T, C) -> (T,); a (T,) input is returned as is."""
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]


def to_int16(samples: np.ndarray) -> Tuple[np.ndarray, int]:
    """Float samples in [-1, 1] to int16, clipping what lies outside.

    Args:
        samples: float array of shape (T,).
    Returns:
        (int16 array of shape (T,), number of clipped samples).
    """
    scaled = np.round(samples.astype(np.float64) * 32768.0)
    clipped = int(np.count_nonzero((scaled > 32767) | (scaled < -32768)))
    return np.clip(scaled, -32768, 32767).astype(np.int16), clipped


def write_audio_atomic(path: Path, samples: np.ndarray, fs: int, audio_format: str = "flac",
                       subtype: str = "PCM_16") -> None:
    """Writes samples to ``path`` via a temporary name and a rename, so that a file that
    exists under its final name is always complete (what resumable stages rely on).

    Args:
        path: destination.
        samples: int16 array of shape (T,) (float32 for ``subtype`` FLOAT).
        fs: sampling rate in Hz.
        audio_format: ``flac`` or ``wav``.
        subtype: soundfile's sample format: PCM_16 (the corpora), FLOAT (wav only: impulse responses).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(tmp, samples, fs, format=audio_format.upper(), subtype=subtype)
    os.replace(tmp, path)
