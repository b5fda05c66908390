"""The features k-means labels are made from: one vector per student frame.

Two kinds, as HuBERT's two iterations (and MT4SSL, which follows its recipe):

- ``mfcc``: 13 Kaldi MFCCs (``use_energy=False``, as HuBERT's ``dump_mfcc_feature.py``) with
  deltas and delta-deltas, 39 dims per 10 ms frame, then averaged over each student frame's
  stride window (``StudentGrid.windows``: 4 frames for conv2d). Why average to 40 ms before
  clustering rather than cluster 10 ms frames and pick one: a label describes what one
  student frame predicts from, so the vector clustered should describe that frame's audio,
  not a quarter of it; and there are 4x fewer vectors to cluster and assign.
  The 10 ms frames are put on the student's frontend grid: the student's STFT is centred
  (frame i centred on sample hop * i), Kaldi's frames start at hop * i (``snip_edges``), so
  the waveform is padded by win_length // 2 first (reflected, as the STFT pads).
- ``ssl``: the output of block K (1-based, before the encoder's final norm) of a trained
  SSL model (``TriNetTask.build_model_from_file``) in eval mode, without masking; already
  at the student's frame rate, which is checked.
"""

from pathlib import Path
from typing import Dict, Optional, Union

import torch

from espnet_trinet.labels.student_grid import StudentGrid, check_lengths
from espnet_trinet.utils.files import file_sha256

FEATURE_KINDS = ("mfcc", "ssl")
NUM_CEPS = 13  # HuBERT's iteration 1 (Kaldi's default)


class MfccFeatures:
    """MFCC + deltas + delta-deltas averaged per student frame.

    Args:
        grid: the student's frame grid (its fs, hop and window length set the 10 ms frames).
    """

    kind = "mfcc"
    dim = 3 * NUM_CEPS

    def __init__(self, grid: StudentGrid):
        self.grid = grid

    def settings(self) -> Dict:
        """What decides the features, for ``kmeans_info.yaml``."""
        return dict(
            num_ceps=NUM_CEPS, deltas="delta + delta-delta (torchaudio compute_deltas, win_length 5)",
            frame_length_samples=self.grid.win_length, frame_shift_samples=self.grid.hop_length,
            reduction=f"mean over each student frame's {self.grid.stride} frames (stride window)",
        )

    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        """Args: wave: (S,) float32 audio in [-1, 1]. Returns: (T, 39) float32, T = student frames."""
        frames = self.frontend_rate(wave)
        return average_windows(frames, self.grid.windows(self.grid.frames(wave.numel()), frames.size(0)))

    @torch.no_grad()
    def frontend_rate(self, wave: torch.Tensor) -> torch.Tensor:
        """Args: wave: (S,) float32 audio. Returns: (L, 39) float32, frame i centred on sample hop * i
        (L = 1 + S // hop, the student frontend's frames)."""
        import torchaudio

        grid = self.grid
        left, right = grid.win_length // 2, grid.win_length - grid.win_length // 2
        mode = "reflect" if wave.numel() > max(left, right) else "constant"
        padded = torch.nn.functional.pad(wave.float()[None, None], (left, right), mode=mode)[0]
        # Kaldi takes milliseconds and truncates fs * ms / 1000 to whole samples; a hundredth of a
        # sample more keeps a float product such as 159.99999 from becoming 159.
        mfcc = torchaudio.compliance.kaldi.mfcc(
            padded, sample_frequency=grid.fs, num_ceps=NUM_CEPS, use_energy=False, snip_edges=True,
            frame_length=(grid.win_length + 0.01) * 1000 / grid.fs,
            frame_shift=(grid.hop_length + 0.01) * 1000 / grid.fs,
        ).T  # (13, L)
        deltas = torchaudio.functional.compute_deltas(mfcc)
        return torch.cat([mfcc, deltas, torchaudio.functional.compute_deltas(deltas)]).T


def average_windows(frames: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    """Mean of ``frames[start:end]`` per window.

    Args:
        frames: (L, D) frontend-rate features.
        windows: (T, 2) [start, end) with 0 <= start < end <= L.
    Returns:
        (T, D) float32.
    """
    sums = torch.nn.functional.pad(frames.double().cumsum(dim=0), (0, 0, 1, 0))  # (L + 1, D)
    starts, ends = windows[:, 0], windows[:, 1]
    return ((sums[ends] - sums[starts]) / (ends - starts)[:, None]).float()


class SslBlockFeatures:
    """Block K of a trained SSL model's encoder, one vector per student frame.

    Args:
        ssl_config, ssl_model_file: the trained model's config.yaml and .pth.
        layer: K, 1-based block number.
        grid: the student's frame grid; the model must make the same frames.
    """

    kind = "ssl"

    def __init__(self, ssl_config: Union[str, Path], ssl_model_file: Union[str, Path], layer: int,
                 grid: StudentGrid):
        from espnet_trinet.encoders.layerwise import count_frames
        from espnet_trinet.tasks.trinet import TriNetTask

        for what, path in (("--ssl_model_file", ssl_model_file), ("--ssl_config", ssl_config)):
            if path is None:
                raise ValueError(f"features ssl need the trained SSL model: give {what}")
            if not Path(path).is_file():
                raise FileNotFoundError(f"features ssl need the trained SSL model: {what} {path} does not exist")
        self.ssl_config, self.ssl_model_file = Path(ssl_config), Path(ssl_model_file)
        model, _ = TriNetTask.build_model_from_file(str(ssl_config), str(ssl_model_file), "cpu")
        self.model = model.eval()
        num_blocks = len(self.model.encoder.encoders)
        if layer is None or not 1 <= int(layer) <= num_blocks:
            raise ValueError(f"--layer {layer}: the SSL model {ssl_model_file} has blocks 1..{num_blocks}")
        self.layer = int(layer)
        self.dim = int(self.model.encoder.output_size())
        self.grid = grid
        if self.model.frontend is None:
            raise ValueError(f"the SSL model {ssl_model_file} has no frontend; it must read the student's audio")
        lengths = check_lengths(grid.fs, grid.hop_length)
        got = count_frames(self.model.frontend, self.model.encoder, lengths)
        expected = [grid.frames(n) for n in lengths]
        if got != expected:
            raise ValueError(
                f"the SSL model {ssl_model_file} makes {got} frames for {lengths} samples, the student {expected}: "
                "its block outputs are not on the student's frames; use a model with the student's frontend "
                "hop_length and encoder input_layer"
            )

    def settings(self) -> Dict:
        """What decides the features, for ``kmeans_info.yaml`` (the files' checksums included)."""
        return dict(
            block_features="block output before the final norm, eval mode, no masking",
            ssl_config=str(self.ssl_config), ssl_config_sha256=file_sha256(self.ssl_config),
            ssl_model_file=str(self.ssl_model_file), ssl_model_sha256=file_sha256(self.ssl_model_file),
        )

    @torch.no_grad()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        """Args: wave: (S,) float32 audio. Returns: (T, D) float32 block-K outputs, T = student frames."""
        from espnet_trinet.encoders.layerwise import embed_frames, run_blocks

        speech, lengths = wave.float()[None], torch.tensor([wave.numel()])
        feats, feats_lengths = self.model.frontend(speech, lengths)
        if self.model.normalize is not None:
            feats, feats_lengths = self.model.normalize(feats, feats_lengths)
        x, pos_emb, masks = embed_frames(self.model.encoder, feats, feats_lengths)
        blocks = run_blocks(self.model.encoder.encoders[: self.layer], x, pos_emb, masks)
        out = blocks[-1][0]
        if out.size(0) != self.grid.frames(wave.numel()):  # the constructor's probes make this unexpected
            raise ValueError(f"the SSL model made {out.size(0)} frames for {wave.numel()} samples, "
                             f"the student {self.grid.frames(wave.numel())}")
        return out.float()


def build_features(
    kind: str, grid: StudentGrid, ssl_config: Optional[Union[str, Path]] = None,
    ssl_model_file: Optional[Union[str, Path]] = None, layer: Optional[int] = None,
):
    """An ``MfccFeatures`` or ``SslBlockFeatures`` (``kind`` one of ``FEATURE_KINDS``)."""
    if kind == "mfcc":
        if layer is not None or ssl_model_file is not None:
            raise ValueError("--layer and --ssl_model_file apply to --features ssl, not mfcc")
        return MfccFeatures(grid)
    if kind == "ssl":
        return SslBlockFeatures(ssl_config, ssl_model_file, layer, grid)
    raise ValueError(f"--features must be one of {FEATURE_KINDS}, got '{kind}'")
