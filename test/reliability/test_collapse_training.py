"""Issue #5, item 3: the collapse guard stops a real trinet_train run that collapses,
in one process and on two DDP ranks."""

import pytest

from espnet_trinet.bin.trinet_train import main as train_main
from espnet_trinet.monitor.collapse import CollapseError
from trinet_testing import MINI_CONF, train_args
from two_ranks_testing import run_ranks_to_the_end

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

# A deliberately collapsing optimizer: AdamW's decoupled weight decay with
# lr * weight_decay = 1 sets every weight to 0 in one update, and eps = 1e10 makes the
# gradient step negligible, so after the first update the student's output is a
# constant. (A merely huge learning rate does not collapse this model within a few
# updates: its loss explodes towards inf instead, which the non-finite guard handles.)
WIPE_OUT = ("--optim_conf", "lr=1.0", "--optim_conf", "weight_decay=1.0", "--optim_conf", "eps=1.0e+10",
            "--scheduler", "none")


def test_collapsing_run_stops_with_the_guard_message(audio_dirs, tmp_path):
    out = tmp_path / "exp"
    args = train_args(MINI_CONF / "pretrain_data2vec_tiny.yaml", out, *audio_dirs, "--max_epoch", 3, *WIPE_OUT,
                      "--model_conf", "collapse_guard.warmup_updates=1")
    with pytest.raises(CollapseError) as error:
        train_main(args)
    message = str(error.value)
    # the second batch of epoch 1 comes after the first (wiping) update
    assert message.startswith("representation collapse after 1 updates: pred_var=0.001 < 0.01"), message
    for fix in ("lower optim_conf.lr", "decay_start", "resume from an earlier checkpoint",
                "model_conf.collapse_guard"):
        assert fix in message, fix
    assert not (out / "checkpoint.pth").exists()  # stopped inside epoch 1, before anything was saved



def test_both_ranks_stop_together(audio_dirs, tmp_path):
    # A rank that raised alone would leave the other waiting in DDP's next all-reduce (or
    # dying of a lost connection): the guard judges the stats averaged over the ranks.
    args = train_args(MINI_CONF / "pretrain_data2vec_tiny.yaml", tmp_path / "exp", *audio_dirs, "--max_epoch", 3,
                      *WIPE_OUT, "--model_conf", "collapse_guard.warmup_updates=1")
    errors = run_ranks_to_the_end(args, 2, tmp_path, timeout_s=120)
    last_lines = [error.strip().splitlines()[-1] for error in errors]
    assert last_lines[0] == last_lines[1], last_lines
    assert last_lines[0].startswith("espnet_trinet.monitor.collapse.CollapseError: representation collapse after "
                                    "1 updates: pred_var=0.001 < 0.01"), last_lines[0]
