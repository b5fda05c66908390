import logging

import pytest
import torch

from espnet_trinet.losses.frame_losses import soft_cross_entropy
from espnet_trinet.monitor.nonfinite import NonFiniteLossError, NonFiniteLossGuard


def _saturated_soft_ce():
    """A (N=3, C=2) soft cross-entropy that is inf although its gradients are finite."""
    logits = torch.tensor([[0.0, -3e38]] * 3, requires_grad=True)  # log-softmax saturates
    probs = torch.full((3, 2), 0.5)
    return logits, soft_cross_entropy(logits, probs).mean()


def test_finite_loss_passes_unchanged():
    guard = NonFiniteLossGuard(max_in_a_row=3)
    loss = torch.tensor(1.5, requires_grad=True)
    out, flag = guard.check_loss(loss, {"loss": loss.detach()}, ["u1"])
    assert out is loss and flag.item() == 0.0


def test_inf_loss_with_finite_gradients_gets_nan_gradients():
    # Without the guard this update would be applied: ESPnet only skips non-finite grad norms.
    logits, loss = _saturated_soft_ce()
    loss.backward(retain_graph=True)
    assert torch.isinf(loss) and torch.isfinite(logits.grad).all()
    logits.grad = None

    guard = NonFiniteLossGuard(max_in_a_row=3)
    out, flag = guard.check_loss(loss, {"loss_regul": loss.detach()}, ["u1"])
    out.backward()
    assert flag.item() == 1.0
    assert torch.isnan(logits.grad).all()
    assert not torch.isfinite(torch.nn.utils.clip_grad_norm_([logits], max_norm=5.0))


def test_skipped_update_puts_batch_norm_statistics_back():
    norm = torch.nn.BatchNorm1d(4).train()
    norm(torch.randn(8, 4))  # some history
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    guard = NonFiniteLossGuard()
    # one update of two forward passes (gradient accumulation), the second one bad
    for batch in (torch.randn(8, 4) + 3.0, torch.full((8, 4), float("nan"))):
        guard.save_running_stats(norm)
        out, _ = guard.check_loss(norm(batch).sum(), {}, ["u1"])
        out.backward()  # the running stats may only be put back after the backward pass
    assert torch.isnan(norm.running_mean).all()
    guard.at_update_boundary(applied=False)
    for key, value in norm.state_dict().items():
        assert torch.equal(value, before[key]), key

    # an applied update keeps what the forward passes learnt
    guard.save_running_stats(norm)
    guard.check_loss(norm(torch.randn(8, 4) + 3.0).sum(), {}, ["u2"])
    guard.at_update_boundary(applied=True)
    assert not torch.equal(norm.running_mean, before["running_mean"])
    assert int(norm.num_batches_tracked) == int(before["num_batches_tracked"]) + 1


def _bad_update(guard, utts):
    loss = torch.tensor(float("nan"))
    guard.check_loss(loss, {"loss": loss, "loss_struc": loss, "ema_decay": torch.tensor(0.99)}, utts)
    guard.at_update_boundary(applied=False)


def test_skips_are_counted_in_a_row_and_reset_by_an_applied_update(caplog):
    guard = NonFiniteLossGuard(max_in_a_row=3, setting="model_conf.max_nonfinite_in_a_row")
    with caplog.at_level(logging.WARNING):
        _bad_update(guard, ["a1", "a2"])
    assert "update skipped: non-finite loss, loss_struc in batch [a1 a2] (1 in a row, 1 in total" in caplog.text
    assert "ema_decay" not in caplog.text
    _bad_update(guard, ["b1"])
    assert guard.skipped_in_a_row == 2
    guard.at_update_boundary(applied=True)
    assert guard.skipped_in_a_row == 0 and int(guard.num_skipped_updates) == 2

    _bad_update(guard, ["c1"])
    _bad_update(guard, ["d1"])
    with pytest.raises(NonFiniteLossError) as error:
        _bad_update(guard, ["e1", "e2"])
    message = str(error.value)
    assert message.startswith("3 optimizer updates in a row were skipped")
    for part in ("model_conf.max_nonfinite_in_a_row=3", "5 skipped in this run", "in batch [e1 e2]",
                 "optim_conf.lr", "bf16", "stage 3", "--resume true"):
        assert part in message, part


def test_a_skip_without_a_non_finite_loss_is_not_counted():
    # fp16 GradScaler calibration: the loss is finite, the gradients overflow, no step.
    guard = NonFiniteLossGuard(max_in_a_row=1)
    loss = torch.tensor(2.0)
    guard.check_loss(loss, {"loss": loss}, ["u1"])
    guard.at_update_boundary(applied=False)
    assert guard.skipped_in_a_row == 0 and int(guard.num_skipped_updates) == 0


def test_bad_batches_of_one_update_are_reported_together():
    # gradient accumulation: several forward passes, one update boundary
    guard = NonFiniteLossGuard(max_in_a_row=1)
    nan = torch.tensor(float("nan"))
    guard.check_loss(nan, {"loss": nan}, ["a"])
    guard.check_loss(torch.tensor(1.0), {"loss": torch.tensor(1.0)}, ["b"])
    guard.check_loss(nan, {"loss": nan}, ["c"])
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss in batches \[a\] \[c\]\. "):
        guard.at_update_boundary(applied=False)
    assert int(guard.num_skipped_updates) == 1


def test_zero_never_stops_and_the_total_is_saved():
    guard = NonFiniteLossGuard(max_in_a_row=0)
    for _ in range(50):
        _bad_update(guard, ["u"])
    assert guard.state_dict()["num_skipped_updates"].item() == 50
    with pytest.raises(ValueError, match="model_conf.max_nonfinite_in_a_row must be >= 0"):
        NonFiniteLossGuard(max_in_a_row=-1, setting="model_conf.max_nonfinite_in_a_row")


def test_validation_batches_are_logged_not_counted(caplog):
    guard = NonFiniteLossGuard(max_in_a_row=1)
    nan = torch.tensor(float("nan"))
    with caplog.at_level(logging.WARNING):
        out, flag = guard.check_loss(nan, {"loss": nan}, ["v1"], training=False)
    assert flag.item() == 1.0 and "non-finite loss in the validation batch [v1]" in caplog.text
    guard.at_update_boundary(applied=False)
    assert int(guard.num_skipped_updates) == 0


def test_checkpoints_from_before_the_guard_still_load():
    model = torch.nn.Module()
    model.nonfinite_guard = NonFiniteLossGuard()
    model.nonfinite_guard.num_skipped_updates += 7
    model.load_state_dict({})  # strict, as ESPnet's --resume
    assert int(model.nonfinite_guard.num_skipped_updates) == 0
    model.load_state_dict({"nonfinite_guard.num_skipped_updates": torch.tensor(3)})
    assert int(model.nonfinite_guard.num_skipped_updates) == 3
