"""data2vec-aqc (pretrain_d2v_aqc_tiny.yaml) end to end on tiny random audio with a generated noise
and impulse-response corpus: the losses fall, --resume continues the same run (the quantiser's
temperature included), and a bad noise list stops the run before training, naming the file."""

import pytest
import torch

from espnet_trinet.augmentation.generated_corpus import write_augmentation_corpus
from espnet_trinet.bin.trinet_train import main as train_main
from espnet_trinet.targets.gumbel_quantizer import gumbel_temperature
from trinet_testing import MINI_CONF, epoch_stats, train_args

AQC = MINI_CONF / "pretrain_d2v_aqc_tiny.yaml"
SHORT = ("--optim_conf", "lr=0.002", "--scheduler_conf", "warmup_steps=4")


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    out = tmp_path_factory.mktemp("augmentation")
    noise_scp, rir_scp = write_augmentation_corpus(out, num_noises=3, noise_seconds=1.0, num_rirs=3, seed=0)
    return ("--view_conf", f"augmentation.reverb.rir_scp={rir_scp}",
            "--view_conf", f"augmentation.background_noise.noise_scp={noise_scp}")


def _train(out, audio_dirs, *extra):
    train_main(train_args(AQC, out, *audio_dirs, *extra))
    return epoch_stats(out)


@pytest.mark.slow
def test_d2v_aqc_losses_go_down(audio_dirs, lists, tmp_path):
    stats = _train(tmp_path / "aqc", audio_dirs, "--max_epoch", 8, *SHORT, *lists)
    first, last = stats[1], stats[8]
    assert last["loss_struc"] < first["loss_struc"] * 0.9, (first, last)
    assert last["loss_ccl"] < first["loss_ccl"], (first, last)
    assert last["temp"] < first["temp"] and 0 < last["code_ppl"] <= 640
    valid = epoch_stats(tmp_path / "aqc", "valid")
    assert valid[8]["loss"] < valid[1]["loss"]


@pytest.mark.slow
def test_resume_continues_the_same_run(audio_dirs, lists, tmp_path):
    common = (*SHORT, "--accum_grad", 2, *lists)
    _train(tmp_path / "straight", audio_dirs, "--max_epoch", 4, *common)
    _train(tmp_path / "resumed", audio_dirs, "--max_epoch", 2, *common)
    _train(tmp_path / "resumed", audio_dirs, "--max_epoch", 4, "--resume", "true", *common)
    straight = torch.load(tmp_path / "straight" / "checkpoint.pth", weights_only=False)
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pth", weights_only=False)
    assert int(resumed["model"]["num_updates"]) == int(straight["model"]["num_updates"]) == 4
    for key, value in straight["model"].items():  # student, quantiser, heads, EMA teacher
        assert torch.allclose(value.float(), resumed["model"][key].float(), atol=1e-5), key
    last = epoch_stats(tmp_path / "resumed")[4]
    assert last["temp"] == pytest.approx(gumbel_temperature(3, (2.0, 0.5, 0.996)), rel=1e-6)


@pytest.mark.slow
def test_a_missing_noise_file_stops_the_run_before_training(audio_dirs, lists, tmp_path):
    noise_scp = tmp_path / "noise.scp"
    noise_scp.write_text(f"gone {tmp_path / 'gone.wav'}\n")
    with pytest.raises(Exception, match="gone.wav"):
        _train(tmp_path / "bad", audio_dirs, "--max_epoch", 1, *lists[:2],
               "--view_conf", f"augmentation.background_noise.noise_scp={noise_scp}")
    assert not (tmp_path / "bad" / "checkpoint.pth").exists()
