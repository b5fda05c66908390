import pytest
import torch

from espnet_trinet.monitor.collapse import CollapseError, CollapseGuard, effective_rank, per_dim_std


def test_effective_rank_of_isotropic_and_collapsed_frames():
    torch.manual_seed(0)
    iso = torch.randn(5000, 16)
    assert effective_rank(iso).item() == pytest.approx(16, rel=0.05)
    line = torch.randn(500, 1) * torch.randn(1, 16)  # every frame on one line
    assert effective_rank(line).item() == pytest.approx(1.0, abs=0.01)
    two = torch.cat([torch.randn(500, 2), torch.zeros(500, 14)], dim=1)
    assert effective_rank(two).item() == pytest.approx(2.0, rel=0.05)


def test_per_dim_std_matches_data2vec_definition():
    x = torch.tensor([[0.0, 0.0], [2.0, 4.0]])
    # unbiased var per dim: 2 and 8 -> std sqrt(2), sqrt(8)
    assert per_dim_std(x, eps=0).item() == pytest.approx((2**0.5 + 8**0.5) / 2)


def test_guard_waits_for_warmup_then_names_the_cause():
    guard = CollapseGuard(min_target_var=0.1, min_pred_var=0.01, warmup_updates=100)
    bad = dict(target_var=torch.tensor(0.05), pred_var=torch.tensor(0.5))
    guard.check(99, bad)  # still warming up
    with pytest.raises(CollapseError, match="target_var=0.05 < 0.1.*learning rate"):
        guard.check(100, bad)
    guard.check(100, dict(target_var=torch.tensor(0.5), pred_var=torch.tensor(0.5)))


def test_guard_on_effective_rank_is_optional():
    stats = dict(eff_rank=torch.tensor(1.5))
    CollapseGuard(warmup_updates=0).check(10, stats)
    with pytest.raises(CollapseError, match="eff_rank"):
        CollapseGuard(min_effective_rank=4.0, warmup_updates=0).check(10, stats)


def test_guard_on_codebook_usage_names_the_codebooks():
    stats = dict(codebook_ppl=torch.tensor(2.5), target_var=torch.tensor(0.5), pred_var=torch.tensor(0.5))
    CollapseGuard(warmup_updates=0).check(10, stats)  # off by default
    guard = CollapseGuard(min_target_var=None, min_codebook_ppl=4.0, warmup_updates=0)
    with pytest.raises(CollapseError) as error:
        guard.check(10, stats)
    message = str(error.value)
    assert message.startswith("codebook collapse after 10 updates: codebook_ppl=2.5 < 4.0.")
    for words in ("collapsed onto a few codewords", "codebook_decay", "freeze_teacher_after", "decay_start",
                  "optim_conf.lr", "resume from an earlier checkpoint", "model_conf.collapse_guard"):
        assert words in message, words
    guard.check(10, dict(codebook_ppl=torch.tensor(5.0)))


def test_guard_on_the_quantisers_code_usage_names_its_settings():
    stats = dict(code_ppl=torch.tensor(2.0), target_var=torch.tensor(0.5), pred_var=torch.tensor(0.5))
    CollapseGuard(warmup_updates=0).check(10, stats)  # off by default
    with pytest.raises(CollapseError) as error:
        CollapseGuard(min_code_ppl=10.0, warmup_updates=0).check(10, stats)
    message = str(error.value)
    assert message.startswith("quantiser collapse after 10 updates: code_ppl=2 < 10.0.")
    for words in ("temperature", "diversity_weight", "optim_conf.lr", "before code_ppl fell"):
        assert words in message, words
    CollapseGuard(min_code_ppl=10.0, warmup_updates=0).check(10, dict(code_ppl=torch.tensor(11.0)))


def test_effective_rank_does_not_depend_on_the_order_of_the_frames():
    # Nearly low-rank frames (as a young encoder's): in float32 the covariance's small
    # eigenvalues are rounding noise whose square roots move the rank in the 4th digit
    # with the summation order (frame order, BLAS kernel, CPU), which the golden step
    # values caught across machines; the decomposition is done in float64 for that.
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(600, 12, generator=g) @ torch.randn(12, 144, generator=g)
    frames = frames + 1e-3 * torch.randn(600, 144, generator=g)
    reference = effective_rank(frames).item()
    for seed in range(4):
        order = torch.randperm(600, generator=torch.Generator().manual_seed(seed))
        assert effective_rank(frames[order]).item() == pytest.approx(reference, rel=1e-7, abs=0)
    assert 8 < reference < 16  # about the 12 directions the frames span
