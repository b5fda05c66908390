"""data2vec-aqc's contrastive loss against a hand computation, and its negative sampling."""

import math

import torch
import torch.nn.functional as F

from espnet_trinet.losses.cross_contrastive import contrastive_loss, sample_negatives


def test_negatives_stay_in_the_utterance_and_never_are_the_frame_itself():
    utterance = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, 2, 2])
    torch.manual_seed(0)
    index, valid = sample_negatives(utterance, num_negatives=200)
    assert index.shape == valid.shape == (10, 200) and bool(valid.all())
    rows = torch.arange(10).unsqueeze(1).expand_as(index)
    assert not bool((index == rows).any())
    assert torch.equal(utterance[index], utterance.unsqueeze(1).expand_as(index))
    # Every other frame of the utterance is drawn (uniformly: 200 draws over 4 frames).
    for frame in range(3, 8):
        drawn = torch.bincount(index[frame], minlength=10)[3:8]
        assert int((drawn > 0).sum()) == 4 and int(drawn[frame - 3]) == 0


def test_an_utterance_of_one_selected_frame_has_no_valid_negative():
    index, valid = sample_negatives(torch.tensor([0, 1, 1]), num_negatives=5)
    assert not bool(valid[0].any()) and bool(valid[1:].all())
    assert bool((index[0] == 0).all())  # points at itself, left out by ``valid``
    assert bool((index[1] == 2).all()) and bool((index[2] == 1).all())


def _hand_loss(pred, candidates, scales, excluded, temperature):
    """-log softmax of the positive (candidate 0) by hand."""
    logits = []
    for j, candidate in enumerate(candidates):
        cos = float(pred @ candidate / (pred.norm() * candidate.norm()))
        logits.append(-math.inf if excluded[j] else cos / temperature * scales[j])
    top = max(logits)
    log_sum = top + math.log(sum(math.exp(v - top) for v in logits if v != -math.inf))
    return log_sum - logits[0]


def test_loss_matches_a_hand_computation_with_same_cluster_scaling_and_duplicates():
    quantized = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])  # frame 3 = frame 0's vector
    pred = torch.tensor([[0.9, 0.3], [0.2, 1.0], [-0.5, 0.5], [1.0, 1.0]])
    negatives = torch.tensor([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    valid = torch.ones(4, 3, dtype=torch.bool)
    clusters = torch.tensor([0, 0, 1, 0])
    utterance = torch.zeros(4, dtype=torch.long)
    got = contrastive_loss(pred, quantized, utterance, negatives, valid, clusters, temperature=0.1,
                           same_cluster_scale=0.3)
    for i in range(4):
        candidates = [quantized[i]] + [quantized[j] for j in negatives[i]]
        scales = [1.0] + [0.3 if clusters[j] == clusters[i] else 1.0 for j in negatives[i]]
        excluded = [False] + [bool(torch.equal(quantized[j], quantized[i])) for j in negatives[i]]
        assert abs(float(got[i]) - _hand_loss(pred[i], candidates, scales, excluded, 0.1)) < 1e-5, i
    # Frame 0's duplicate (frame 3) is left out, not pushed away: without it the loss is lower
    # than when it counts as an ordinary negative.
    no_duplicates = contrastive_loss(pred, quantized + torch.tensor([[0.0, 0.0]] * 3 + [[0.0, 1e-3]]), utterance,
                                     negatives, valid, clusters, 0.1, 0.3)
    assert float(got[0]) < float(no_duplicates[0])


def test_no_clusters_means_no_scaling_and_invalid_negatives_are_left_out():
    torch.manual_seed(1)
    quantized, pred = torch.randn(6, 4), torch.randn(6, 4)
    negatives = torch.tensor([[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]])  # two utterances of 3 frames
    utterance = torch.tensor([0, 0, 0, 1, 1, 1])
    valid = torch.ones(6, 2, dtype=torch.bool)
    plain = contrastive_loss(pred, quantized, utterance, negatives, valid, None, 0.1, 0.3)
    logits = F.cosine_similarity(pred.unsqueeze(1), torch.cat([quantized.unsqueeze(1), quantized[negatives]], 1),
                                 dim=-1) / 0.1
    torch.testing.assert_close(plain, F.cross_entropy(logits, torch.zeros(6, dtype=torch.long), reduction="none"))
    valid[0] = False
    assert float(contrastive_loss(pred, quantized, utterance, negatives, valid, None, 0.1, 0.3)[0]) == 0.0


def test_gradients_equal_those_of_the_gathered_cosines():
    """The per-utterance cosine matrices give the loss and gradients of gathering every candidate."""
    torch.manual_seed(2)
    utterance = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    pred, quantized = torch.randn(12, 8, requires_grad=True), torch.randn(12, 8, requires_grad=True)
    negatives, valid = sample_negatives(utterance, 7)
    clusters = torch.randint(0, 3, (12,))
    got = contrastive_loss(pred, quantized, utterance, negatives, valid, clusters, 0.1, 0.3)
    candidates = torch.cat([quantized.unsqueeze(1), quantized[negatives]], dim=1)
    logits = F.cosine_similarity(pred.unsqueeze(1), candidates, dim=-1) / 0.1
    logits[:, 1:] = torch.where(clusters[negatives] == clusters.unsqueeze(1), logits[:, 1:] * 0.3, logits[:, 1:])
    want = F.cross_entropy(logits, torch.zeros(12, dtype=torch.long), reduction="none")
    torch.testing.assert_close(got, want)
    grads = torch.autograd.grad(got.sum(), (pred, quantized))
    for a, b in zip(grads, torch.autograd.grad(want.sum(), (pred, quantized))):
        torch.testing.assert_close(a, b)
