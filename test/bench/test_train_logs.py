"""Reading ESPnet training logs and checkpoints for the quality benchmark's curves and budget check."""

import math
import sys

import pytest
import torch

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from collapse_curves import mean_band  # noqa: E402
from train_logs import TrainLogError, interval_stats, parse_values, run_counts  # noqa: E402

PREFIX = "[vm] 2026-11-22 23:44:05,976 (trainer:811) INFO: "


def interval(epoch, first, last, target_var, eff_rank=50.0):
    # As ESPnet 202511 writes TriNet's stats (the monitored objective's target_var / pred_var, then
    # each objective's own), including the missing separator after ema_decay.
    return (f"{PREFIX}{epoch}epoch:train:{first}-{last}batch: iter_time=0.033, forward_time=0.954, "
            f"loss_struc=1.286, loss_regul=2.500, loss=3.786, target_var={target_var}, pred_var=3.940e-01, "
            f"pred_var_struc=3.940e-01, target_var_struc={target_var}, pred_var_regul=0.120, target_var_regul=0.700, "
            f"ema_decay=0.990eff_rank={eff_rank}, mask_ratio=0.486, nonfinite_loss=0.000e+00, clip=0.000e+00, "
            "optim0_lr0=2.667e-05, train_time=2.157")


def results(epoch, total):
    return (f"{PREFIX}{epoch}epoch results: [train] loss=1.2, target_var=0.9, time=10.84 seconds, "
            f"total_count={total}, [valid] loss=1.230, target_var=0.985, time=12.63 seconds, total_count={3 * total}")


def test_parse_values_reads_glued_entries_and_exponents():
    values = parse_values("ema_decay=0.990target_var=0.996, pred_var=3.940e-01, loss=nan, x=-1e+02, name=abc")
    assert values["ema_decay"] == 0.990 and values["target_var"] == 0.996
    assert values["pred_var"] == pytest.approx(0.394) and values["x"] == -100.0
    assert math.isnan(values["loss"]) and "name" not in values


def test_interval_stats_count_updates_across_epochs(tmp_path):
    # 12 batches per epoch, --log_interval 5: lines at batches 5 and 10; the last two batches of an
    # epoch are only in its results line (total_count).
    log = tmp_path / "train.log"
    log.write_text("\n".join([
        "unrelated line", interval(1, 1, 5, 0.99), interval(1, 6, 10, 0.98), results(1, 12),
        interval(2, 1, 5, 0.97, 40.0), interval(2, 6, 10, 0.96), results(2, 24),
    ]) + "\n")
    records = interval_stats(log)
    assert [r["update"] for r in records] == [5, 10, 17, 22]
    assert [r["epoch"] for r in records] == [1, 1, 2, 2]
    assert [r["target_var"] for r in records] == [0.99, 0.98, 0.97, 0.96]
    assert records[2]["eff_rank"] == 40.0 and records[0]["pred_var"] == pytest.approx(0.394)
    # Per-objective statistics are their own keys.
    regul = interval_stats(log, keys=("target_var_regul", "pred_var_regul", "loss_regul"))
    assert regul[0] == dict(update=5, epoch=1, target_var_regul=0.7, pred_var_regul=0.12, loss_regul=2.5)


def test_interval_stats_errors_name_the_log_and_the_problem(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(results(1, 12) + "\n")
    with pytest.raises(TrainLogError, match="no '<N>epoch:train:<a>-<b>batch:' lines; train with --log_interval"):
        interval_stats(log)
    log.write_text(interval(1, 1, 5, 0.9) + "\n")
    with pytest.raises(TrainLogError, match=r"train.log: epoch 1 batch 5 has no missing_stat"):
        interval_stats(log, keys=("target_var", "missing_stat"))
    # A resumed run whose log lacks the previous epoch's results cannot place its updates.
    log.write_text(interval(3, 1, 5, 0.9) + "\n")
    with pytest.raises(TrainLogError, match="epoch 3 is logged but epoch 2 has no results line"):
        interval_stats(log)


def test_run_counts_read_scheduler_steps_and_the_models_update_counter(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    state = dict(model.state_dict(), num_updates=torch.tensor(6))
    torch.save({"model": state, "schedulers": [scheduler.state_dict()], "reporter": {}}, tmp_path / "checkpoint.pth")
    assert run_counts(tmp_path) == {"batches": 7, "num_updates": 6}
    torch.save({"model": model.state_dict(), "schedulers": [scheduler.state_dict()]}, tmp_path / "checkpoint.pth")
    assert run_counts(tmp_path) == {"batches": 7}


def test_mean_band_uses_the_updates_every_seed_logged():
    runs = [[{"update": 5, "v": 1.0}, {"update": 10, "v": 3.0}],
            [{"update": 5, "v": 2.0}, {"update": 10, "v": 5.0}, {"update": 15, "v": 9.0}]]
    assert mean_band(runs, "v") == {"update": [5, 10], "mean": [1.5, 4.0], "min": [1.0, 3.0], "max": [2.0, 5.0]}


def test_collapse_curves_follow_the_models_of_the_table(tmp_path):
    from collapse_curves import COLOURS, load_curves, summary_lines, title
    from quality_cells import SSL_MODELS, Layout

    assert list(COLOURS) == list(SSL_MODELS) and len(set(COLOURS.values())) == len(COLOURS)
    layout = Layout(tmp_path)
    for seed in (0, 1):
        for key in ("data2vec", "trinet_random"):  # the other models have no logs: left out
            log = layout.ssl_dir(seed, key) / "train.log"
            log.parent.mkdir(parents=True)
            log.write_text("\n".join([interval(1, 1, 5, 0.9 + seed / 100), results(1, 8)]) + "\n")
    assert layout.ssl_dir(0, "trinet_random") == tmp_path / "seed0/egs2/mini_synth/trinet1/exp/trinet_random/ssl_trinet_bench"
    curves = load_curves(layout, [0, 1])
    assert list(curves) == ["data2vec", "trinet_random"]
    assert curves["trinet_random"]["target_var"]["mean"] == [pytest.approx(0.905)]
    assert summary_lines(curves, [0, 1])[2].startswith("| data2vec | target_var | 0.905 |")
    assert any(line.startswith("| TriNet (random) | eff_rank |") for line in summary_lines(curves, [0, 1]))
    assert title(curves, [0, 1]) == ("Pretraining statistics on training batches, at each model's struc tap "
                                     "(data2vec: block N, trinet: block N-1); mean of seeds 0, 1, band = min-max")
