"""The shortest audio a model config can encode.

ESPnet's encoders refuse inputs with fewer frames than their subsampling needs (conv2d: 7
frames after the frontend, ``check_short_utt``) and raise TooShortUttError, which
``asr_inference`` turns into an empty hypothesis (a 0.05 s utterance); the STFT of the default
frontend cannot even pad an input shorter than half its window, and that RuntimeError ends the
decoding job (a 0.01 s utterance). Training sets lose such utterances to ``min_sec``, but test
sets keep every utterance. This module asks ESPnet's own frontend and subsampling classes, built
from a training config, how short is too short, so that stage 4 drops and reports them instead.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from espnet_trinet.data.datadir.kaldi_files import PathLike

# Search bound: a model that cannot encode a minute of audio is not a speech model.
MAX_SECONDS = 60


@dataclass(frozen=True)
class MinInput:
    """The shortest input of one config.

    Attributes:
        samples: fewest samples the frontend and encoder accept.
        frames: frontend frames the encoder's subsampling needs.
        subsampling: class name of the encoder's input layer (``Conv2dSubsampling``, ...).
    """

    samples: int
    frames: int
    subsampling: str


# The frontends and encoders of TriNetTask's table (every config of the project uses them, since
# fine-tuning loads the pretrained encoder), imported directly: importing a task module takes
# tens of seconds (tokenizers, g2p), this module a few. A test checks that they agree.
KNOWN = {
    "frontend": {
        "default": "espnet2.asr.frontend.default:DefaultFrontend",
        "sliding_window": "espnet2.asr.frontend.windowing:SlidingWindow",
    },
    "encoder": {
        "conformer": "espnet2.asr.encoder.conformer_encoder:ConformerEncoder",
        "transformer": "espnet2.asr.encoder.transformer_encoder:TransformerEncoder",
        "e_branchformer": "espnet2.asr.encoder.e_branchformer_encoder:EBranchformerEncoder",
    },
}


def _choices(kind: str, name: str, config: Path):
    """The ESPnet class of a frontend or encoder name: TriNetTask's (KNOWN), else ASRTask's."""
    if name.lower() in KNOWN[kind]:
        module, class_name = KNOWN[kind][name.lower()].split(":")
        return getattr(importlib.import_module(module), class_name)
    from espnet2.tasks import asr

    table = getattr(asr, f"{kind}_choices")
    if name.lower() in table.classes:
        return table.get_class(name)
    raise ValueError(f"{config}: {kind} '{name}' is neither a TriNet nor an ESPnet ASR {kind}")


def _num_frames(frontend: torch.nn.Module, num_samples: int) -> int:
    """Frames the frontend makes of ``num_samples`` samples; 0 if it cannot process them."""
    try:
        with torch.no_grad():
            _, lengths = frontend(torch.zeros(1, num_samples), torch.tensor([num_samples]))
    except RuntimeError:  # e.g. reflection padding longer than the input
        return 0
    return int(lengths[0])


def min_input_length(config: PathLike, fs: int = 16000) -> MinInput:
    """The fewest samples a model built from ``config`` can encode.

    Args:
        config: a trinet_train or espnet2 asr_train YAML config (``frontend``, ``frontend_conf``,
            ``encoder``, ``encoder_conf``).
        fs: sampling rate of the audio in Hz (bounds the search at MAX_SECONDS).
    Returns:
        a MinInput.
    Raises:
        FileNotFoundError: the config does not exist.
        ValueError: the config has no frontend (features given directly), or names unknown classes.
    """
    from espnet.nets.pytorch_backend.transformer.subsampling import check_short_utt

    config = Path(config)
    if not config.is_file():
        raise FileNotFoundError(f"{config}: no such config")
    conf = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    frontend_name = conf.get("frontend", "default")
    if frontend_name is None or conf.get("input_size") is not None:
        raise ValueError(f"{config}: no frontend (input_size is set), so audio lengths do not apply")
    frontend = _choices("frontend", frontend_name, config)(**(conf.get("frontend_conf") or {})).eval()
    encoder_class = _choices("encoder", conf.get("encoder", "conformer"), config)
    # Only the encoder's layer types matter: its weights are not materialised.
    with torch.device("meta"):
        encoder = encoder_class(input_size=frontend.output_size(), **(conf.get("encoder_conf") or {}))
    embed = getattr(encoder, "embed", None)
    too_short, limit = check_short_utt(embed, 0)
    frames = limit if too_short else 1

    low, high = 0, MAX_SECONDS * fs  # _num_frames(low) < frames <= _num_frames(high)
    if _num_frames(frontend, high) < frames:
        raise ValueError(f"{config}: even {MAX_SECONDS} s of audio gives fewer than {frames} frames")
    while high - low > 1:
        middle = (low + high) // 2
        if _num_frames(frontend, middle) >= frames:
            high = middle
        else:
            low = middle
    return MinInput(samples=high, frames=frames, subsampling=type(embed).__name__)
