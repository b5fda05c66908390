"""Reading the audio of one wav.scp entry: a file path, a Kaldi pipe (``cmd ... |``) or an
archive offset (``foo.ark:123``), with each way it can fail named by a short reason."""

import io
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_trinet.data.datadir.validate import ARK_OFFSET

# A pipe that hangs (e.g. waiting on a network share) must not block the whole stage forever.
PIPE_TIMEOUT_S = 600


class AudioReadError(Exception):
    """The audio of an entry could not be read.

    Args:
        reason: a short token for reports: missing_file, permission_denied, empty_file,
            unreadable_audio, zero_samples, non_finite_samples, pipe_failed.
        detail: a human-readable explanation.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(reason, detail)  # both in args, so that the error pickles across processes
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass
class Audio:
    """Decoded audio.

    Attributes:
        samples: float32 array of shape (T, C), values nominally in [-1, 1].
        fs: sampling rate in Hz.
        subtype: libsndfile subtype of the source (``PCM_16``, ``PCM_24``, ``FLOAT``, ...).
    """

    samples: np.ndarray
    fs: int
    subtype: str

    @property
    def num_channels(self) -> int:
        return self.samples.shape[1]


def _decode(source, name: str) -> Audio:
    try:
        with sf.SoundFile(source) as f:
            subtype = f.subtype
            samples = f.read(dtype="float32", always_2d=True)
            fs = f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioReadError("unreadable_audio", f"{name}: {err}") from None
    if samples.shape[0] == 0:
        raise AudioReadError("zero_samples", f"{name}: decodes to 0 samples")
    if not np.isfinite(samples).all():
        raise AudioReadError("non_finite_samples", f"{name}: contains NaN or infinite samples")
    return Audio(samples=samples, fs=fs, subtype=subtype)


def _read_file(path: str) -> Audio:
    p = Path(path)
    if not p.exists():
        raise AudioReadError("missing_file", f"{path}: no such file")
    if not os.access(p, os.R_OK):
        raise AudioReadError("permission_denied", f"{path}: not readable by this user")
    if p.stat().st_size == 0:
        raise AudioReadError("empty_file", f"{path}: 0 bytes")
    try:
        return _decode(str(p), path)
    except PermissionError:
        raise AudioReadError("permission_denied", f"{path}: not readable by this user") from None


def _read_pipe(command: str) -> Audio:
    try:
        proc = subprocess.run(
            command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=PIPE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise AudioReadError("pipe_failed", f"'{command}': no result after {PIPE_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioReadError(
            "pipe_failed", f"'{command}' exited with {proc.returncode}: {message[-1] if message else ''}"
        )
    if not proc.stdout:
        raise AudioReadError("empty_file", f"'{command}' wrote nothing")
    return _decode(io.BytesIO(proc.stdout), f"'{command}'")


def _read_ark(value: str) -> Audio:
    import kaldiio

    path = ARK_OFFSET.match(value).group("path")
    if not Path(path).exists():
        raise AudioReadError("missing_file", f"{path}: no such file")
    try:
        fs, data = kaldiio.load_mat(value)
    except Exception as err:  # kaldiio raises plain ValueError/struct errors on bad archives
        raise AudioReadError("unreadable_audio", f"{value}: {err}") from None
    data = np.asarray(data)
    samples = (data.astype(np.float32) / 32768.0).reshape(len(data), -1)
    if samples.shape[0] == 0:
        raise AudioReadError("zero_samples", f"{value}: 0 samples")
    return Audio(samples=samples, fs=int(fs), subtype="PCM_16")


def load_wav_scp_entry(value: str) -> Audio:
    """Decodes the audio named by the value of a wav.scp line.

    Args:
        value: a path, a shell command ending in ``|`` that writes audio to stdout, or
            ``archive.ark:offset``.
    Returns:
        the decoded Audio.
    Raises:
        AudioReadError: with a reason token and a detail.
    """
    value = value.strip()
    if value.endswith("|"):
        return _read_pipe(value[:-1])
    if ARK_OFFSET.match(value):
        return _read_ark(value)
    return _read_file(value)
