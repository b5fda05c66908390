"""The side-by-side benchmark's plan: every model gets the same budget (or the same time), TriNet
the teacher of its seed and corpus, the FSDD fine-tunings the pretrained encoders of the
synthetic runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from methods import COMPARED, MODEL_TABLE, BenchModel  # noqa: E402
from quality_cells import (  # noqa: E402
    DECODE_CONFIG, FSDD_DATA, FSDD_TEST, INFERENCE_TAG, LM_DECODE_CONFIG, LM_INFERENCE_TAG, LM_NAME, MODELS, UPDATES,
    Budget, Layout, base_cells, check_models, fsdd_cells, link_into, seed_cells, synth_cells, wallclock_iters,
)

TRINETS = ("trinet_ctc", "trinet_random", "trinet_reference", "trinet2")
INDEPENDENT = ("mt4ssl", "dinosr", "data2vec2", "d2v_aqc")


def option(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_the_table_holds_every_method_and_the_configs_say_which_need_a_teacher():
    assert [(m.key, m.method) for m in MODEL_TABLE] == [
        ("scratch", None), ("data2vec", "data2vec"), ("mt4ssl", "mt4ssl"), ("dinosr", "dinosr"),
        ("data2vec2", "data2vec2"), ("d2v_aqc", "d2v_aqc"), ("trinet_ctc", "trinet"), ("trinet_random", "trinet"),
        ("trinet_reference", "trinet"), ("trinet_regression", "trinet"), ("trinet2", "trinet2")]
    assert COMPARED == tuple(k for k in MODELS if k != "trinet_regression")
    assert BenchModel("x", "x", "trinet", ("--frozen_projector", "random")).recipe_option("frozen_projector") == \
        "random"
    from methods import frozen_label, independent, needs_teacher, teacher_model

    assert [k for k in COMPARED if needs_teacher(k)] == list(TRINETS)
    assert independent(COMPARED) == ["data2vec", *INDEPENDENT]
    assert teacher_model(COMPARED) == "data2vec" and teacher_model(["scratch", "data2vec"]) is None
    # The recipe's reading of the config with the model's own options, as trinet.sh's RESULTS.md label.
    assert [frozen_label(k) for k in TRINETS] == ["ctc, offline", "random, offline", "random, offline",
                                                  "ctc, offline"]


def test_every_model_of_a_seed_gets_the_same_pretraining_and_fine_tuning_options(tmp_path):
    budget = Budget(seeds=[3], pretrain_args="--max_epoch 4", finetune_args="--max_epoch 9",
                    fsdd_finetune_args="--max_epoch 7", log_interval=2)
    cells = {c.name: c for c in seed_cells(Layout(tmp_path), budget, 3, with_fsdd=True, models=COMPARED)}
    assert list(cells) == ["seed3/d2v", *(f"seed3/{m}" for m in INDEPENDENT + TRINETS)] + \
        [f"seed3/fsdd_{m}" for m in COMPARED]
    d2v = cells["seed3/d2v"].commands[0]
    same = "--seed 3 --log_interval 2 --num_iters_per_epoch 39 --max_epoch 4"
    assert option(d2v, "--ssl_methods") == "data2vec" and option(d2v, "--expdir") == "exp/d2v"
    assert option(d2v, "--ssl_args") == same and option(d2v, "--asr_args") == "--seed 3 --max_epoch 9"
    assert option(d2v, "--scratch_baseline") == "true"
    # Fixed dir names whatever the budget; every stage 11 decodes greedily and with the LM.
    assert (option(d2v, "--ssl_tag"), option(d2v, "--asr_tag"), option(d2v, "--use_lm")) == ("bench", "bench", "true")
    assert (option(d2v, "--stage"), option(d2v, "--stop_stage")) == ("7", "11")
    for m in INDEPENDENT:
        cmd = cells[f"seed3/{m}"].commands[0]
        assert (option(cmd, "--stage"), option(cmd, "--stop_stage")) == ("7", "11")
        assert option(cmd, "--ssl_methods") == m and option(cmd, "--expdir") == f"exp/{m}"
        assert option(cmd, "--ssl_args") == same and option(cmd, "--asr_args") == option(d2v, "--asr_args")
        assert option(cmd, "--scratch_baseline") == "false"
    for key in TRINETS:
        cmd = cells[f"seed3/{key}"].commands[0]
        method = "trinet2" if key == "trinet2" else "trinet"
        assert (option(cmd, "--stage"), option(cmd, "--stop_stage")) == ("9", "11")
        assert option(cmd, "--ssl_methods") == f"data2vec {method}" and option(cmd, "--teacher_method") == "data2vec"
        # The same pretraining options as data2vec, the random projection follows the seed, the
        # reference weighting is the variant's own option.
        extra = " --model_conf loss_normalization=reference" if key == "trinet_reference" else ""
        assert option(cmd, "--ssl_args") == same + " --target_conf frozen.seed=3" + extra
        assert option(cmd, "--asr_args") == option(d2v, "--asr_args")
        # It decodes d2v's teacher and takes it from there: their done markers must see the same options.
        for name in ("--ssl_tag", "--asr_tag", "--use_lm"):
            assert option(cmd, name) == option(d2v, name)
        assert option(cmd, "--expdir") == f"exp/{key}"
    assert option(cells["seed3/trinet_random"].commands[0], "--frozen_projector") == "random"
    assert option(cells["seed3/trinet_reference"].commands[0], "--frozen_projector") == "random"
    inits = {}
    for m in COMPARED:
        cmd = cells[f"seed3/fsdd_{m}"].commands[0]
        assert option(cmd, "--asr_args") == "--seed 3 --max_epoch 7" and option(cmd, "--test_sets") == FSDD_TEST
        assert option(cmd, "--use_lm") == "false" and option(cmd, "--asr_tag") == m
        inits[m] = option(cmd, "--pretrained_model") if "--pretrained_model" in cmd else None
    assert inits["scratch"] is None
    assert inits["data2vec"] == "exp/d2v/ssl_data2vec_bench/valid.loss.ave.pth:encoder:encoder"
    assert inits["d2v_aqc"] == "exp/d2v_aqc/ssl_d2v_aqc_bench/valid.loss.ave.pth:encoder:encoder"
    assert inits["trinet2"] == "exp/trinet2/ssl_trinet2_bench/valid.loss.ave.pth:encoder:encoder"


def test_equal_wall_clock_gives_each_slower_or_faster_model_its_own_run(tmp_path):
    # Step-time ratios to data2vec -> updates per epoch; within rounding of 39, the equal-budget run is it.
    iters = wallclock_iters({"data2vec": 1.0, "trinet_ctc": 1.09, "d2v_aqc": 1.77, "data2vec2": 0.8})
    assert iters == {"d2v_aqc": 22, "data2vec2": 49}  # TriNet's 1.09 is within the measurement's resolution
    assert wallclock_iters({"trinet_ctc": 1.09}, tolerance=0.05) == {"trinet_ctc": 36}
    with pytest.raises(ValueError, match="must be positive"):
        wallclock_iters({"x": 0.0})
    budget = Budget(seeds=[0], wallclock_iters=iters)
    layout = Layout(tmp_path, "main", iters)
    cells = {c.name: c for c in synth_cells(layout, budget, 0, ["scratch", "data2vec", "d2v_aqc", "data2vec2",
                                                                "trinet_ctc"], "wallclock")}
    assert list(cells) == ["seed0/d2v_aqc_wallclock", "seed0/data2vec2_wallclock"]
    cmd = cells["seed0/d2v_aqc_wallclock"].commands[0]
    assert option(cmd, "--expdir") == "exp/d2v_aqc_wallclock" and "--num_iters_per_epoch 22" in option(cmd, "--ssl_args")
    # The others' equal-time results are their equal-budget ones.
    assert layout.asr_dir(0, "trinet_ctc", budget="wallclock") == layout.asr_dir(0, "trinet_ctc")
    assert layout.ssl_dir(0, "d2v_aqc", "wallclock") == layout.seed(0) / "exp/d2v_aqc_wallclock/ssl_d2v_aqc_bench"
    assert UPDATES == 468


def test_the_cells_follow_the_model_list(tmp_path):
    layout = Layout(tmp_path)
    cells = {c.name: c for c in seed_cells(layout, Budget(), 0, with_fsdd=True, models=["data2vec", "trinet_random"])}
    assert list(cells) == ["seed0/d2v", "seed0/trinet_random", "seed0/fsdd_data2vec", "seed0/fsdd_trinet_random"]
    assert option(cells["seed0/d2v"].commands[0], "--scratch_baseline") == "false"
    cells = [c.name for c in seed_cells(layout, Budget(), 0, with_fsdd=False, models=["scratch", "data2vec"])]
    assert cells == ["seed0/d2v"]
    with pytest.raises(ValueError, match="need a fine-tuned frozen teacher"):
        check_models(["scratch", "trinet_ctc"])
    with pytest.raises(ValueError, match="the benchmark's is 'data2vec'"):
        check_models(["mt4ssl", "trinet_ctc"])
    with pytest.raises(ValueError, match="unknown model 'hubert'"):
        check_models(["hubert"])


def test_other_cells_link_the_teacher_statistics_and_lm_of_their_own_seed(tmp_path):
    layout = Layout(tmp_path, "large")
    assert layout.seed(1) == tmp_path / "large" / "seed1" / "egs2" / "mini_synth" / "trinet1"
    assert layout.done("seed1/d2v") == tmp_path / "done" / "large_seed1_d2v.json"
    cells = {c.name: c for c in seed_cells(layout, Budget(), 1, with_fsdd=False, models=COMPARED)}
    d2v = layout.expdir(1, "data2vec")
    assert d2v == layout.seed(1) / "exp" / "d2v" == layout.expdir(1, "scratch")
    layout.seed(1).mkdir(parents=True)  # as if copy_base had run
    shared = ("ssl_stats_16000", "asr_stats_raw_en_char", LM_NAME)
    teacher = ("ssl_data2vec_bench", "asr_data2vec_bench_bench")
    for name in shared + teacher:
        (d2v / name).mkdir(parents=True)
    for key, names in (("trinet_random", shared + teacher), ("mt4ssl", shared)):
        cells[f"seed1/{key}"].setup()
        cells[f"seed1/{key}"].setup()  # again: a re-run finds the links in place
        exp = layout.expdir(1, key)
        assert sorted(p.name for p in exp.iterdir()) == sorted(names)
        for name in names:
            assert (exp / name).resolve() == (d2v / name).resolve()
    exp = layout.expdir(1, "trinet_random")
    assert layout.asr_dir(1, "data2vec") == d2v / "asr_data2vec_bench_bench"
    assert layout.asr_dir(1, "scratch") == d2v / "asr_scratch_bench"
    assert layout.asr_dir(1, "trinet_random") == exp / "asr_trinet_bench_bench"
    assert layout.ssl_dir(1, "mt4ssl") == layout.seed(1) / "exp" / "mt4ssl" / "ssl_mt4ssl_bench"
    assert layout.scores(1, "scratch", FSDD_TEST, "cer") == layout.seed(1) / "exp/fsdd/asr_scratch" / \
        "decode_ctc_greedy_asr_model_valid.cer_ctc.ave/fsdd_test/score_cer/scores.json"
    assert layout.scores(1, "data2vec", "test", "wer", "lm") == d2v / "asr_data2vec_bench_bench" / \
        LM_INFERENCE_TAG / "test" / "score_wer" / "scores.json"
    with pytest.raises(ValueError, match="no SSL experiment"):
        layout.ssl_dir(1, "scratch")
    with pytest.raises(ValueError, match="unknown corpus"):
        Layout(tmp_path, "huge")


def test_base_cells_make_each_corpus_with_its_lm_and_subset_fsdd(tmp_path):
    main, large = Layout(tmp_path, "main"), Layout(tmp_path, "large")
    recipe = base_cells(main, Budget(), None)
    assert [c.name for c in recipe] == ["base/recipe"]
    cmd = recipe[0].commands[0]
    assert option(cmd, "--ssl_methods") == "data2vec mt4ssl dinosr data2vec2 d2v_aqc trinet trinet2"
    assert option(cmd, "--use_lm") == "true" and option(cmd, "--local_data_opts") == ""  # stage 5 trains the LM
    assert option(base_cells(large, Budget(), None)[0].commands[0], "--local_data_opts") == \
        "--num_extra_train_speakers 32"
    assert base_cells(large, Budget(), None)[0].cwd == tmp_path / "large" / "base" / "egs2/mini_synth/trinet1"
    cells = base_cells(main, Budget(fsdd_train_utts=50), Path("/data/fsdd"))
    fsdd = cells[1].commands
    assert option(fsdd[-1], "--use_lm") == "false" and option(fsdd[-1], "--stage") == "5"  # FSDD's token list
    subset = next(c for c in fsdd if "--num_random" in c)
    assert option(subset, "--num_random") == "50" and option(subset, "--out_dir") == "data/fsdd/train_subset"
    filters = {option(c, "--out_dir"): option(c, "--max_sec") for c in fsdd if "espnet_trinet.bin.filter_datadir" in c}
    assert filters["dump/raw/fsdd_test"] == "100000"  # the test set keeps every utterance
    assert [c.name for c in fsdd_cells(main, Budget(), 0, ["scratch", "dinosr"])] == ["seed0/fsdd_scratch",
                                                                                     "seed0/fsdd_dinosr"]


def test_fsdd_cells_bring_base_fsdd_data_into_a_seed_copied_without_it(tmp_path):
    # The benchmark ran in parts: the seed was copied in a --no_fsdd run, base/fsdd came later.
    layout = Layout(tmp_path)
    cell = fsdd_cells(layout, Budget(), 0, ["scratch"])[0]
    (layout.seed(0) / "dump" / "raw" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="base/fsdd cell of main did not make it"):
        cell.setup()
    for name in FSDD_DATA:
        (layout.base() / name).mkdir(parents=True)
        (layout.base() / name / "wav.scp").write_text(f"{name} base\n")
    (layout.seed(0) / "dump" / "raw" / "fsdd_test").mkdir()  # already there: kept, not replaced
    (layout.seed(0) / "dump" / "raw" / "fsdd_test" / "wav.scp").write_text("seed's own\n")
    cell.setup()
    cell.setup()  # again: a no-op
    for name in FSDD_DATA:
        text = (layout.seed(0) / name / "wav.scp").read_text()
        assert text == ("seed's own\n" if name == "dump/raw/fsdd_test" else f"{name} base\n")
    # Every dir the cell's asr.sh reads, and every dir base/fsdd formats, is among those copied.
    cmd = cell.commands[0]
    read = [option(cmd, "--token_listdir")] + [f"dump/raw/{option(cmd, o)}" for o in ("--train_set", "--valid_set",
                                                                                       "--test_sets")]
    made = [option(c, "--out_dir") for c in base_cells(layout, Budget(), Path("/data/fsdd"))[1].commands
            if "espnet_trinet.bin.format_datadir" in c or "espnet_trinet.bin.filter_datadir" in c]
    assert set(read + made) == set(FSDD_DATA)
    assert not list(layout.seed(0).rglob("*.partial"))


def test_the_dirs_read_are_those_the_recipe_names():
    names = REPO / "egs2" / "TEMPLATE" / "utils" / "exp_names.sh"

    def sh(line):
        return subprocess.run(["bash", "-c", f'. "{names}" && {line}'], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert sh(f'decode_dir_name {DECODE_CONFIG} "" "" valid.cer_ctc.ave.pth') == INFERENCE_TAG
    assert sh('lm_dir_name conf/train_lm_tiny.yaml en char ""') == LM_NAME
    assert sh(f"decode_dir_name {LM_DECODE_CONFIG} exp/d2v/{LM_NAME} valid.loss.ave.pth valid.cer_ctc.ave.pth") == \
        LM_INFERENCE_TAG
    run_sh = (REPO / "egs2" / "mini_synth" / "trinet1" / "run.sh").read_text()
    assert "--lm_config conf/train_lm_tiny.yaml" in run_sh and f"--lm_inference_config {LM_DECODE_CONFIG}" in run_sh


def test_link_into_makes_relative_links(tmp_path):
    (tmp_path / "a" / "x").mkdir(parents=True)
    link_into(tmp_path / "b", tmp_path / "a", ["x"])
    assert str((tmp_path / "b" / "x").readlink()) == "../a/x"


def test_a_cell_runs_again_when_its_commands_changed(tmp_path, capsys):
    import quality
    from quality_cells import Cell

    layout = Layout(tmp_path)
    out = tmp_path / "out.txt"
    cell = Cell("seed0/x", tmp_path, [["bash", "-c", f"echo a >> {out}"]])
    quality.run_cell(cell, layout)
    assert quality.run_cell(cell, layout)["skipped"] and out.read_text() == "a\n"
    changed = Cell("seed0/x", tmp_path, [["bash", "-c", f"echo b >> {out}"]])
    info = quality.run_cell(changed, layout)
    assert "skipped" not in info and out.read_text() == "a\nb\n"
    assert json.loads(layout.done("seed0/x").read_text())["commands"] == [f"bash -c 'echo b >> {out}'"]
    assert "its commands changed" in capsys.readouterr().out
    with pytest.raises(quality.CellFailed, match="seed0/y failed"):
        quality.run_cell(Cell("seed0/y", tmp_path, [["false"]]), layout)
    assert not layout.done("seed0/y").exists()


def test_the_report_compares_every_model_with_none_and_with_data2vec(tmp_path):
    import quality

    pairs = quality.comparison_pairs(COMPARED)
    ssl = [k for k in COMPARED if k != "scratch"]
    assert pairs == [(k, "scratch") for k in ssl] + [(k, "data2vec") for k in ssl if k != "data2vec"]
    output = tmp_path / "results" / "quality"
    text = quality.report(tmp_path / "work", Budget(seeds=[0]), "python bench/quality.py", [], output,
                          None, tmp_path / "fsdd", models=["scratch", "data2vec", "trinet_reference"],
                          budgets=["updates"])
    assert "- no finished runs" in text and output.with_suffix(".json").exists()
    assert "TriNet (random, reference loss weighting): + `--model_conf loss_normalization=reference`" in text
    assert "the CTC fine-tuned data2vec of the same seed and corpus" in text


def test_the_report_reads_scores_of_both_decodings_and_ranks_beyond_the_spread(tmp_path):
    import quality

    work = tmp_path / "work"
    layout = Layout(work, "main")
    values = {"scratch": (50.0, 51.0), "data2vec": (45.0, 46.0), "mt4ssl": (49.0, 52.0)}
    for key, cers in values.items():
        for seed, cer in enumerate(cers):
            for decoding, shift in (("greedy", 0.0), ("lm", -3.0)):
                for unit in ("wer", "cer"):
                    path = layout.scores(seed, key, "test", unit, decoding)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps({"error_rate": cer + shift + (50 if unit == "wer" else 0),
                                                "ref": 100}))
    text = quality.report(work, Budget(seeds=[0, 1]), "cmd", [], tmp_path / "q", None, tmp_path / "fsdd",
                          models=list(values), corpora=["main"], budgets=["updates"])
    assert "embedded corpus, test (unseen voices and sentences): greedy CTC" in text
    assert "CTC + LM" in text
    assert "- best CER: data2vec 45.5 (45.0-46.0); ahead of no pretraining, MT4SSL beyond the seed spread" in text
    assert "- best CER: data2vec 42.5 (42.0-43.0)" in text  # with the LM
    assert "data2vec vs no pretraining, CER: 5.0 points lower (better), larger than the seed spread" in text
    assert "| data2vec | +5.0 |" in text  # the gain over none
    assert f"FSDD was skipped: no recordings in {tmp_path / 'fsdd'} (--fsdd_dir)." in text
    left_out = quality.report(work, Budget(seeds=[0, 1]), "cmd", [], tmp_path / "q", None, None,
                              models=list(values), corpora=["main"], budgets=["updates"])
    assert "FSDD fine-tunings were left out (--no_fsdd)." in left_out and "FSDD was skipped" not in left_out
    cells = [dict(cell=f"main/seed{s}/d2v", code="abc1234", wall_s=60.0, commands=[]) for s in (0, 1)]
    with_cells = quality.report(work, Budget(seeds=[0, 1]), "cmd", cells, tmp_path / "q", None, None,
                                models=list(values), corpora=["main"], budgets=["updates"])
    assert "Every cell ran at git abc1234." in with_cells


def test_a_longer_budget_stretches_every_update_based_schedule_of_the_configs(tmp_path):
    from methods import stretched_schedule_args

    assert stretched_schedule_args("data2vec2", 1) == []
    assert stretched_schedule_args("data2vec2", 3) == [
        "--target_conf ema.anneal_updates=1200", "--scheduler_conf warmup_steps=450",
        "--scheduler_conf first_cycle_steps=1404"]  # the cosine would restart after 468 updates
    assert "--target_conf codebooks.freeze_teacher_after=750" in stretched_schedule_args("dinosr", 3)
    # A per-update decay factor d becomes d ** (1/3): the temperature ends where it did, 3x later.
    assert "--target_conf codes.temperature=[2.0,0.5,0.99866488]" in stretched_schedule_args("d2v_aqc", 3)
    with pytest.raises(ValueError, match="must be positive"):
        stretched_schedule_args("data2vec", 0)
    budget = Budget(seeds=[0], iters_per_epoch=117, schedule_scale=3)
    cells = {c.name: c for c in synth_cells(Layout(tmp_path), budget, 0, ["scratch", "data2vec", "dinosr",
                                                                          "trinet_ctc"])}
    d2v = option(cells["seed0/d2v"].commands[0], "--ssl_args")
    assert d2v == ("--seed 0 --log_interval 5 --num_iters_per_epoch 117 --target_conf ema.anneal_updates=1200 "
                   "--scheduler_conf warmup_steps=450")
    # TriNet's cell also names data2vec: the stretched EMA schedule is the same for both.
    assert option(cells["seed0/trinet_ctc"].commands[0], "--ssl_args") == d2v + " --target_conf frozen.seed=0"
    assert "codebooks.freeze_teacher_after=750" in option(cells["seed0/dinosr"].commands[0], "--ssl_args")
    assert Budget().schedule_scale == 1


@pytest.mark.slow
def test_the_stretched_options_reach_the_task_config():
    """What trinet_train makes of them: the config's values replaced, the rest of each dict kept."""
    import shlex

    from methods import method_config, stretched_schedule_args

    from espnet_trinet.tasks.method_specs import resolved_specs
    from espnet_trinet.tasks.trinet import TriNetTask

    args = shlex.split(" ".join(stretched_schedule_args("d2v_aqc", 3)))
    ns = TriNetTask.get_parser().parse_args(["--config", str(method_config("d2v_aqc")), *args])
    assert ns.scheduler_conf["warmup_steps"] == 450
    targets = {t["name"]: t["conf"] for t in resolved_specs(ns.targets, ns.target_conf, "target")}
    assert targets["ema"]["anneal_updates"] == 1200 and targets["ema"]["decay_end"] == 0.999
    assert targets["codes"]["temperature"] == [2.0, 0.5, pytest.approx(0.996 ** (1 / 3))]
    ns = TriNetTask.get_parser().parse_args(["--config", str(method_config("data2vec2")),
                                             *shlex.split(" ".join(stretched_schedule_args("data2vec2", 3)))])
    assert ns.scheduler_conf == dict(first_cycle_steps=1404, warmup_steps=450, max_lr=0.001, min_lr=1.0e-05)
