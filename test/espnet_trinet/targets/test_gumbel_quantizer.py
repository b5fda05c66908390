"""The Gumbel vector quantiser of data2vec-aqc (wav2vec 2.0's): temperature, code usage, gradients."""

import math

import pytest
import torch

from espnet_trinet.targets.gumbel_quantizer import GumbelVectorQuantizer, gumbel_temperature


def test_temperature_decays_per_update_to_its_floor():
    schedule = (2.0, 0.5, 0.999995)
    assert gumbel_temperature(0, schedule) == 2.0
    assert gumbel_temperature(1000, schedule) == pytest.approx(2.0 * 0.999995 ** 1000)
    floor_at = math.ceil(math.log(0.25) / math.log(0.999995))  # ~277k updates
    assert gumbel_temperature(floor_at - 100, schedule) > 0.5
    assert gumbel_temperature(floor_at, schedule) == 0.5 == gumbel_temperature(400_000, schedule)


def test_each_frame_picks_one_entry_per_group_and_the_log_counts_their_use():
    torch.manual_seed(0)
    q = GumbelVectorQuantizer(input_dim=8, num_groups=2, num_entries=4, dim=6).eval()
    x = torch.randn(64, 8)
    with torch.no_grad():
        out, stats = q(x, num_updates=0)
        picks = q.weight_proj(x).view(64, 2, 4).argmax(dim=-1)  # (N, G): the argmax of each group
    entries = q.entries.view(2, 4, 3)
    expected = torch.cat([entries[0][picks[:, 0]], entries[1][picks[:, 1]]], dim=-1)
    torch.testing.assert_close(out, expected)
    usage = [torch.bincount(picks[:, g], minlength=4).float() / 64 for g in range(2)]
    code_ppl = sum(torch.exp(-(p * torch.log(p + 1e-7)).sum()) for p in usage)
    assert float(stats["code_ppl"]) == pytest.approx(float(code_ppl), rel=1e-5)
    assert 1.0 <= float(stats["code_ppl"]) <= 8.0
    assert float(stats["diversity"]) == pytest.approx((8 - float(stats["prob_ppl"])) / 8, rel=1e-6)


def test_all_frames_on_one_entry_is_the_worst_diversity():
    q = GumbelVectorQuantizer(input_dim=4, num_groups=1, num_entries=16, dim=4).eval()
    with torch.no_grad():
        q.weight_proj.weight.zero_()
        q.weight_proj.bias.copy_(torch.arange(16.0) * 100)  # entry 15 wins everywhere, with certainty
    with torch.no_grad():
        _, stats = q(torch.randn(10, 4), num_updates=0)
    assert float(stats["code_ppl"]) == pytest.approx(1.0, abs=1e-4)
    assert float(stats["diversity"]) == pytest.approx(15 / 16, abs=1e-4)


def test_training_samples_hard_codes_with_straight_through_gradients():
    torch.manual_seed(1)
    q = GumbelVectorQuantizer(input_dim=8, num_groups=2, num_entries=5, dim=4).train()
    x = torch.randn(30, 8, requires_grad=True)
    out, stats = q(x, num_updates=0)
    rows = q.entries.view(2, 5, 2)
    for g in range(2):  # every output is exactly one entry of its group
        chunk = out[:, 2 * g: 2 * g + 2].detach()
        assert bool(torch.isclose(chunk.unsqueeze(1), rows[g].detach().unsqueeze(0)).all(-1).any(-1).all())
    (out.sum() + stats["diversity"]).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0  # through the soft sample
    assert float(q.entries.grad.abs().sum()) > 0 and float(q.weight_proj.weight.grad.abs().sum()) > 0
    assert float(stats["temp"]) == 2.0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="multiple of the groups"):
        GumbelVectorQuantizer(8, num_groups=3, num_entries=4, dim=8)
    with pytest.raises(ValueError, match="temperature"):
        GumbelVectorQuantizer(8, temperature=(0.5, 2.0, 0.9))
