"""The collapse statistics reach TensorBoard: ESPnet's Trainer writes every stat the model reports."""

import math

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from espnet_trinet.bin.trinet_train import main as train_main
from trinet_testing import MINI_CONF, epoch_stats, train_args

# What SSLModel.forward reports for pretrain_data2vec_tiny.yaml (objective "struc" on the EMA targets):
# the monitored objective's spreads under data2vec's names, the same per objective, and the tap's rank.
COLLAPSE_STATS = ("target_var", "pred_var", "target_var_struc", "pred_var_struc", "eff_rank")
MODEL_STATS = ("loss", "loss_struc", "ema_decay", "mask_ratio", "nonfinite_loss") + COLLAPSE_STATS


def _scalars(log_dir):
    """{tag: [(step, value), ...]} of the event files in a SummaryWriter's folder."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.fixture(scope="module")
def trained(audio_dirs, tmp_path_factory):
    out = tmp_path_factory.mktemp("tb") / "d2v"
    train_main(train_args(MINI_CONF / "pretrain_data2vec_tiny.yaml", out, *audio_dirs, "--max_epoch", 1,
                          "--use_tensorboard", "true", "--use_matplotlib", "false"))
    return out


@pytest.mark.parametrize("mode", ["train", "valid"])
def test_collapse_statistics_are_in_tensorboard(trained, mode):
    scalars = _scalars(trained / "tensorboard" / mode)
    missing = [name for name in MODEL_STATS if name not in scalars]
    assert not missing, sorted(scalars)
    reported = epoch_stats(trained, mode)[1]  # the reporter's epoch means, which the Trainer logs
    for name in MODEL_STATS:
        (step, value), = scalars[name]  # one epoch, 2 updates < log_interval: the epoch point only
        assert math.isfinite(value), name
        assert step == 2 and value == pytest.approx(reported[name], rel=1e-5), name
    assert scalars["eff_rank"][0][1] >= 1 and scalars["target_var"][0][1] > 0


def test_trainer_statistics_are_in_tensorboard(trained):
    scalars = _scalars(trained / "tensorboard" / "train")
    for name in ("grad_norm", "optim0_lr0", "iter_epoch", "train_time"):
        assert name in scalars, sorted(scalars)
