"""The quality benchmark's plan: every model gets the same budget, TriNet the teacher of its seed,
the FSDD fine-tunings the pretrained encoders of the synthetic runs."""

import sys
from pathlib import Path

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from quality_cells import FSDD_TEST, MODELS, Budget, Layout, base_cells, link_into, seed_cells  # noqa: E402


def option(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_every_model_of_a_seed_gets_the_same_pretraining_and_fine_tuning_options(tmp_path):
    budget = Budget(seeds=[3], pretrain_args="--max_epoch 4", finetune_args="--max_epoch 9",
                    fsdd_finetune_args="--max_epoch 7", log_interval=2)
    cells = {c.name: c for c in seed_cells(Layout(tmp_path), budget, 3, with_fsdd=True)}
    assert list(cells) == ["seed3/d2v", "seed3/trinet_ctc", "seed3/trinet_random", "seed3/trinet_regression"] + \
        [f"seed3/fsdd_{m}" for m in MODELS]
    d2v = cells["seed3/d2v"].commands[0]
    assert option(d2v, "--data2vec_args") == "--seed 3 --log_interval 2 --max_epoch 4"
    assert option(d2v, "--asr_args") == "--seed 3 --max_epoch 9"
    assert (option(d2v, "--stage"), option(d2v, "--stop_stage")) == ("7", "8")
    for p in ("ctc", "random", "regression"):
        cmd = cells[f"seed3/trinet_{p}"].commands[0]
        assert option(cmd, "--trinet_args") == option(d2v, "--data2vec_args")
        assert option(cmd, "--asr_args") == option(d2v, "--asr_args")
        assert option(cmd, "--frozen_projector") == p and option(cmd, "--expdir") == f"exp/trinet_{p}"
        assert option(cmd, "--frozen_targets_dir") == f"dump/frozen_targets_{p}"
    inits = {}
    for m in MODELS:
        cmd = cells[f"seed3/fsdd_{m}"].commands[0]
        assert option(cmd, "--asr_args") == "--seed 3 --max_epoch 7" and option(cmd, "--test_sets") == FSDD_TEST
        inits[m] = option(cmd, "--pretrained_model") if "--pretrained_model" in cmd else None
    assert inits == {"scratch": None, "data2vec": "exp/d2v/ssl_data2vec/valid.loss.ave.pth:encoder:encoder",
                     **{f"trinet_{p}": f"exp/trinet_{p}/ssl_trinet/valid.loss.ave.pth:encoder:encoder"
                        for p in ("ctc", "random", "regression")}}


def test_trinet_cells_link_the_teacher_and_baselines_of_their_own_seed(tmp_path):
    layout = Layout(tmp_path)
    cells = {c.name: c for c in seed_cells(layout, Budget(), 1, with_fsdd=False)}
    assert not any("fsdd" in name for name in cells)
    d2v = layout.expdir(1, "data2vec")
    for name in ("asr_data2vec", "asr_scratch", "ssl_data2vec"):
        (d2v / name).mkdir(parents=True)
    cells["seed1/trinet_random"].setup()
    cells["seed1/trinet_random"].setup()  # again: a re-run finds the links in place
    exp = layout.expdir(1, "trinet_random")
    assert (exp / "asr_data2vec").resolve() == (d2v / "asr_data2vec").resolve()
    assert layout.asr_dir(1, "data2vec").resolve() == (d2v / "asr_data2vec").resolve()
    assert layout.asr_dir(1, "trinet_random") == exp / "asr_trinet"
    assert layout.scores(1, "scratch", FSDD_TEST, "cer") == layout.seed(1) / "exp/fsdd/asr_scratch" / \
        "decode_ctc_greedy_asr_model_valid.cer_ctc.ave/fsdd_test/score_cer/scores.json"


def test_base_cells_leave_fsdd_out_without_recordings_and_subset_its_training_set(tmp_path):
    layout = Layout(tmp_path)
    assert [c.name for c in base_cells(layout, Budget(), None)] == ["base/recipe"]
    cells = base_cells(layout, Budget(fsdd_train_utts=50), Path("/data/fsdd"))
    fsdd = cells[1].commands
    subset = next(c for c in fsdd if "--num_random" in c)
    assert option(subset, "--num_random") == "50" and option(subset, "--out_dir") == "data/fsdd/train_subset"
    formats = {option(c, "--out_dir"): option(c, "--in_dir") for c in fsdd if "espnet_trinet.bin.format_datadir" in c}
    assert formats == {"dump/raw/org/fsdd_train": "data/fsdd/train_subset", "dump/raw/org/fsdd_dev": "data/fsdd/dev",
                       "dump/raw/org/fsdd_test": "data/fsdd/test"}
    filters = {option(c, "--out_dir"): option(c, "--max_sec") for c in fsdd if "espnet_trinet.bin.filter_datadir" in c}
    assert filters["dump/raw/fsdd_test"] == "100000"  # the test set keeps every utterance


def test_link_into_makes_relative_links(tmp_path):
    (tmp_path / "a" / "x").mkdir(parents=True)
    link_into(tmp_path / "b", tmp_path / "a", ["x"])
    assert str((tmp_path / "b" / "x").readlink()) == "../a/x"
