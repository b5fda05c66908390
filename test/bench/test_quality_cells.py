"""The quality benchmark's plan: every model gets the same budget, TriNet the teacher of its seed,
the FSDD fine-tunings the pretrained encoders of the synthetic runs."""

import subprocess
import sys
from pathlib import Path

import pytest

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from methods import MODEL_TABLE, BenchModel  # noqa: E402
from quality_cells import (  # noqa: E402
    DECODE_CONFIG, FSDD_TEST, INFERENCE_TAG, MODELS, Budget, Layout, base_cells, check_models, link_into, seed_cells,
)

TRINETS = ("trinet_ctc", "trinet_random", "trinet_regression")


def option(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_the_table_holds_the_models_results_md_reports_and_the_configs_say_which_need_a_teacher():
    assert [(m.key, m.display, m.method) for m in MODEL_TABLE] == [
        ("scratch", "no pretraining", None), ("data2vec", "data2vec", "data2vec"),
        ("trinet_ctc", "TriNet (ctc)", "trinet"), ("trinet_random", "TriNet (random)", "trinet"),
        ("trinet_regression", "TriNet (regression)", "trinet")]
    assert BenchModel("x", "x", "trinet", ("--frozen_projector", "random")).recipe_option("frozen_projector") == \
        "random"
    from methods import frozen_label, independent, needs_teacher, teacher_model, with_teacher

    assert [k for k in MODELS if needs_teacher(k)] == list(TRINETS)
    assert independent(MODELS) == ["data2vec"] and with_teacher(MODELS) == list(TRINETS)
    assert teacher_model(MODELS) == "data2vec" and teacher_model(["scratch", "data2vec"]) is None
    # The recipe's reading of the config with the model's own options, as trinet.sh's RESULTS.md label.
    assert [frozen_label(k) for k in TRINETS] == ["ctc, offline", "random, offline", "regression, offline"]


def test_every_model_of_a_seed_gets_the_same_pretraining_and_fine_tuning_options(tmp_path):
    budget = Budget(seeds=[3], pretrain_args="--max_epoch 4", finetune_args="--max_epoch 9",
                    fsdd_finetune_args="--max_epoch 7", log_interval=2)
    cells = {c.name: c for c in seed_cells(Layout(tmp_path), budget, 3, with_fsdd=True)}
    assert list(cells) == ["seed3/d2v", "seed3/trinet_ctc", "seed3/trinet_random", "seed3/trinet_regression"] + \
        [f"seed3/fsdd_{m}" for m in MODELS]
    d2v = cells["seed3/d2v"].commands[0]
    assert option(d2v, "--ssl_methods") == "data2vec" and option(d2v, "--expdir") == "exp/d2v"
    assert option(d2v, "--ssl_args") == "--seed 3 --log_interval 2 --max_epoch 4"
    assert option(d2v, "--asr_args") == "--seed 3 --max_epoch 9"
    assert option(d2v, "--scratch_baseline") == "true"
    # Fixed dir names whatever the budget, and no LM: the benchmark compares greedy CTC.
    assert (option(d2v, "--ssl_tag"), option(d2v, "--asr_tag"), option(d2v, "--use_lm")) == ("bench", "bench", "false")
    assert (option(d2v, "--stage"), option(d2v, "--stop_stage")) == ("7", "11")  # the baselines decoded too
    for p in ("ctc", "random", "regression"):
        cmd = cells[f"seed3/trinet_{p}"].commands[0]
        assert (option(cmd, "--stage"), option(cmd, "--stop_stage")) == ("9", "11")
        assert option(cmd, "--ssl_methods") == "data2vec trinet" and option(cmd, "--teacher_method") == "data2vec"
        # The same pretraining options as data2vec, and the random projection follows the seed.
        assert option(cmd, "--ssl_args") == option(d2v, "--ssl_args") + " --target_conf frozen.seed=3"
        assert option(cmd, "--asr_args") == option(d2v, "--asr_args")
        # It decodes d2v's dirs and takes its teacher from them: their done markers must see the same options.
        for name in ("--ssl_tag", "--asr_tag", "--use_lm", "--scratch_baseline"):
            assert option(cmd, name) == option(d2v, name)
        assert option(cmd, "--frozen_projector") == p and option(cmd, "--expdir") == f"exp/trinet_{p}"
        # The recipe's default dump dir (dump/frozen_targets_<projector>), the old --frozen_dump_args gone.
        assert "--frozen_targets_dir" not in cmd and "--frozen_dump_args" not in cmd
    inits = {}
    for m in MODELS:
        cmd = cells[f"seed3/fsdd_{m}"].commands[0]
        assert option(cmd, "--asr_args") == "--seed 3 --max_epoch 7" and option(cmd, "--test_sets") == FSDD_TEST
        assert option(cmd, "--use_lm") == "false" and option(cmd, "--asr_tag") == m
        inits[m] = option(cmd, "--pretrained_model") if "--pretrained_model" in cmd else None
    assert inits == {"scratch": None, "data2vec": "exp/d2v/ssl_data2vec_bench/valid.loss.ave.pth:encoder:encoder",
                     **{f"trinet_{p}": f"exp/trinet_{p}/ssl_trinet_bench/valid.loss.ave.pth:encoder:encoder"
                        for p in ("ctc", "random", "regression")}}


def test_the_cells_follow_the_model_list(tmp_path):
    layout = Layout(tmp_path)
    cells = {c.name: c for c in seed_cells(layout, Budget(), 0, with_fsdd=True, models=["data2vec", "trinet_random"])}
    assert list(cells) == ["seed0/d2v", "seed0/trinet_random", "seed0/fsdd_data2vec", "seed0/fsdd_trinet_random"]
    assert option(cells["seed0/d2v"].commands[0], "--scratch_baseline") == "false"
    assert option(cells["seed0/trinet_random"].commands[0], "--scratch_baseline") == "false"
    cells = [c.name for c in seed_cells(layout, Budget(), 0, with_fsdd=False, models=["scratch", "data2vec"])]
    assert cells == ["seed0/d2v"]
    with pytest.raises(ValueError, match="need a fine-tuned frozen teacher"):
        check_models(["scratch", "trinet_ctc"])
    with pytest.raises(ValueError, match="unknown model 'hubert'"):
        check_models(["hubert"])


def test_trinet_cells_link_the_teacher_and_baselines_of_their_own_seed(tmp_path):
    layout = Layout(tmp_path)
    cells = {c.name: c for c in seed_cells(layout, Budget(), 1, with_fsdd=False)}
    assert not any("fsdd" in name for name in cells)
    d2v = layout.expdir(1, "data2vec")
    assert d2v == layout.seed(1) / "exp" / "d2v" == layout.expdir(1, "scratch")
    # trinet.sh's names with --ssl_tag bench --asr_tag bench: ssl_<method>_bench, asr_<that>_bench.
    shared = ("ssl_stats_16000", "asr_stats_raw_en_char", "ssl_data2vec_bench", "asr_data2vec_bench_bench",
              "asr_scratch_bench")
    for name in shared:
        (d2v / name).mkdir(parents=True)
    cells["seed1/trinet_random"].setup()
    cells["seed1/trinet_random"].setup()  # again: a re-run finds the links in place
    exp = layout.expdir(1, "trinet_random")
    assert sorted(p.name for p in exp.iterdir()) == sorted(shared)
    for name in shared:
        assert (exp / name).resolve() == (d2v / name).resolve()
    assert layout.asr_dir(1, "data2vec") == d2v / "asr_data2vec_bench_bench"
    assert layout.asr_dir(1, "scratch") == d2v / "asr_scratch_bench"
    assert layout.ssl_dir(1, "data2vec") == d2v / "ssl_data2vec_bench"
    assert layout.asr_dir(1, "trinet_random") == exp / "asr_trinet_bench_bench"
    assert layout.ssl_dir(1, "trinet_random") == exp / "ssl_trinet_bench"
    assert layout.scores(1, "scratch", FSDD_TEST, "cer") == layout.seed(1) / "exp/fsdd/asr_scratch" / \
        "decode_ctc_greedy_asr_model_valid.cer_ctc.ave/fsdd_test/score_cer/scores.json"
    with pytest.raises(ValueError, match="no SSL experiment"):
        layout.ssl_dir(1, "scratch")


def test_base_cells_leave_fsdd_out_without_recordings_and_subset_its_training_set(tmp_path):
    layout = Layout(tmp_path)
    recipe = base_cells(layout, Budget(), None)
    assert [c.name for c in recipe] == ["base/recipe"]
    assert option(recipe[0].commands[0], "--ssl_methods") == "data2vec trinet"  # every method of the table
    assert option(recipe[0].commands[0], "--use_lm") == "false"  # stage 5: the token list, no LM
    cells = base_cells(layout, Budget(fsdd_train_utts=50), Path("/data/fsdd"))
    fsdd = cells[1].commands
    assert option(fsdd[-1], "--use_lm") == "false" and option(fsdd[-1], "--stage") == "5"  # FSDD's token list
    subset = next(c for c in fsdd if "--num_random" in c)
    assert option(subset, "--num_random") == "50" and option(subset, "--out_dir") == "data/fsdd/train_subset"
    formats = {option(c, "--out_dir"): option(c, "--in_dir") for c in fsdd if "espnet_trinet.bin.format_datadir" in c}
    assert formats == {"dump/raw/org/fsdd_train": "data/fsdd/train_subset", "dump/raw/org/fsdd_dev": "data/fsdd/dev",
                       "dump/raw/org/fsdd_test": "data/fsdd/test"}
    filters = {option(c, "--out_dir"): option(c, "--max_sec") for c in fsdd if "espnet_trinet.bin.filter_datadir" in c}
    assert filters["dump/raw/fsdd_test"] == "100000"  # the test set keeps every utterance


def test_the_decode_dirs_read_are_those_the_recipe_names():
    names = REPO / "egs2" / "TEMPLATE" / "utils" / "exp_names.sh"
    out = subprocess.run(["bash", "-c", f'. "{names}" && decode_dir_name {DECODE_CONFIG} "" "" valid.cer_ctc.ave.pth'],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == INFERENCE_TAG


def test_link_into_makes_relative_links(tmp_path):
    (tmp_path / "a" / "x").mkdir(parents=True)
    link_into(tmp_path / "b", tmp_path / "a", ["x"])
    assert str((tmp_path / "b" / "x").readlink()) == "../a/x"


def test_the_report_compares_as_before_and_names_the_frozen_teachers(tmp_path):
    import quality

    assert quality.comparison_pairs(MODELS) == [(f"trinet_{p}", "data2vec") for p in ("ctc", "random", "regression")] \
        + [(m, "scratch") for m in ("data2vec", *TRINETS)]
    assert quality.comparison_pairs(["data2vec", "trinet_ctc"]) == [("trinet_ctc", "data2vec")]
    output = tmp_path / "results" / "quality"
    text = quality.report(Layout(tmp_path / "work"), Budget(seeds=[0]), "python bench/quality.py", [], output,
                          None, tmp_path / "fsdd", models=["scratch", "data2vec", "trinet_random"])
    assert "- no finished runs" in text and output.with_suffix(".json").exists()
    assert "recipe configs + `--seed S --log_interval 5` (+ `--target_conf frozen.seed=S` for the models with a " \
        "frozen teacher); the frozen teacher of TriNet (random) is the CTC fine-tuned data2vec of the same seed" in text
    assert "TriNet (random): random, offline" in text
