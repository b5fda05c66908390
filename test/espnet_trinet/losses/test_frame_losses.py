import math

import pytest
import torch

from espnet_trinet.losses.frame_losses import hard_cross_entropy, soft_cross_entropy, squared_error


def test_soft_cross_entropy_on_hand_made_tensors():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])  # q = (.5,.5), (.75,.25)
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    expected = [-math.log(0.5), -(0.5 * math.log(0.75) + 0.5 * math.log(0.25))]
    assert soft_cross_entropy(logits, probs).tolist() == pytest.approx(expected, rel=1e-6)


def test_hard_cross_entropy_on_hand_made_tensors():
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    ids = torch.tensor([0, 1])
    assert hard_cross_entropy(logits, ids).tolist() == pytest.approx([-math.log(0.75), -math.log(0.5)], rel=1e-6)


def test_squared_error_sums_over_dims_per_frame():
    pred = torch.tensor([[1.0, 1.0], [5.0, 5.0]])
    target = torch.tensor([[0.0, 2.0], [0.0, 0.0]])
    assert squared_error(pred, target).tolist() == [2.0, 50.0]
