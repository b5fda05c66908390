"""The throughput benchmark's parts: every variant trains on the shared batch, and the
CPU memory tracker and FLOP counter see real work (the benchmark itself is not timed here)."""

import sys

import pytest
import torch

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from measure import PeakTensorMemory, count_flops, time_interleaved  # noqa: E402
from step_variants import SIZES, VARIANTS, build_variant, make_audio  # noqa: E402


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    speech, lengths = make_audio(2, 1.5)
    tmp = tmp_path_factory.mktemp("bench")
    return {name: build_variant(name, SIZES["tiny"], speech, lengths, torch.device("cpu"), tmp) for name in VARIANTS}


def test_every_variant_updates_its_weights(variants):
    for name, v in variants.items():
        before = {k: p.detach().clone() for k, p in v.model.named_parameters() if p.requires_grad}
        loss = v.train_step()
        assert loss == loss, name  # finite
        changed = sum(not torch.equal(before[k], p) for k, p in v.model.named_parameters() if p.requires_grad)
        assert changed > 0, name


def test_trinet_steps_move_the_ema_teacher_and_offline_skips_the_frozen_teacher(variants):
    online, offline = variants["trinet_online"], variants["trinet_offline"]
    assert int(online.model.num_updates) >= 1 and int(offline.model.num_updates) >= 1
    assert "frozen_targets" in offline.batch and "frozen_targets" not in online.batch
    # The offline step does less work than the online one: no teacher forward.
    assert count_flops(offline.train_step) < count_flops(online.train_step)


def test_memory_tracker_counts_live_tensors_once():
    with PeakTensorMemory() as tracker:
        a = torch.zeros(1024, 256)  # 1 MiB
        view = a[:10]
        b = torch.ones(1024, 256)
        del a, view, b
        c = torch.zeros(512, 256)
    assert tracker.peak == 2 * 2**20
    assert tracker.live == 2**19 and c.numel() == 512 * 256


def test_interleaved_timing_gives_each_variant_its_rounds():
    calls = []
    times = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                             torch.device("cpu"), warmup=1, repeats=3)
    assert calls == ["a", "b"] * 4 and {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
