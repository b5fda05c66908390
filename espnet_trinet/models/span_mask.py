"""Span masking of the student's input frames (wav2vec 2.0 / data2vec style)."""

from typing import Optional

import torch


def compute_span_mask(
    lengths: torch.Tensor,
    max_length: int,
    start_prob: float = 0.65,
    span_length: int = 10,
    min_spans: int = 1,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Choose masked frames as spans of ``span_length`` starting at random frames.

    Each utterance of valid length T gets ``floor(start_prob * T / span_length + u)``
    spans (u ~ U[0, 1), at least ``min_spans``); starts are uniform over
    ``[0, T - span_length]``, so spans may overlap, as in the reference code. With
    the defaults (0.65, 10) about half of the frames end up masked.

    Args:
        lengths: (B,) valid frames per utterance.
        max_length: T_max, the padded length of the mask.
        start_prob: expected fraction of frames that start a span.
        span_length: frames per span; clipped to the utterance length.
        min_spans: lower bound of spans per utterance.
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
    num_spans = torch.clamp(num_spans, min=min_spans)
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
