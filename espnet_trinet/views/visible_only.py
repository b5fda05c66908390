"""data2vec 2.0's student view: M differently masked clones of each utterance, and the
masked frames removed before the blocks, so the student pays only for the visible ones.

The clones share the batch's one teacher pass (the model repeats every source's targets
M times); the data loader's batch stays the same. Positions are the encoder's own, added
before removal: ESPnet's transformer adds its absolute sinusoidal encoding in
``encoder.embed`` (so a visible frame keeps its original position: the faithful case); a
conformer's relative positions and convolution module see the compacted sequence (the
gaps are closed), a stated approximation that ``remove_masked: false`` lets one measure
(bench/RESULTS.md). data2vec 2.0's convolutional positional encoder and ALiBi biases are
not built: ESPnet's fine-tuned encoder could not carry them.

``restore`` puts the visible outputs back in place and fills every removed frame with
noise (std 0.01, data2vec 2.0) or a learned token, the input of a decoder head
(``objectives/conv_decoder.py``) that predicts the masked frames.
"""

from typing import Optional

import torch

from espnet_trinet.views.abs_view import AbsStudentView, StudentView
from espnet_trinet.views.span_mask import compute_span_mask, equalize_masked_counts

FILLS = ("noise", "token")


def visible_first(kept: torch.Tensor) -> torch.Tensor:
    """(R, T) bool kept frames -> (R, T') indices of the kept frames in order, left-aligned.

    T' is the most kept frames of a row; a row with fewer is padded with indices of its
    other frames (their outputs are never read back).
    """
    width = int(kept.sum(dim=1).max()) if kept.numel() else 0
    # A stable sort on "not kept" puts the kept frames first, in their original order.
    return torch.argsort((~kept).to(torch.int8), dim=1, stable=True)[:, :width]


def shrink_pos_emb(pos_emb: Optional[torch.Tensor], length: int, new_length: int) -> Optional[torch.Tensor]:
    """A relative positional embedding of ``length`` frames cut to ``new_length``.

    ESPnet's "latest" relative encoding is (1, 2T-1, D), centred on distance 0 (its middle
    row); the legacy one is (1, T, D). None (absolute positions, already in x) stays None.
    """
    if pos_emb is None:
        return None
    if pos_emb.size(1) == 2 * length - 1:
        return pos_emb[:, length - new_length: length + new_length - 1]
    if pos_emb.size(1) == length:
        return pos_emb[:, :new_length]
    raise ValueError(f"positional embedding of {pos_emb.size(1)} rows does not fit {length} frames")


class VisibleOnlyView(AbsStudentView):
    """M span-masked clones of each utterance; by default only their visible frames reach the blocks.

    Args:
        dim: D, the encoder width.
        start_prob, span: span masking (``compute_span_mask``); data2vec 2.0: p 0.5 plus its
            0.05 adjustment, spans of 5 (at 20 ms; ~44 % of the frames masked).
        clones: M, differently masked copies of each utterance (data2vec 2.0 base: 8).
        remove_masked: True: masked frames are removed before the blocks; False: they are
            replaced by a learned embedding and kept (the span-mask student, with clones) -
            the same method without the compaction, to measure what it costs.
        fill: what stands at a removed frame in the restored outputs: "noise" (N(0,
            noise_std), data2vec 2.0) or "token" (a learned vector).
        noise_std: the noise's standard deviation.
        require_same_masks: every row gets the batch's fewest masked frames (fairseq).
    """

    def __init__(self, dim: int, start_prob: float = 0.55, span: int = 5, clones: int = 8,
                 remove_masked: bool = True, fill: str = "noise", noise_std: float = 0.01,
                 require_same_masks: bool = False):
        super().__init__()
        if not 0.0 < start_prob <= 1.0 or span < 1:
            raise ValueError(f"span masking needs 0 < start_prob <= 1 and span >= 1, got {start_prob}, {span}")
        if clones < 1:
            raise ValueError(f"clones must be >= 1, got {clones}")
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got '{fill}'")
        self.start_prob, self.span, self.clones = start_prob, span, clones
        self.remove_masked, self.fill, self.noise_std = remove_masked, fill, noise_std
        self.require_same_masks = require_same_masks
        if remove_masked:
            self.fill_token = torch.nn.Parameter(torch.zeros(dim)) if fill == "token" else None
        else:
            # The span-mask view's embedding of masked frames.
            self.mask_emb = torch.nn.Parameter(torch.empty(dim).uniform_())

    def forward(self, x, pos_emb, masks) -> StudentView:
        """x: (B, T, D), masks (B, 1, T) -> view of x (B*M, T', D) with masks (B*M, 1, T')."""
        x = x.repeat_interleave(self.clones, dim=0)  # clone m of utterance b: row b*M + m
        masks = masks.repeat_interleave(self.clones, dim=0)
        valid = masks.squeeze(1)
        masked = compute_span_mask(valid.sum(dim=1), valid.size(1), self.start_prob, self.span)
        if self.require_same_masks:
            masked = equalize_masked_counts(masked)
        if not self.remove_masked:
            x = torch.where(masked.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
            return StudentView(x, pos_emb, masks, masked, valid, clones=self.clones)

        # A short utterance may be masked whole; its first frame is kept, so that every row
        # (and the batch) has a frame for the blocks to read.
        whole = valid[:, 0] & ~(valid & ~masked).any(dim=1)
        masked[:, 0] &= ~whole
        kept = valid & ~masked
        order = visible_first(kept)  # (B*M, T')
        counts = kept.sum(dim=1, keepdim=True)
        kept_masks = (torch.arange(order.size(1), device=x.device).unsqueeze(0) < counts).unsqueeze(1)
        visible = x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.size(-1)))
        # Padding rows of the compacted batch hold zeros, as ESPnet's padded frames do.
        visible = visible * kept_masks.transpose(1, 2).to(visible.dtype)
        pos_emb = shrink_pos_emb(pos_emb, x.size(1), order.size(1))
        return StudentView(visible, pos_emb, kept_masks, masked, valid, clones=self.clones, kept=kept)

    def restore(self, view: StudentView, h: torch.Tensor) -> torch.Tensor:
        """(B*M, T', D) outputs of the kept frames -> (B*M, T, D): each at its frame; removed
        frames filled (noise or the token), padding 0."""
        if view.kept is None:
            return h
        kept = view.kept
        # Kept frame t of a row is the (number of kept frames before it)-th row of h.
        source = (kept.long().cumsum(dim=1) - 1).clamp(min=0)
        if h.size(1) == 0:
            placed = h.new_zeros(kept.shape + (h.size(-1),))
        else:
            placed = h.gather(1, source.unsqueeze(-1).expand(-1, -1, h.size(-1)))
        if self.fill == "noise":
            filler = torch.randn_like(placed) * self.noise_std
        else:
            filler = self.fill_token.to(placed.dtype).expand_as(placed)
        removed = (view.valid & ~kept).unsqueeze(-1)
        out = torch.where(kept.unsqueeze(-1), placed, torch.where(removed, filler, torch.zeros_like(placed)))
        return out
