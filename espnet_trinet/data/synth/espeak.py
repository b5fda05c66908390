"""Speech from Debian's espeak-ng command-line synthesiser."""

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Tuple

import numpy as np
import soundfile as sf

ESPEAK = "espeak-ng"
# espeak-ng accepts rates of 80-450 words per minute.
MIN_SPEED, MAX_SPEED = 80, 450


class EspeakError(RuntimeError):
    """espeak-ng is missing or failed."""


def check_espeak() -> str:
    """Path of the espeak-ng binary; raises EspeakError with an install hint if it is missing."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise EspeakError("espeak-ng not found on PATH: install it (apt-get install espeak-ng, or tools/install.sh)")
    return path


def synthesize(text: str, voice: str, speed: int, pitch: int, word_gap: int = 0) -> Tuple[np.ndarray, int]:
    """Speaks ``text`` with espeak-ng.

    Args:
        text: words to speak (lower case, so that espeak does not spell out capitals as acronyms).
        voice: espeak-ng voice with variant, e.g. ``en-gb-scotland+f2``.
        speed: words per minute (clamped to 80-450).
        pitch: 0-99.
        word_gap: pause between words in units of 10 ms.
    Returns:
        (float32 samples of shape (T,), sampling rate in Hz; 22050 for espeak-ng's voices).
    """
    speed = int(min(MAX_SPEED, max(MIN_SPEED, speed)))
    with tempfile.TemporaryDirectory(prefix="espeak") as tmp:
        wav = Path(tmp) / "out.wav"
        command = [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(word_gap), "-w", str(wav), text]
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0 or not wav.exists():
            raise EspeakError(f"{' '.join(command)} failed: {proc.stderr.decode(errors='replace').strip()}")
        samples, fs = sf.read(str(wav), dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return samples, fs
