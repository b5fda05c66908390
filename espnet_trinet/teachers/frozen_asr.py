"""The frozen teacher: an ESPnet ASR model (CTC fine-tuned), loaded once, never trained."""

import logging
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch

from espnet_trinet.teachers.fit_checks import frontend_summary, read_token_list
from espnet_trinet.utils.espnet_conf import resolved_conf


def resolve_asr_files(
    asr_train_config: Optional[str] = None,
    asr_model_file: Optional[str] = None,
    asr_model_zip: Optional[str] = None,
) -> Tuple[Path, Path]:
    """Return (config.yaml, model.pth) of an ASR experiment or of a packed model zip.

    A zip made by ``espnet2.bin.pack asr`` is unpacked once next to itself
    (``<name>.zip`` -> ``<name>/``); a second call reuses the unpacked files.
    """
    if asr_model_zip is not None:
        zip_path = Path(asr_model_zip)
        if not zip_path.is_file():
            raise FileNotFoundError(
                f"frozen teacher: packed model '{zip_path}' does not exist "
                "(set the frozen_asr target's asr_model_zip to a zip from espnet2.bin.pack asr)"
            )
        from espnet2.main_funcs.pack_funcs import unpack

        files = unpack(zip_path, zip_path.with_suffix(""))
        if "asr_train_config" not in files or "asr_model_file" not in files:
            raise ValueError(f"frozen teacher: '{zip_path}' is not an ASR model zip: {sorted(files)}")
        return Path(files["asr_train_config"]), Path(files["asr_model_file"])

    if asr_model_file is None:
        raise ValueError(
            "frozen teacher: set the frozen_asr target's asr_model_file (and asr_train_config) "
            "or asr_model_zip (e.g. --target_conf frozen.asr_model_file=...)"
        )
    model_file = Path(asr_model_file)
    config = Path(asr_train_config) if asr_train_config else model_file.parent / "config.yaml"
    for path, option in ((model_file, "asr_model_file"), (config, "asr_train_config")):
        if not path.is_file():
            raise FileNotFoundError(
                f"frozen teacher: {option} '{path}' does not exist "
                "(it comes from the CTC fine-tuning of the data2vec model, recipe stage 8)"
            )
    return config, model_file


class FrozenASRTeacher:
    """An ESPnet ASR model in eval mode without gradients.

    Deliberately not an ``nn.Module``: the teacher must not be registered in the
    student's module tree, so it is not saved in the student's checkpoints, not
    wrapped by DDP and not seen by the optimizer. It follows the input's device
    on first use.
    """

    def __init__(self, asr_train_config: Path, asr_model_file: Path):
        from espnet2.tasks.asr import ASRTask

        self.config_path = Path(asr_train_config)
        self.model_path = Path(asr_model_file)
        try:
            model, args = ASRTask.build_model_from_file(str(self.config_path), str(self.model_path), "cpu")
        except FileNotFoundError as err:
            # ESPnet names only the file: say that the teacher's config.yaml asked for it.
            raise FileNotFoundError(
                f"frozen teacher: {err.filename or err} does not exist, but {self.config_path} refers to it "
                "(normalize_conf.stats_file comes from the teacher's statistics stage, asr.sh stage 10; "
                "token_list from stage 5): restore it, or fix the path in that config.yaml"
            ) from err
        model.eval()
        model.requires_grad_(False)
        self.model = model
        self.train_args = args
        logging.info(f"frozen teacher loaded from {self.model_path}")

    @property
    def output_size(self) -> int:
        return self.model.encoder.output_size()

    @property
    def ctc_linear(self) -> Optional[torch.nn.Linear]:
        ctc = getattr(self.model, "ctc", None)
        return None if ctc is None else ctc.ctc_lo

    @property
    def token_list(self) -> List[str]:
        tokens = getattr(self.train_args, "token_list", None) or []
        if isinstance(tokens, str):  # a path, when the config was written before ESPnet read the file
            return read_token_list(tokens, "the teacher's token_list")
        return list(tokens)

    @property
    def fs(self) -> Optional[int]:
        """The sampling rate the teacher's frontend was configured for (None: no frontend)."""
        frontend = self.model.frontend
        if frontend is None:
            return None
        return resolved_conf(type(frontend), getattr(self.train_args, "frontend_conf", None)).get("fs")

    def frontend_summary(self) -> str:
        """Its frontend and subsampling settings, as the config spells them (for messages)."""
        return frontend_summary(
            self.model.frontend, getattr(self.train_args, "frontend_conf", None),
            self.model.encoder, getattr(self.train_args, "encoder_conf", None),
        )

    @torch.no_grad()
    def frames_for(self, num_samples: Sequence[int]) -> List[int]:
        """Encoder frames the teacher gives for audio of each length (one short forward each)."""
        generator = torch.Generator().manual_seed(0)
        frames = []
        for n in num_samples:
            speech = 0.1 * torch.randn(1, int(n), generator=generator)
            device = next(self.model.parameters()).device
            _, lengths = self.encode(speech.to(device), torch.tensor([int(n)], device=device))
            frames.append(int(lengths[0]))
        return frames

    @torch.no_grad()
    def encode(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher encoder output for raw audio.

        Args:
            speech: (B, S) waveform at the teacher's sampling rate.
            speech_lengths: (B,)
        Returns:
            (B, T, D_t) float32 encoder output (after its final norm), (B,) lengths.
        """
        device = speech.device
        if next(self.model.parameters()).device != device:
            self.model.to(device)
        self.model.eval()
        out, out_lengths = self.model.encode(speech, speech_lengths)
        return out.float(), out_lengths
