"""A fine-tuning config that does not fit the pretrained checkpoint fails before asr_train starts.

Through ``python -m espnet_trinet.bin.check_init_param`` (asr_train's own options) and through
asr.sh stage 11, which runs it before the launcher: each fault names the setting and both
values; no training step may have run.
"""

import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from espnet_trinet.bin.check_init_param import main as check_main
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, REPO, TOKENS, namespace_from_config, write_audio_dir

pytestmark = pytest.mark.reliability

FINETUNE = MINI_CONF / "finetune_ctc_tiny.yaml"


@pytest.fixture(scope="module")
def ssl_exp(tmp_path_factory):
    """A pretrained tiny data2vec encoder saved as an SSL experiment (checkpoint + config.yaml)."""
    exp = tmp_path_factory.mktemp("ssl_exp")
    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    torch.manual_seed(0)
    torch.save(TriNetTask.build_model(args).state_dict(), exp / "valid.loss.ave.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    tokens = exp / "tokens.txt"
    tokens.write_text("\n".join(TOKENS) + "\n")
    return exp


def _check(ssl_exp, capsys, *extra):
    code = check_main([
        "--config", str(FINETUNE), "--token_list", str(ssl_exp / "tokens.txt"), "--normalize", "utterance_mvn",
        "--init_param", f"{ssl_exp / 'valid.loss.ave.pth'}:encoder:encoder", *extra,
    ])
    return code, capsys.readouterr().err


def test_a_fitting_config_passes(ssl_exp, capsys):
    code, log = _check(ssl_exp, capsys)
    assert code == 0 and "fits the fine-tuning model" in log


def test_more_blocks_than_the_checkpoint_would_stay_random(ssl_exp, capsys):
    code, log = _check(ssl_exp, capsys, "--encoder_conf", "num_blocks=6")
    assert code == 1
    assert "the checkpoint has 4 encoder blocks, the fine-tuning encoder 6" in log
    assert "blocks 4-5 of the fine-tuning encoder would stay random" in log
    assert f"encoder_conf.num_blocks: 4 in {ssl_exp / 'config.yaml'}, 6 in the fine-tuning config" in log
    # ESPnet alone loads it without a word, the two extra blocks left at random init.
    from espnet2.tasks.asr import ASRTask
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    args = ASRTask.get_parser().parse_args(["--config", str(FINETUNE), "--token_list", str(ssl_exp / "tokens.txt"),
                                            "--normalize", "utterance_mvn", "--encoder_conf", "num_blocks=6"])
    model = ASRTask.build_model(args)
    block5 = model.encoder.encoders[5].feed_forward.w_1.weight.clone()
    load_pretrained_model(f"{ssl_exp / 'valid.loss.ave.pth'}:encoder:encoder", model, ignore_init_mismatch=False)
    assert torch.equal(model.encoder.encoders[5].feed_forward.w_1.weight, block5)


def test_fewer_blocks_than_the_checkpoint(ssl_exp, capsys):
    code, log = _check(ssl_exp, capsys, "--encoder_conf", "num_blocks=2")
    assert code == 1 and "blocks 2-3 of the checkpoint would not be loaded" in log


def test_another_width(ssl_exp, capsys):
    code, log = _check(ssl_exp, capsys, "--encoder_conf", "output_size=64")
    assert code == 1
    assert "tensors of other shapes: encoder.embed.conv.0.weight (96, 1, 3, 3) in the checkpoint, (64, 1, 3, 3)" in log
    assert "encoder_conf.output_size: 96 in" in log


@pytest.mark.parametrize(
    "option, expected",
    [
        (("--frontend_conf", "hop_length=128"), "frontend_conf.hop_length: 160 in"),
        (("--frontend_conf", "fs=8k"), "frontend_conf.fs: 16000 in"),
        (("--normalize", "global_mvn", "--normalize_conf", "stats_file=STATS"), "normalize: 'utterance_mvn' in"),
        (("--encoder_conf", "rel_pos_type=legacy"), "encoder_conf.rel_pos_type: 'latest' in"),
        (("--encoder_conf", "activation_type=relu"), "encoder_conf.activation_type: 'swish' in"),
    ],
    ids=["hop_length", "fs", "normalize", "rel_pos_type", "activation"],
)
def test_same_shapes_other_meaning(ssl_exp, capsys, tmp_path, option, expected):
    if "stats_file=STATS" in option:
        import numpy as np

        stats = tmp_path / "feats_stats.npz"
        np.savez(stats, count=np.array(10), sum=np.zeros(80), sum_square=np.full(80, 10.0))
        option = tuple(o.replace("STATS", str(stats)) for o in option)
    code, log = _check(ssl_exp, capsys, *option)
    assert code == 1 and expected in log
    assert "tensors of other shapes" not in log  # ESPnet would load these weights without a word


def test_dropout_does_not_change_meaning(ssl_exp, capsys):
    code, log = _check(ssl_exp, capsys, "--encoder_conf", "dropout_rate=0.3")
    assert code == 0, log


def test_ignore_init_mismatch_warns_and_passes(ssl_exp, capsys):
    code, log = _check(ssl_exp, capsys, "--encoder_conf", "num_blocks=6", "--ignore_init_mismatch", "true")
    assert code == 0 and "WARNING" in log and "blocks 4-5 of the fine-tuning encoder would stay random" in log


def test_missing_checkpoint(ssl_exp, capsys, tmp_path):
    code = check_main(["--config", str(FINETUNE), "--token_list", str(ssl_exp / "tokens.txt"),
                       "--normalize", "utterance_mvn", "--init_param", f"{tmp_path / 'nothing.pth'}:encoder:encoder"])
    assert code == 1 and f"--init_param: {tmp_path / 'nothing.pth'} does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_asr_sh_stage_11_stops_before_training(ssl_exp, tmp_path):
    """The recipe path: asr.sh --pretrained_model with a config of 6 blocks for a 4-block checkpoint."""
    work = tmp_path / "recipe"
    for name, seed in (("train", 0), ("valid", 1)):
        write_audio_dir(work / "dump" / "raw" / name, 2, seed=seed)
    token_dir = work / "data" / "en_token_list" / "char"
    token_dir.mkdir(parents=True)
    shutil.copy(ssl_exp / "tokens.txt", token_dir / "tokens.txt")
    result = subprocess.run(
        ["bash", str(REPO / "egs2" / "TEMPLATE" / "asr1" / "asr.sh"), "--python", sys.executable,
         "--stage", "11", "--stop_stage", "11", "--train_set", "train", "--valid_set", "valid",
         "--asr_config", str(FINETUNE), "--asr_tag", "trinet", "--feats_normalize", "utterance_mvn",
         "--asr_args", "--encoder_conf num_blocks=6",
         "--pretrained_model", f"{ssl_exp / 'valid.loss.ave.pth'}:encoder:encoder"],
        cwd=work, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "the fine-tuning config does not fit --pretrained_model" in out
    assert "the checkpoint has 4 encoder blocks, the fine-tuning encoder 6" in out
    exp = work / "exp" / "asr_trinet"
    assert sorted(p.name for p in exp.iterdir()) == ["check_init_param.log"]  # no train.log, no checkpoint
