"""The stage-cost benchmark's readers: stage times from trinet.sh's log, disk by stage, the dump's cost,
MT4SSL's k-means labels and data2vec-aqc's augmentation corpus from the run's logs, the data loader's
augmentation timed in-process."""

import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from methods import method_config  # noqa: E402
from stage_costs import (  # noqa: E402
    AUGMENTATION_LINE, KMEANS_LINE, STAGE_OUTPUTS, augmentation_corpus_costs, augmentation_seconds_per_hour,
    dump_cost, dump_dirs, kmeans_costs, loader_augmentation_costs, main, recipe_steps, stage_disk, stage_times,
)


def test_stage_times_read_the_first_line_of_each_stage():
    log = "\n".join([
        "2026-12-01T10:00:00 (trinet.sh:300:main) Stage 7: pretraining of the methods without a frozen teacher: "
        "data2vec",
        "2026-12-01T10:00:01 (trinet.sh:280:pretrain_method) pretraining data2vec (conf/x.yaml) -> exp/ssl_data2vec",
        "2026-12-01T10:03:00 (trinet.sh:310:main) Stage 8: CTC fine-tuning of data2vec (the baselines; data2vec is "
        "the frozen teacher of trinet)",
        "2026-12-01T10:05:00 (trinet.sh:316:main) Stage 8: the same CTC fine-tuning from random init",
        "2026-12-01T10:09:00 (trinet.sh:497:main) Successfully finished stages 7-8",
    ])
    assert stage_times(log) == [
        dict(stage=7, title="pretraining of the methods without a frozen teacher: data2vec", seconds=180.0),
        dict(stage=8, title="CTC fine-tuning of data2vec (the baselines; data2vec is the frozen teacher of trinet)",
             seconds=360.0)]


def test_stage_disk_counts_what_the_patterns_match_once(tmp_path):
    # The recipe's names (utils/exp_names.sh): dirs named from options, the dump from projector and teacher.
    for path, size in (("exp/ssl_data2vec_max_epoch2/model.pth", 100), ("exp/ssl_trinet/model.pth", 50),
                       ("exp/asr_scratch/model.pth", 7), ("exp/asr_stats_raw_en_char/train/feats_stats.npz", 3),
                       ("dump/frozen_targets_ctc_asr_data2vec/train/targets.ark", 20),
                       ("data/en_token_list/char/tokens.txt", 2), ("exp/lm_stats_en_char/lm_train.txt", 4),
                       ("exp/lm_train_lm_tiny_en_char/valid.loss.ave.pth", 30),
                       ("dump/kmeans_mfcc_k50/train/labels.ark", 5), ("dump/augmentation_16000/noise/n0.wav", 6)):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x" * size)
    assert stage_disk(tmp_path, STAGE_OUTPUTS[5]) == 36  # the token list and the LM
    assert stage_disk(tmp_path, STAGE_OUTPUTS[7]) == 161  # pretrainings, k-means labels, augmentation corpus
    assert stage_disk(tmp_path, STAGE_OUTPUTS[8]) == 10  # the fine-tunings and their statistics
    assert stage_disk(tmp_path, STAGE_OUTPUTS[9]) == 181
    assert stage_disk(tmp_path, ["exp", "exp/ssl_*"]) == 194  # nested matches count once


def test_dump_cost_finds_each_projectors_dump(tmp_path):
    (tmp_path / "dump/raw/train").mkdir(parents=True)
    (tmp_path / "dump/raw/train/utt2num_samples").write_text("a 28800000\nb 28800000\n")  # 1 h
    out = tmp_path / "dump/frozen_targets_random_asr_data2vec/train"
    (out / "log").mkdir(parents=True)
    (out / "log/dump.1.log").write_text("# Accounting: time=30 threads=1\n")
    (out / "log/dump.2.log").write_text("# Accounting: time=40 threads=1\n")
    (tmp_path / "dump/frozen_targets_ctc_asr_data2vec/train").mkdir(parents=True)  # unfinished: no targets_info
    assert dump_dirs(tmp_path) == []
    (out / "targets_info.yaml").write_text(yaml.safe_dump(dict(
        num_utterances=2, bytes=2**20, dtype="int64", output_dim=32, kind="hard", projector="random")))
    assert dump_dirs(tmp_path) == [out]
    cost = dump_cost(out, tmp_path)
    assert cost["dump"] == "dump/frozen_targets_random_asr_data2vec/train" and cost["kind"] == "hard"
    assert (cost["wall_s"], cost["cpu_job_s"], cost["jobs"]) == (40, 70, 2)
    assert cost["audio_hours"] == pytest.approx(1.0) and cost["mb_per_hour"] == pytest.approx(1.0)


# A run's log as trinet.sh and the tools it calls write it (stage 7 with MT4SSL's k-means labels and
# data2vec-aqc's generated corpus; the lines of other scripts and tools in between).
RUN_LOG = "\n".join([
    "2026-12-01T10:00:00 (trinet.sh:635:main) Stage 7: pretraining of the methods without a frozen teacher: "
    "data2vec mt4ssl d2v_aqc",
    "2026-12-01T10:00:02 (trinet.sh:424:pretrain_method) pretraining data2vec (conf/pretrain_data2vec_tiny.yaml) -> "
    "exp/ssl_data2vec (log: exp/ssl_data2vec/train.log)",
    "2026-12-01 10:00:03,055 (launch:94) INFO: python3 -m espnet_trinet.bin.trinet_train ...",
    "2026-12-01T10:03:00 (trinet.sh:537:kmeans_label_opts) k-means of mfcc features for km: 50 clusters on train "
    "(log: dump/kmeans_mfcc_k50/kmeans/learn.log)",
    "2026-12-01T10:03:01 (done_marker.sh:17:needs_run) a line of another script does not end the step",
    "2026-12-01 10:03:20,833 (kmeans_labels:106) INFO: 2 utterances of 2 parts -> dump/kmeans_mfcc_k50/train",
    "2026-12-01T10:03:30 (trinet.sh:424:pretrain_method) pretraining mt4ssl (k-means 50 of MFCC) "
    "(conf/pretrain_mt4ssl_tiny.yaml) -> exp/ssl_mt4ssl (log: exp/ssl_mt4ssl/train.log)",
    "2026-12-01T10:06:00 (trinet.sh:592:augmentation_list_opts) generating noises and impulse responses for the "
    "augmented view in dump/augmentation_16000 (log: dump/augmentation_16000/make.log)",
    "2026-12-01T10:06:04 (trinet.sh:424:pretrain_method) pretraining d2v_aqc (conf/pretrain_d2v_aqc_tiny.yaml) -> "
    "exp/ssl_d2v_aqc (log: exp/ssl_d2v_aqc/train.log)",
    "2026-12-01T10:10:00 (trinet.sh:645:main) Stage 8: CTC fine-tuning of data2vec mt4ssl d2v_aqc",
    "2026-12-01T10:12:00 (trinet.sh:746:main) Successfully finished stages 7-8",
]) + "\n"


def write_raw_set(recipe, dset, hours):
    """dump/raw/<set>/utt2num_samples of two utterances, ``hours`` of 16 kHz audio in all."""
    (recipe / "dump/raw" / dset).mkdir(parents=True, exist_ok=True)
    half = int(hours * 3600 * 16000 / 2)
    (recipe / "dump/raw" / dset / "utt2num_samples").write_text(f"a {half}\nb {half}\n")


def write_kmeans_run(recipe):
    """What kmeans_label_opts leaves: the k-means model and its learn.log, each set's labels and job logs."""
    kmeans = recipe / "dump/kmeans_mfcc_k50/kmeans"
    kmeans.mkdir(parents=True)
    (kmeans / "kmeans_info.yaml").write_text(yaml.safe_dump(dict(
        features="mfcc", num_clusters=50, sample_utterances=2, sample_frames=1500, fit_seconds=0.5)))
    (kmeans / "learn.log").write_text(
        "Failed to import Flash Attention\n"
        "2026-12-01 10:03:09,312 (kmeans:215) INFO: fitting 50 clusters to 1500 frames\n"
        "2026-12-01 10:03:12,574 (kmeans_labels:98) INFO: 50 clusters of mfcc features ...\n")
    for dset, times, size in (("train", (6, 8), 2**20), ("dev", (2, 3), 2**19)):
        out = recipe / "dump/kmeans_mfcc_k50" / dset
        (out / "log").mkdir(parents=True)
        for job, seconds in enumerate(times, start=1):
            (out / "log" / f"dump.{job}.log").write_text(
                f"# python3 -m espnet_trinet.bin.kmeans_labels dump ...\n# Accounting: time={seconds} threads=1\n"
                f"# Ended (code 0) at Tue Dec  1 10:03:27 2026, elapsed time {seconds}.1 s\n")
        (out / "labels_info.yaml").write_text(yaml.safe_dump(dict(num_utterances=2, bytes=size, num_classes=50)))


def test_recipe_steps_end_at_the_next_line_trinet_sh_logs():
    steps = recipe_steps(RUN_LOG, KMEANS_LINE)
    assert [(s["match"].group(5), s["seconds"]) for s in steps] == [("dump/kmeans_mfcc_k50", 30.0)]
    assert [s["seconds"] for s in recipe_steps(RUN_LOG, AUGMENTATION_LINE)] == [4.0]
    # A step the log ends in has no end.
    cut = RUN_LOG.split("2026-12-01T10:06:04")[0]
    assert [s["seconds"] for s in recipe_steps(cut, AUGMENTATION_LINE)] == [None]


def test_kmeans_costs_per_hour_of_audio_from_the_logs(tmp_path):
    write_raw_set(tmp_path, "train", 0.5)
    write_raw_set(tmp_path, "dev", 0.25)
    write_kmeans_run(tmp_path)
    [km] = kmeans_costs(RUN_LOG, tmp_path)
    assert (km["labels"], km["source"], km["features"], km["clusters"], km["fit_set"]) == (
        "dump/kmeans_mfcc_k50", "km", "mfcc", 50, "train")
    fit = km["fit"]
    # From the recipe's line (10:03:00) to learn.log's last line (10:03:12): 12 s for 0.5 h.
    assert fit["wall_s"] == 12.0 and fit["wall_s_per_hour"] == pytest.approx(24.0)
    assert fit["fit_s_per_hour"] == pytest.approx(1.0) and fit["sample_frames"] == 1500
    train, dev = km["sets"]  # the training set first
    assert (train["set"], train["jobs"], train["wall_s"], train["job_s"]) == ("train", 2, 8, 14)
    assert train["wall_s_per_hour"] == pytest.approx(16.0) and train["job_s_per_hour"] == pytest.approx(28.0)
    assert train["mb_per_hour"] == pytest.approx(2.0)
    assert (dev["set"], dev["wall_s"], dev["job_s"]) == ("dev", 3, 5)
    assert dev["job_s_per_hour"] == pytest.approx(20.0) and dev["mb_per_hour"] == pytest.approx(2.0)
    # The whole step, 10:03:00 -> 10:03:30, over the 0.75 h it labelled.
    assert km["wall_s"] == 30.0 and km["audio_hours"] == pytest.approx(0.75)
    assert km["wall_s_per_hour"] == pytest.approx(40.0)
    assert kmeans_costs(RUN_LOG.replace("k-means of", "k-means for"), tmp_path) == []  # no such line: none


def write_corpus(recipe):
    from espnet_trinet.augmentation.generated_corpus import write_augmentation_corpus

    recipe.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(recipe):  # the recipe's lists hold paths relative to its folder
        return write_augmentation_corpus(Path("dump/augmentation_16000"), num_noises=2, noise_seconds=0.5,
                                         num_rirs=2)


def test_the_augmentation_corpus_is_a_fixed_cost(tmp_path):
    write_corpus(tmp_path)
    [corpus] = augmentation_corpus_costs(RUN_LOG, tmp_path)
    assert corpus["corpus"] == "dump/augmentation_16000" and corpus["wall_s"] == 4.0
    assert (corpus["noises"], corpus["rirs"], corpus["noise_seconds"]) == (2, 2, 0.5)
    assert corpus["bytes"] == stage_disk(tmp_path, ["dump/augmentation_*"]) > 2 * 8000 * 2  # two 0.5 s noises
    assert not any(key.endswith("per_hour") for key in corpus)


def aqc_augmentation_conf(noise_scp, rir_scp):
    conf = yaml.safe_load(method_config("d2v_aqc").read_text())["view_conf"]["augmentation"]
    conf["reverb"]["rir_scp"], conf["background_noise"]["noise_scp"] = str(rir_scp), str(noise_scp)
    return conf


def test_the_loaders_augmentation_is_timed_in_process(tmp_path):
    noise_scp, rir_scp = write_corpus(tmp_path)
    conf = aqc_augmentation_conf(tmp_path / noise_scp, tmp_path / rir_scp)
    conf = dict(conf, reverb=dict(conf["reverb"], prob=1.0), background_noise=dict(conf["background_noise"], prob=1.0))
    waves = [np.random.default_rng(i).standard_normal(4000).astype(np.float32) for i in range(2)]
    with contextlib.chdir(tmp_path):  # where the lists' relative paths resolve
        assert augmentation_seconds_per_hour(conf, waves) > 0
    with pytest.raises(ValueError, match="no audio"):
        augmentation_seconds_per_hour(conf, [])


def write_aqc_experiment(recipe, audio_dir):
    """exp/ssl_d2v_aqc/config.yaml as the recipe leaves it (lists relative to the recipe folder) and a
    training set whose wav.scp holds relative paths; a data2vec experiment without an augmented view."""
    noise_scp, rir_scp = write_corpus(recipe)
    train = recipe / "dump/raw/train"
    train.mkdir(parents=True, exist_ok=True)
    lines = [line.split() for line in (audio_dir / "wav.scp").read_text().splitlines()]
    (train / "wav.scp").write_text("".join(f"{utt} {os.path.relpath(path, recipe)}\n" for utt, path in lines))
    for method in ("d2v_aqc", "data2vec"):
        config = yaml.safe_load(method_config(method).read_text())
        if method == "d2v_aqc":
            config["view_conf"]["augmentation"] = aqc_augmentation_conf(noise_scp, rir_scp)
        (recipe / f"exp/ssl_{method}").mkdir(parents=True)
        (recipe / f"exp/ssl_{method}/config.yaml").write_text(yaml.safe_dump(config))


def test_loader_augmentation_costs_use_each_augmented_experiments_settings(tmp_path, audio_dirs):
    recipe = tmp_path / "recipe"
    write_aqc_experiment(recipe, audio_dirs[0])
    [cost] = loader_augmentation_costs(recipe, max_audio_seconds=2.0, min_seconds=0.0)
    assert cost["experiment"] == "exp/ssl_d2v_aqc" and cost["set"] == "train"
    # The first utterances until 2 s of audio.
    durations = np.cumsum([int(n) / 16000 for n in
                           (audio_dirs[0] / "utt2num_samples").read_text().split()[1::2]])
    used = int(np.searchsorted(durations, 2.0)) + 1
    assert cost["utterances"] == used and cost["audio_s"] == pytest.approx(durations[used - 1])
    assert cost["s_per_hour"] > 0 and cost["ms_per_audio_s"] == pytest.approx(cost["s_per_hour"] / 3.6)
    assert (cost["max_epoch"], cost["num_workers"]) == (12, 0)


def test_reusing_a_run_reports_every_offline_cost(tmp_path, audio_dirs):
    run_dir = tmp_path / "run"
    recipe = run_dir / "egs2/mini_synth/trinet1"
    write_raw_set(recipe, "train", 0.5)
    write_raw_set(recipe, "dev", 0.25)
    write_kmeans_run(recipe)
    write_aqc_experiment(recipe, audio_dirs[0])
    (run_dir / "run.log").write_text(RUN_LOG)
    (run_dir / "disk.json").write_text(json.dumps({"7": 3 * 2**20, "8": 2**20}))
    (run_dir / "run.json").write_text(json.dumps(dict(ssl_methods="data2vec mt4ssl d2v_aqc")))
    out = tmp_path / "results"
    assert main(["--run_dir", str(run_dir), "--reuse", "--output_dir", str(out)]) == 0
    result = json.loads((out / "stage_costs.json").read_text())
    assert [(r["stage"], r["seconds"], r["disk_mb"]) for r in result["stages"]] == [(7, 600.0, 3.0), (8, 120.0, 1.0)]
    assert result["ssl_methods"] == "data2vec mt4ssl d2v_aqc" and result["dumps"] == []
    assert result["kmeans"][0]["wall_s_per_hour"] == pytest.approx(40.0)
    assert result["augmentation_corpus"][0]["wall_s"] == 4.0
    assert result["loader_augmentation"][0]["s_per_hour"] > 0
    md = (out / "stage_costs.md").read_text()
    assert '--ssl_methods "data2vec mt4ssl d2v_aqc"' in md
    assert ("- k-means on `train` (0.500 h; 2 utterances, 1500 frames sampled): 12 s wall, the fit itself 0.50 s; "
            "per hour of training audio 24 s wall (the fit 1.0 s).") in md
    assert ("- labels of `train` (2 utterances, 0.500 h, 2 parallel jobs): 8 s wall, 14 job-seconds, 1.00 MB; per "
            "hour of audio 16 s wall, 28 job-seconds, 2.00 MB.") in md
    assert "30 s wall, 40 s per hour of the labelled audio (0.750 h)" in md
    assert "made once per recipe, a fixed cost (not per hour of audio): 4 s wall." in md
    assert "in the training process (num_workers 0)" in md and "x 12 epochs" in md
