"""k-means under cosine similarity, for one batch on its own device (data2vec-aqc's per-batch
clustering of the quantised vectors; the reference calls ``fast_pytorch_kmeans`` in
``mode='cosine'``: random data points as the initial centroids, each point to the centroid of
highest cosine similarity, centroids the mean of their points, until they move less than
``tol`` (squared) or after ``max_iter`` rounds; a centroid that gets no point stays)."""

from typing import Optional

import torch
import torch.nn.functional as F


@torch.no_grad()
def cosine_kmeans(x: torch.Tensor, num_clusters: int, max_iter: int = 100, tol: float = 1e-4,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Cluster ids of the rows of ``x``.

    Args:
        x: (N, C) vectors (normalised or not: only directions count).
        num_clusters: K; clipped to N.
        max_iter, tol: stopping rule (the reference's defaults).
        generator: RNG of the initial centroids (default: torch's global one).
    Returns:
        (N,) int64 cluster ids in [0, K).
    """
    n = x.size(0)
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=x.device)
    k = max(1, min(num_clusters, n))
    x = F.normalize(x.float(), dim=-1)
    start = torch.randperm(n, generator=generator, device="cpu" if generator is None else generator.device)[:k]
    centroids = x[start.to(x.device)].clone()
    for _ in range(max_iter):
        labels = (x @ F.normalize(centroids, dim=-1).T).argmax(dim=-1)
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).unsqueeze(1)
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        shift = (moved - centroids).pow(2).sum()
        centroids = moved
        if shift < tol:
            break
    return (x @ F.normalize(centroids, dim=-1).T).argmax(dim=-1)
