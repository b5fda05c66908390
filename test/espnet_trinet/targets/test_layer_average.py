import pytest
import torch

from espnet_trinet.targets.layer_average import average_top_layers, instance_norm_over_time


def test_instance_norm_ignores_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])  # the third frame is padding
    valid = torch.tensor([[True, True, False]])
    out = instance_norm_over_time(x, valid, eps=0.0)
    # mean 2, var 1 over the two valid frames
    assert torch.allclose(out, torch.tensor([[[-1.0], [1.0], [0.0]]]))


def test_top_k_average_against_hand_computation():
    torch.manual_seed(0)
    hs = [torch.randn(2, 5, 3) for _ in range(4)]
    valid = torch.ones(2, 5, dtype=torch.bool)

    def by_hand(h):
        mean = h.mean(dim=1, keepdim=True)
        var = h.var(dim=1, unbiased=False, keepdim=True)
        return (h - mean) / torch.sqrt(var + 1e-5)

    # TriNet reference: K blocks ending at N-1 (here blocks 2 and 3 of 4)
    got = average_top_layers(hs, valid, last_layer=-2, top_k=2)
    assert torch.allclose(got, (by_hand(hs[1]) + by_hand(hs[2])) / 2, atol=1e-6)
    # data2vec: K blocks ending at N
    got = average_top_layers(hs, valid, last_layer=-1, top_k=3)
    assert torch.allclose(got, (by_hand(hs[1]) + by_hand(hs[2]) + by_hand(hs[3])) / 3, atol=1e-6)


def test_too_many_layers_is_an_error():
    hs = [torch.randn(1, 3, 2) for _ in range(4)]
    with pytest.raises(ValueError, match="need at least"):
        average_top_layers(hs, torch.ones(1, 3, dtype=torch.bool), last_layer=-2, top_k=4)
