"""The utterances of a Kaldi-style data dir, as k-means labels read them: ids, lengths, audio."""

import logging
from pathlib import Path
from typing import Dict, Optional

import torch

from espnet_trinet.data.audio_io import AudioReadError, load_wav_scp_entry
from espnet_trinet.data.datadir.kaldi_files import DataDirError, read_map


def read_wav_scp(data_dir: Path) -> Dict[str, str]:
    """{utterance: wav.scp value}; fails on a missing or empty wav.scp."""
    wav_scp = Path(data_dir) / "wav.scp"
    if not wav_scp.is_file():
        raise FileNotFoundError(f"{wav_scp} does not exist (give a data dir made by the recipe's stage 3)")
    try:
        entries = read_map(wav_scp)
    except DataDirError as err:
        raise ValueError(str(err)) from None
    if not entries:
        raise ValueError(f"{wav_scp} is empty: the data dir has no utterances")
    return entries


def read_lengths(data_dir: Path, wav_scp: Dict[str, str], fs: int) -> Dict[str, int]:
    """Samples per utterance, from ``utt2num_samples`` (stage 3 writes it) or else from the audio."""
    path = Path(data_dir) / "utt2num_samples"
    if path.is_file():
        lengths = {key: int(value) for key, value in read_map(path).items()}
        missing = set(wav_scp) - set(lengths)
        if not missing:
            return {key: lengths[key] for key in wav_scp}
        logging.warning(f"{path} lacks {len(missing)} utterances; reading lengths from the audio")
    return {key: load_audio(key, value, fs).numel() for key, value in wav_scp.items()}


def load_audio(key: str, value: str, fs: int, num_samples: Optional[int] = None) -> torch.Tensor:
    """The (S,) float32 waveform of one wav.scp entry; an unreadable, multi-channel or
    wrongly sampled one, or one of another length than ``num_samples`` (utt2num_samples, which
    decided its frame count), fails naming the utterance and its file."""
    try:
        audio = load_wav_scp_entry(value)
    except AudioReadError as err:
        raise ValueError(f"utterance '{key}' ({value}): cannot read its audio: {err}") from None
    if audio.num_channels != 1:
        raise ValueError(f"utterance '{key}' ({value}) has {audio.num_channels} channels; expected mono")
    if audio.fs != fs:
        raise ValueError(
            f"utterance '{key}' ({value}) is {audio.fs} Hz but the student expects {fs} Hz: "
            "format the data dir first (recipe stage 3)"
        )
    if num_samples is not None and audio.samples.shape[0] != num_samples:
        raise ValueError(
            f"utterance '{key}' ({value}) has {audio.samples.shape[0]} samples, utt2num_samples says {num_samples}: "
            "fix the data dir (recipe stage 3)"
        )
    return torch.from_numpy(audio.samples[:, 0])
