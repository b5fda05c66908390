"""The span-mask view: spans of frames after subsampling replaced by a learned embedding
(wav2vec 2.0 / data2vec / TriNet)."""

from typing import Optional

import torch

from espnet_trinet.views.abs_view import AbsStudentView, StudentView


def compute_span_mask(
    lengths: torch.Tensor,
    max_length: int,
    start_prob: float = 0.65,
    span_length: int = 10,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Choose masked frames as spans of ``span_length`` starting at random frames.

    Each utterance of valid length T gets ``floor(start_prob * T / span_length + u)``
    spans (u ~ U[0, 1), at least one); starts are uniform over
    ``[0, T - span_length]``, so spans may overlap, as in the reference code. With
    the defaults (0.65, 10) about half of the frames end up masked.

    Args:
        lengths: (B,) valid frames per utterance.
        max_length: T_max, the padded length of the mask.
        start_prob: expected fraction of frames that start a span.
        span_length: frames per span; clipped to the utterance length.
        generator: optional RNG (on the same device as ``lengths``).

    Returns:
        (B, T_max) bool, True = masked. Padding frames are never masked.
    """
    device = lengths.device
    lengths = lengths.long()
    batch = lengths.numel()
    span = torch.clamp(lengths, max=span_length)  # (B,) short utterances get shorter spans
    noise = torch.rand(batch, device=device, generator=generator)
    num_spans = torch.floor(start_prob * lengths / span_length + noise).long()
    num_spans = torch.clamp(num_spans, min=1)
    num_spans = torch.where(lengths > 0, num_spans, torch.zeros_like(num_spans))
    max_spans = int(num_spans.max().item()) if batch > 0 else 0
    mask = torch.zeros(batch, max_length, dtype=torch.bool, device=device)
    if max_spans == 0:
        return mask

    # starts: (B, S) uniform in [0, T - span]; spans beyond num_spans are dropped.
    free = (lengths - span + 1).clamp(min=1).unsqueeze(1)
    starts = (torch.rand(batch, max_spans, device=device, generator=generator) * free).long()
    used = torch.arange(max_spans, device=device).unsqueeze(0) < num_spans.unsqueeze(1)
    offsets = torch.arange(span_length, device=device)  # (L,)
    frames = starts.unsqueeze(-1) + offsets  # (B, S, L)
    in_span = offsets.view(1, 1, -1) < span.view(-1, 1, 1)
    keep = used.unsqueeze(-1) & in_span & (frames < lengths.view(-1, 1, 1))
    rows = torch.arange(batch, device=device).view(-1, 1, 1).expand_as(frames)
    mask[rows[keep], frames[keep]] = True
    return mask


def equalize_masked_counts(mask: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Unmask random frames until every utterance has as many masked frames as the fewest.

    fairseq's ``require_same_masks``: the reference code's batches then have one count
    (and, inside spans, unmasked single frames).

    Args:
        mask: (B, T) bool masked frames.
    Returns:
        (B, T) bool, a subset of ``mask``.
    """
    counts = mask.sum(dim=1)
    fewest = int(counts.min()) if mask.size(0) > 0 else 0
    if bool((counts == fewest).all()):
        return mask
    # Keep the ``fewest`` masked frames with the largest random scores in each row.
    scores = torch.rand(mask.shape, device=mask.device, generator=generator)
    scores = torch.where(mask, scores, torch.full_like(scores, -1.0))
    kept = torch.zeros_like(mask)
    if fewest > 0:
        kept.scatter_(1, scores.topk(fewest, dim=1).indices, True)
    return kept & mask


class SpanMaskView(AbsStudentView):
    """Masked spans of the subsampled frames are replaced by a learned embedding.

    The mask embedding goes in where the reference code puts it relative to the
    frames this encoder makes: after ESPnet's subsampling, positional scaling and dropout.

    Args:
        dim: D, the encoder width.
        start_prob: expected fraction of frames that start a span (0.65).
        span: frames per span (10 at 40 ms).
        require_same_masks: as fairseq: every utterance of a batch gets the batch's
            smallest masked count (the reference code); False: each keeps its own.
    """

    def __init__(self, dim: int, start_prob: float = 0.65, span: int = 10, require_same_masks: bool = False):
        super().__init__()
        if not 0.0 < start_prob <= 1.0 or span < 1:
            raise ValueError(f"span masking needs 0 < start_prob <= 1 and span >= 1, got {start_prob}, {span}")
        self.start_prob = start_prob
        self.span = span
        self.require_same_masks = require_same_masks
        # The learned embedding that replaces masked frames after subsampling.
        self.mask_emb = torch.nn.Parameter(torch.empty(dim).uniform_())

    def forward(self, x, pos_emb, masks) -> StudentView:
        valid = masks.squeeze(1)  # (B, T)
        masked = compute_span_mask(valid.sum(dim=1), valid.size(1), self.start_prob, self.span)
        if self.require_same_masks:
            masked = equalize_masked_counts(masked)
        x = torch.where(masked.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        return StudentView(x, pos_emb, masks, masked, valid)
