"""data2vec 2.0's decoder head: grouped 1-D convolutions over the restored time axis fill in
the masked frames from their visible neighbours, then a linear projection to the targets.

Its input is a student tap on the full time axis, where a visible-only view
(``views/visible_only.py``) left noise or a token at every removed frame; the decoder is
a pretraining part (CTC fine-tuning reads the encoder, not it).
"""

import torch

from espnet_trinet.objectives.linear import LinearPrediction
from espnet_trinet.targets.abs_targets import Targets


class ConvDecoderBlock(torch.nn.Module):
    """Conv1d(kernel, groups) -> LayerNorm without affine parameters -> GELU, plus the block's
    input when the widths match (data2vec 2.0's ``Decoder1d`` block: its first block, from D to
    the decoder width, has no residual)."""

    def __init__(self, in_dim: int, dim: int, kernel: int, groups: int, residual: bool):
        super().__init__()
        self.conv = torch.nn.Conv1d(in_dim, dim, kernel_size=kernel, padding=kernel // 2, groups=groups)
        self.norm = torch.nn.LayerNorm(dim, elementwise_affine=False)
        self.residual = residual and in_dim == dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) -> (B, T, dim)."""
        y = torch.nn.functional.gelu(self.norm(self.conv(x.transpose(1, 2)).transpose(1, 2)))
        return x + y if self.residual else y


class ConvDecoderPrediction(LinearPrediction):
    """A conv decoder, then Linear(dim, C), on one student tap; the loss follows the targets' kind.

    Args:
        name, weight, tap, targets, frames, sqrt_dim_scale, input_dim, output_dim,
        target_kind, num_groups: see ``LinearPrediction``.
        layers: conv blocks (data2vec 2.0: 4).
        dim: their width (384).
        kernel: their kernel, odd so that frame t's output is centred on frame t (7).
        groups: their groups; must divide input_dim and dim (16).
        input_dropout: dropout on the decoder's input (0.1).
        residual: each block adds its input (when the widths match).
    """

    def __init__(self, name: str, input_dim: int, output_dim: int, target_kind: str, tap: str = "final",
                 targets: str = "ema", frames: str = "masked", weight: float = 1.0, sqrt_dim_scale: bool = True,
                 num_groups: int = 1, layers: int = 4, dim: int = 384, kernel: int = 7, groups: int = 16,
                 input_dropout: float = 0.1, residual: bool = True):
        super().__init__(name, dim, output_dim, target_kind, tap=tap, targets=targets, frames=frames, weight=weight,
                         sqrt_dim_scale=sqrt_dim_scale, num_groups=num_groups)
        if layers < 1:
            raise ValueError(f"objective '{name}': the decoder needs layers >= 1, got {layers}")
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"objective '{name}': the decoder's kernel must be odd (frame t centred), got {kernel}")
        if input_dim % groups or dim % groups:
            raise ValueError(f"objective '{name}': decoder groups {groups} must divide the tap's width {input_dim} "
                             f"and the decoder's dim {dim}")
        self.input_dropout = torch.nn.Dropout(input_dropout)
        self.blocks = torch.nn.ModuleList(
            ConvDecoderBlock(input_dim if i == 0 else dim, dim, kernel, groups, residual) for i in range(layers)
        )

    def predict(self, student: torch.Tensor, targets: Targets) -> torch.Tensor:
        """(B, T, D) tap -> (B, T, C); frames without a target (padding) are zeroed before each
        convolution, so that they do not leak into the real frames at the edges."""
        keep = targets.frames.unsqueeze(-1).to(student.dtype)
        x = self.input_dropout(student)
        for block in self.blocks:
            x = block(x * keep)
        return self.head(x)
