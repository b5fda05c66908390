"""Issue #5, item 3: NaN/inf losses in a real trinet_train run are skipped, counted and
logged; a run that keeps producing them stops with the likely causes."""

import logging
import math

import pytest
import torch

from espnet_trinet.bin.trinet_train import main as train_main
from espnet_trinet.monitor.nonfinite import NonFiniteLossError
from faulty_audio import make_utterances_extreme
from trinet_testing import MINI_CONF, epoch_stats, train_args, write_audio_dir

DATA2VEC = MINI_CONF / "pretrain_data2vec_tiny.yaml"
# one utterance per batch, so bad batches = bad utterances
ONE_PER_BATCH = ("--batch_type", "unsorted", "--batch_size", 1)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_bad_utterances_are_skipped_counted_and_logged(audio_dirs, tmp_path, caplog):
    train = write_audio_dir(tmp_path / "train", 8, seed=0)
    make_utterances_extreme(train, ["utt002", "utt005"])
    out = tmp_path / "exp"
    with caplog.at_level(logging.WARNING):
        train_main(train_args(DATA2VEC, out, train, audio_dirs[1], "--max_epoch", 2, *ONE_PER_BATCH,
                              "--model_conf", "max_nonfinite_in_a_row=5"))

    checkpoint = torch.load(out / "checkpoint.pth", weights_only=False)
    model = checkpoint["model"]
    # 2 epochs x (8 - 2) good batches were applied, 2 x 2 bad ones skipped
    assert int(model["num_updates"]) == 12
    assert int(model["nonfinite_guard.num_skipped_updates"]) == 4
    adam_steps = {int(state["step"]) for state in checkpoint["optimizers"][0]["state"].values()}
    assert adam_steps == {12}
    # no trace of the NaN batches: weights, EMA teacher and batch-norm running stats are finite
    for key, value in model.items():
        assert torch.isfinite(value.float()).all(), key

    stats = epoch_stats(out)
    for epoch in (1, 2):
        assert stats[epoch]["nonfinite_loss"] == pytest.approx(2 / 8)
        assert math.isfinite(stats[epoch]["loss"])  # the reporter leaves the NaN batches out
    assert all(math.isfinite(v["loss"]) for v in epoch_stats(out, "valid").values())

    skips = [r.getMessage() for r in caplog.records if r.getMessage().startswith("update skipped")]
    assert len(skips) == 4, skips
    bad_batches = sorted(m.split(" in batch ")[1].split()[0] for m in skips)
    assert bad_batches == ["[utt002]", "[utt002]", "[utt005]", "[utt005]"]
    assert all(m.startswith("update skipped: non-finite loss_struc, loss, pred_var, target_var") for m in skips)


def test_a_run_with_only_bad_batches_stops_after_the_limit(audio_dirs, tmp_path, caplog):
    train = write_audio_dir(tmp_path / "train", 4, seed=2)
    make_utterances_extreme(train, [f"utt{i:03d}" for i in range(4)])
    args = train_args(DATA2VEC, tmp_path / "exp", train, audio_dirs[1], "--max_epoch", 3, *ONE_PER_BATCH,
                      "--model_conf", "max_nonfinite_in_a_row=3")
    # In-process (an uncaught exception is the CLI's non-zero exit), saving an interpreter start.
    with caplog.at_level(logging.WARNING), pytest.raises(NonFiniteLossError) as error:
        train_main(args)
    message = str(error.value)
    assert message.startswith("3 optimizer updates in a row were skipped because the loss was not finite "
                              "(model_conf.max_nonfinite_in_a_row=3; 3 skipped in this run). The last one had "
                              "non-finite loss_struc, loss"), message
    assert "in batch [utt00" in message and "optim_conf.lr" in message
    assert sum(r.getMessage().startswith("update skipped") for r in caplog.records) == 3
    assert not (tmp_path / "exp" / "checkpoint.pth").exists()  # stopped inside epoch 1
