"""The stage-cost benchmark's readers: stage times from trinet.sh's log, disk by stage, the dump's cost."""

import sys

import pytest
import yaml

from trinet_testing import REPO

sys.path.insert(0, str(REPO / "bench"))
from stage_costs import STAGE_OUTPUTS, dump_cost, dump_dirs, stage_disk, stage_times  # noqa: E402


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
                       ("exp/lm_train_lm_tiny_en_char/valid.loss.ave.pth", 30)):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x" * size)
    assert stage_disk(tmp_path, STAGE_OUTPUTS[5]) == 36  # the token list and the LM
    assert stage_disk(tmp_path, STAGE_OUTPUTS[7]) == 150
    assert stage_disk(tmp_path, STAGE_OUTPUTS[8]) == 10  # the fine-tunings and their statistics
    assert stage_disk(tmp_path, STAGE_OUTPUTS[9]) == 170
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
