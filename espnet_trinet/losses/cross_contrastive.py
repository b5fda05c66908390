"""The contrastive loss of data2vec-aqc (and wav2vec 2.0) with ccc-wav2vec 2.0's cluster scaling.

For each selected frame a prediction is told apart from distractors: the positive is the
quantised vector at the same frame, the negatives are quantised vectors of other selected
frames of the same utterance. Logits are cosine similarities / temperature; a negative equal
to the positive gets -inf (the reference's ``neg_is_pos``), and a negative in the positive's
cluster (per-batch k-means, ``losses/cosine_kmeans.py``) has its logit scaled by
``same_cluster_scale`` (0.3), so that near-duplicates of the positive push less.

The reference scales the same-cluster logits only inside its ``neg_is_pos.any()`` branch, so
a batch in which no negative equals its positive is left unscaled; with hard Gumbel codes and
negatives drawn from the same utterance such a batch is rare. Here the scaling always applies.
"""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F


def sample_negatives(utterance: torch.Tensor, num_negatives: int,
                     generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Draw negatives for every selected frame among the other selected frames of its utterance.

    Args:
        utterance: (N,) int64 utterance of each selected frame, non-decreasing (the frames
            in batch order, as ``frames.nonzero()`` gives them).
        num_negatives: K per frame, drawn with replacement (the reference: 100).
    Returns:
        (N, K) int64 indices into the N frames, never the frame itself, and (N, K) bool
        valid: False for every negative of an utterance with a single selected frame (its
        indices then point at the frame itself and must be left out).
    """
    n = utterance.numel()
    device = utterance.device
    counts = torch.bincount(utterance)  # selected frames per utterance
    start = torch.cumsum(counts, 0) - counts
    own = torch.arange(n, device=device) - start[utterance]  # position of each frame in its utterance
    others = (counts[utterance] - 1).unsqueeze(1)  # (N, 1)
    draw = torch.rand(n, num_negatives, generator=generator, device="cpu" if generator is None else generator.device)
    index = (draw.to(device) * others.clamp(min=1)).long().clamp(max=(others - 1).clamp(min=0))
    index = index + (index >= own.unsqueeze(1)).long()  # skip the frame itself
    valid = (others > 0).expand(n, num_negatives)
    index = torch.where(valid, start[utterance].unsqueeze(1) + index, torch.arange(n, device=device).unsqueeze(1))
    return index, valid


def contrastive_loss(pred: torch.Tensor, quantized: torch.Tensor, utterance: torch.Tensor, negatives: torch.Tensor,
                     valid: torch.Tensor, clusters: Optional[torch.Tensor] = None, temperature: float = 0.1,
                     same_cluster_scale: float = 0.3) -> torch.Tensor:
    """Cross-entropy of picking the positive among 1 + K candidates, per frame.

    Args:
        pred: (N, C) predictions.
        quantized: (N, C) the quantised vectors of the same frames: row i is frame i's positive.
        utterance, negatives, valid: ``sample_negatives``'s input (N,) and output (N, K).
        clusters: (N,) cluster id of each quantised vector, or None (no scaling).
        temperature: of the cosine logits (0.1).
        same_cluster_scale: factor of a same-cluster negative's logit (0.3).
    Returns:
        (N,) float32 losses.
    """
    n = pred.size(0)
    pred, quantized_unit = F.normalize(pred.float(), dim=-1, eps=1e-8), F.normalize(quantized.float(), dim=-1, eps=1e-8)
    positive = (pred * quantized_unit).sum(dim=-1, keepdim=True) / temperature  # (N, 1)
    # The negatives lie in the positive's utterance: one (L, L) cosine matrix per utterance, read at
    # the drawn pairs, instead of gathering N x K vectors of C dims (and scattering their gradient).
    counts = torch.bincount(utterance)
    start = torch.cumsum(counts, 0) - counts
    own = torch.arange(n, device=pred.device) - start[utterance]
    width = int(counts.max())
    padded = pred.new_zeros(counts.numel(), width, pred.size(1))
    rows = padded.index_put((utterance, own), pred)
    columns = padded.index_put((utterance, own), quantized_unit)
    cosines = torch.bmm(rows, columns.transpose(1, 2))[utterance, own]  # (N, L): frame i against its utterance
    negative = cosines.gather(1, negatives - start[utterance].unsqueeze(1)) / temperature  # (N, K)
    with torch.no_grad():
        excluded = (quantized[negatives] == quantized.unsqueeze(1)).all(dim=-1) | ~valid
        same_cluster = None if clusters is None else clusters[negatives] == clusters.unsqueeze(1)
    if same_cluster is not None:
        negative = torch.where(same_cluster, negative * same_cluster_scale, negative)
    negative = negative.masked_fill(excluded, float("-inf"))
    logits = torch.cat([positive, negative], dim=1)
    return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=logits.device), reduction="none")
