"""The per-batch cosine k-means of data2vec-aqc."""

import torch

from espnet_trinet.losses.cosine_kmeans import cosine_kmeans


def test_separates_directions_whatever_the_length():
    torch.manual_seed(0)
    directions = torch.eye(3)
    truth = torch.arange(3).repeat_interleave(40)
    x = directions[truth] * torch.rand(120, 1).add(0.5) * 10 + 0.05 * torch.randn(120, 3)  # lengths vary 5x
    labels = cosine_kmeans(x, 3, generator=torch.Generator().manual_seed(0))
    assert labels.shape == (120,) and labels.dtype == torch.long
    # One cluster per direction (up to renaming).
    for k in range(3):
        assert labels[truth == k].unique().numel() == 1
    assert labels.unique().numel() == 3


def test_deterministic_for_a_generator_and_clusters_clipped_to_points():
    x = torch.randn(50, 8)
    a = cosine_kmeans(x, 5, generator=torch.Generator().manual_seed(3))
    b = cosine_kmeans(x, 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and int(a.max()) < 5
    assert cosine_kmeans(x[:2], 10).max() <= 1
    assert cosine_kmeans(x[:0], 4).numel() == 0
