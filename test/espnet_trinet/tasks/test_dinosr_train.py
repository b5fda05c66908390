"""DinoSR (pretrain_dinosr_tiny.yaml) end to end on tiny random audio: the loss falls, --resume
restores the codebooks."""

import pytest
import torch

from espnet_trinet.bin.trinet_train import main as train_main
from trinet_testing import MINI_CONF, epoch_stats, train_args

DINOSR = MINI_CONF / "pretrain_dinosr_tiny.yaml"


def _train(out, audio_dirs, *extra):
    train_main(train_args(DINOSR, out, *audio_dirs, *extra))
    return epoch_stats(out)


@pytest.mark.slow
def test_dinosr_loss_goes_down(audio_dirs, tmp_path):
    # 8 utterances, batch_bins 100000 -> 2 updates per epoch: 32 updates
    stats = _train(tmp_path / "dinosr", audio_dirs, "--max_epoch", 16, "--optim_conf", "lr=0.002",
                   "--scheduler_conf", "warmup_steps=4")
    losses = [s["loss_codebook"] for s in stats.values()]
    assert losses[-1] < losses[0] * 0.9, losses
    last = stats[16]
    for key in ("codebook_ppl", "dead_codewords", "ema_decay", "pred_ppl", "pred_var", "eff_rank"):
        assert key in last, key
    assert 1.0 <= last["codebook_ppl"] <= 64
    model = torch.load(tmp_path / "dinosr" / "checkpoint.pth", weights_only=False)["model"]
    assert int(model["num_updates"]) == 32
    counts = model["targets.codebooks.codebook_counts"]
    assert counts.dtype == torch.float32 and counts.ne(1.0).any()  # the codebooks learnt


@pytest.mark.slow
def test_resume_restores_the_codebooks(audio_dirs, tmp_path):
    common = ("--optim_conf", "lr=0.002", "--scheduler_conf", "warmup_steps=4", "--accum_grad", 2)
    _train(tmp_path / "straight", audio_dirs, "--max_epoch", 4, *common)
    _train(tmp_path / "resumed", audio_dirs, "--max_epoch", 2, *common)
    _train(tmp_path / "resumed", audio_dirs, "--max_epoch", 4, "--resume", "true", *common)
    straight = torch.load(tmp_path / "straight" / "checkpoint.pth", weights_only=False)["model"]
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pth", weights_only=False)["model"]
    assert int(resumed["num_updates"]) == 4
    assert {"targets.codebooks.codebook_sums", "targets.codebooks.codebook_counts"} <= set(resumed)
    for key, value in straight.items():
        assert torch.allclose(value.float(), resumed[key].float(), atol=1e-5), key
