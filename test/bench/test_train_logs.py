"""Reading ESPnet training logs and checkpoints for the quality benchmark's curves and budget check."""

import json
import math
import sys

import pytest
import torch

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
import collapse_curves  # noqa: E402
from collapse_curves import mean_band  # noqa: E402
from quality_cells import Layout  # noqa: E402
from train_logs import TrainLogError, interval_stats, logged_stats, parse_values, run_counts, run_logs  # noqa: E402

PREFIX = "[vm] 2026-11-22 23:44:05,976 (trainer:811) INFO: "


def interval(epoch, first, last, target_var, eff_rank=50.0):
    # As ESPnet 202511 writes TriNet's stats (the monitored objective's target_var / pred_var, then
    # each objective's own), including the missing separator after ema_decay.
    return (f"{PREFIX}{epoch}epoch:train:{first}-{last}batch: iter_time=0.033, forward_time=0.954, "
            f"loss_struc=1.286, loss_regul=2.500, loss=3.786, target_var={target_var}, pred_var=3.940e-01, "
            f"pred_var_struc=3.940e-01, target_var_struc={target_var}, pred_var_regul=0.120, target_var_regul=0.700, "
            f"ema_decay=0.990eff_rank={eff_rank}, mask_ratio=0.486, nonfinite_loss=0.000e+00, clip=0.000e+00, "
            "optim0_lr0=2.667e-05, train_time=2.157")


def dinosr_interval(epoch, first, last, codebook_ppl, pred_var=0.4):
    # DinoSR's log (its codebook heads report pred_ppl / pred_var, no target spread; its online
    # codebooks codebook_ppl), glued entries included.
    return (f"{PREFIX}{epoch}epoch:train:{first}-{last}batch: iter_time=0.011, forward_time=0.167, "
            f"loss_codebook=4.298, loss=4.298, pred_ppl=58.796, pred_var={pred_var}, pred_ppl_codebook=58.796, "
            f"pred_var_codebook={pred_var}, ema_decay=0.990, codebook_ppl={codebook_ppl}dead_codewords=48.765, "
            "eff_rank=83.682, mask_ratio=0.563, nonfinite_loss=0.000e+00, optim0_lr0=4.333e-05, train_time=0.303")


def aqc_interval(epoch, first, last, code_ppl, target_var=0.567):
    # data2vec-aqc's log: data2vec's spreads, the cross-contrastive objective's, the quantiser's.
    return (f"{PREFIX}{epoch}epoch:train:{first}-{last}batch: iter_time=0.038, loss_struc=0.680, loss_ccl=8.996, "
            f"loss_diversity=0.085, loss=11.269, pred_var=0.409, target_var={target_var}, pred_var_struc=0.409"
            f"target_var_struc={target_var}, pred_var_ccl=0.412, ema_decay=0.990, code_ppl={code_ppl}, "
            "prob_ppl=95.752, temp=1.962, diversity=0.850, code_ppl_student=28.807, feature_pen=0.601, "
            "eff_rank=82.226, mask_ratio=0.485, nonfinite_loss=0.000e+00, train_time=0.525")


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


def test_interval_stats_of_a_resumed_run_read_its_rotated_logs(tmp_path):
    # Killed during epoch 3 and resumed: ESPnet's launcher moved train.log to train.1.log, and the
    # resumed run repeats epoch 3. train.2.log is an earlier fresh run in the same dir (starts at
    # epoch 1 in train.1.log's successor chain), so it is not read.
    (tmp_path / "train.2.log").write_text("\n".join([interval(1, 1, 5, 0.5), results(1, 12)]) + "\n")
    (tmp_path / "train.1.log").write_text("\n".join([
        interval(1, 1, 5, 0.99), results(1, 12), interval(2, 1, 5, 0.97), results(2, 24),
        interval(3, 1, 5, 0.11),  # cut short
    ]) + "\n")
    log = tmp_path / "train.log"
    log.write_text("\n".join([interval(3, 1, 5, 0.95), interval(3, 6, 10, 0.94), results(3, 36)]) + "\n")
    assert run_logs(log) == [tmp_path / "train.1.log", log]
    records = interval_stats(log)
    assert [r["update"] for r in records] == [5, 17, 29, 34]
    assert [r["target_var"] for r in records] == [0.99, 0.97, 0.95, 0.94]
    # Without train.1.log, epoch 3 cannot be placed (the error the chain avoids), and train.2.log,
    # after the gap, is not taken for its predecessor.
    (tmp_path / "train.1.log").unlink()
    assert run_logs(log) == [log]
    with pytest.raises(TrainLogError, match="epoch 3 is logged but epoch 2 has no results line"):
        interval_stats(log)


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


def test_logged_stats_are_the_keys_of_the_first_interval_line(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(["unrelated", dinosr_interval(1, 1, 5, 16.4), aqc_interval(1, 6, 10, 85.4)]) + "\n")
    keys = logged_stats(log)
    assert "codebook_ppl" in keys and "dead_codewords" in keys and "pred_var_codebook" in keys
    assert "target_var" not in keys and "code_ppl" not in keys
    log.write_text(results(1, 12) + "\n")
    with pytest.raises(TrainLogError, match="no '<N>epoch:train:<a>-<b>batch:' lines"):
        logged_stats(log)


def write_fake_logs(layout, seeds):
    """train.logs of data2vec, DinoSR, data2vec-aqc and TriNet (random) in every seed, placed where
    the layout puts each model's pretraining; the other models have none."""
    for seed in seeds:
        for key, lines in (
            ("data2vec", [interval(1, 1, 5, 0.9 + seed / 100), interval(1, 6, 10, 0.8 + seed / 100)]),
            ("dinosr", [dinosr_interval(1, 1, 5, 16.0 + seed), dinosr_interval(1, 6, 10, 12.0 + seed)]),
            ("d2v_aqc", [aqc_interval(1, 1, 5, 85.0 + 2 * seed), aqc_interval(1, 6, 10, 40.0 + 2 * seed)]),
            ("trinet_random", [interval(1, 1, 5, 0.7), interval(1, 6, 10, 0.6)]),
        ):
            log = layout.ssl_dir(seed, key) / "train.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("\n".join(lines + [results(1, 12)]) + "\n")


def test_collapse_curves_palette_covers_every_ssl_model():
    from methods import SSL_MODELS

    assert list(collapse_curves.COLOURS) == list(SSL_MODELS) and len(set(collapse_curves.COLOURS.values())) == len(
        SSL_MODELS)
    assert "scratch" not in collapse_curves.DEFAULT_MODELS
    assert "trinet_regression" not in collapse_curves.DEFAULT_MODELS and "d2v_aqc" in collapse_curves.DEFAULT_MODELS


def test_collapse_curves_plot_what_each_models_log_reports(tmp_path):
    from collapse_curves import load_curves, logged_lines, summary_lines, title

    layout = Layout(tmp_path, "main")
    write_fake_logs(layout, (0, 1))
    curves = load_curves(layout, [0, 1], ["scratch", "data2vec", "dinosr", "d2v_aqc", "trinet_random", "trinet_ctc"])
    # No pretraining has no curves; trinet_ctc has no logs.
    assert list(curves) == ["data2vec", "dinosr", "d2v_aqc", "trinet_random"]
    assert set(curves["data2vec"]) == {"target_var", "pred_var", "eff_rank"}  # no codebook
    assert set(curves["dinosr"]) == {"pred_var", "eff_rank", "codebook_ppl"}  # no target spread
    assert curves["dinosr"]["codebook_ppl"]["stat"] == "codebook_ppl"
    assert curves["d2v_aqc"]["codebook_ppl"]["stat"] == "code_ppl"
    assert curves["d2v_aqc"]["codebook_ppl"]["mean"] == [pytest.approx(86.0), pytest.approx(41.0)]
    assert curves["dinosr"]["codebook_ppl"] == dict(stat="codebook_ppl", update=[5, 10], mean=[16.5, 12.5],
                                                    min=[16.0, 12.0], max=[17.0, 13.0])
    assert curves["data2vec"]["target_var"]["mean"] == [pytest.approx(0.905), pytest.approx(0.805)]

    logged = logged_lines(curves)
    assert logged[0] == "| model | method | target_var | pred_var | eff_rank | codebook_ppl |"
    assert "| DinoSR | dinosr | - | `pred_var` | `eff_rank` | `codebook_ppl` |" in logged
    assert "| data2vec-aqc | d2v_aqc | `target_var` | `pred_var` | `eff_rank` | `code_ppl` |" in logged
    assert "| data2vec | data2vec | `target_var` | `pred_var` | `eff_rank` | - |" in logged

    summary = summary_lines(curves, [0, 1])
    assert "| data2vec | target_var | 5 | 0.905 (0.900-0.910) | 0.805 | 10 | 0.805 (0.800-0.810) |" in summary
    assert "| DinoSR | codebook_ppl | 5 | 16.500 (16.000-17.000) | 12.500 | 10 | 12.500 (12.000-13.000) |" in summary
    assert not any(line.startswith("| DinoSR | target_var") for line in summary)
    assert "| data2vec | target_var | 5 | 0.900 | 0.800 | 10 | 0.800 |" in summary_lines(
        load_curves(layout, [0], ["data2vec"]), [0])
    assert title(curves, [0, 1]).startswith("Pretraining statistics on training batches, at each model's struc tap "
                                            "(data2vec: block N, dinosr: block N, d2v_aqc: block N, "
                                            "trinet: block N-1); mean of seeds 0, 1")


def test_collapse_curves_main_writes_the_chosen_corpus_to_the_chosen_output(tmp_path):
    work = tmp_path / "work"
    write_fake_logs(Layout(work, "large"), (0, 1))
    out = tmp_path / "results" / "collapse_curves_large"
    assert collapse_curves.main(["--work_dir", str(work), "--corpus", "large", "--seeds", "0", "1",
                                 "--output", str(out)]) == 0
    md = out.with_suffix(".md").read_text()
    assert "| DinoSR | dinosr | - | `pred_var` | `eff_rank` | `codebook_ppl` |" in md
    # The default selection: the compared SSL models; those without logs are named.
    assert ("No train.log in every seed: MT4SSL, data2vec 2.0, TriNet (ctc), TriNet (random, reference loss "
            "weighting), TriNet on data2vec 2.0's student (ctc).") in md
    payload = json.loads(out.with_suffix(".json").read_text())
    assert payload["corpus"] == "large" and payload["models"] == ["data2vec", "dinosr", "d2v_aqc", "trinet_random"]
    assert payload["logged"]["d2v_aqc"]["codebook_ppl"] == "code_ppl"
    assert out.with_suffix(".png").stat().st_size > 0
    assert collapse_curves.main(["--work_dir", str(work), "--corpus", "large", "--seeds", "3",
                                 "--output", str(out)]) == 1  # no logs of seed 3
    assert collapse_curves.main(["--work_dir", str(work), "--seeds", "0", "1",
                                 "--output", str(out)]) == 1  # nor of the main corpus
