"""Fixtures for the data tests: a tiny synthetic corpus and small Kaldi data dirs with audio."""

import shutil
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.data.synth import SynthConfig, make_synth_corpus

TINY_SYNTH = SynthConfig(
    seed=0, num_train_speakers=2, num_dev_speakers=1, num_test_speakers=1, utts_per_speaker=3, eval_utts_per_speaker=2
)


def tone(seconds: float, fs: int, channels: int = 1, amplitude: float = 0.3) -> np.ndarray:
    """A float32 chirp of shape (T,) or (T, C), different per channel."""
    t = np.arange(int(seconds * fs)) / fs
    chans = [amplitude * np.sin(2 * np.pi * (200 + 100 * c) * t * (1 + t)) for c in range(channels)]
    return np.stack(chans, axis=1).astype(np.float32) if channels > 1 else chans[0].astype(np.float32)


def write_data_dir(
    path: Path, wav: Dict[str, str], text: Dict[str, str], utt2spk: Optional[Dict[str, str]] = None
) -> Path:
    """A Kaldi data dir written line by line as given (so tests can write unsorted/broken files)."""
    path.mkdir(parents=True, exist_ok=True)
    utt2spk = utt2spk if utt2spk is not None else {u: u.split("-")[0] for u in wav}
    (path / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in wav.items()))
    (path / "text").write_text("".join(f"{k} {v}\n" for k, v in text.items()))
    (path / "utt2spk").write_text("".join(f"{k} {v}\n" for k, v in sorted(utt2spk.items())))
    spk2utt: Dict[str, list] = {}
    for utt, spk in sorted(utt2spk.items()):
        spk2utt.setdefault(spk, []).append(utt)
    (path / "spk2utt").write_text("".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items())))
    return path


@pytest.fixture
def small_data_dir(tmp_path) -> Path:
    """A valid data dir: 2 speakers x 2 utterances of 16 kHz FLAC, with utt2num_samples."""
    audio = tmp_path / "audio"
    audio.mkdir()
    wav, text, lengths = {}, {}, {}
    for i, (utt, sec) in enumerate([("a-1", 0.2), ("a-2", 1.0), ("b-1", 2.0), ("b-2", 0.5)]):
        sf.write(audio / f"{utt}.flac", tone(sec, 16000), 16000, subtype="PCM_16")
        wav[utt] = str(audio / f"{utt}.flac")
        text[utt] = "" if utt == "b-2" else f"WORD {i}"
        lengths[utt] = int(sec * 16000)
    d = write_data_dir(tmp_path / "data", wav, text)
    (d / "utt2num_samples").write_text("".join(f"{k} {v}\n" for k, v in lengths.items()))
    return d


@pytest.fixture(scope="session")
def tiny_synth_config() -> SynthConfig:
    """Settings of tiny_synth_corpus."""
    return TINY_SYNTH


@pytest.fixture(scope="session")
def tiny_synth_corpus(tmp_path_factory) -> Path:
    """Synthetic corpus of 2 train speakers x 3 utterances, 1 dev and 1 test speaker x 2 (espeak-ng)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return make_synth_corpus(tmp_path_factory.mktemp("synth") / "corpus", TINY_SYNTH, nj=1)
