"""Audio that breaks training numerically, written the way a bad corpus would hold it."""

from pathlib import Path
from typing import Iterable

import numpy as np
import soundfile as sf


def make_utterances_extreme(data_dir: Path, utt_ids: Iterable[str], amplitude: float = 1e20) -> None:
    """Rewrite these utterances of a data dir as float WAVs with samples near ``amplitude``.

    ESPnet's reader returns float WAV samples as stored (no clipping to [-1, 1]); at
    1e20 the fbank power overflows float32, the features become NaN and so does the loss.
    Lengths stay the same, so speech_shape and utt2num_samples remain valid.
    """
    paths = dict(line.split(maxsplit=1) for line in (data_dir / "wav.scp").read_text().splitlines())
    for utt in utt_ids:
        path = paths[utt].strip()
        wave, fs = sf.read(path, dtype="float32")
        sf.write(path, (amplitude * wave / np.abs(wave).max()).astype(np.float32), fs, subtype="FLOAT")
