"""data2vec 2.0 and TriNet on its efficient student (pretrain_{data2vec2,trinet2}_tiny.yaml) end to
end on tiny random audio: the losses fall, --resume continues the same run."""

import pytest
import torch

from espnet_trinet.bin.dump_frozen_targets import main as dump_main
from espnet_trinet.bin.trinet_train import main as train_main
from trinet_testing import MINI_CONF, epoch_stats, train_args

DATA2VEC2 = MINI_CONF / "pretrain_data2vec2_tiny.yaml"
TRINET2 = MINI_CONF / "pretrain_trinet2_tiny.yaml"
# 8 utterances, batch_bins 100000 -> 2 updates per epoch; a cosine cycle over the run's updates.
SHORT = ("--optim_conf", "lr=0.002", "--scheduler_conf", "warmup_steps=4", "--scheduler_conf", "max_lr=0.002")


def _train(conf, out, audio_dirs, *extra):
    train_main(train_args(conf, out, *audio_dirs, *extra))
    return epoch_stats(out)


@pytest.mark.slow
def test_data2vec2_loss_goes_down(audio_dirs, tmp_path):
    stats = _train(DATA2VEC2, tmp_path / "d2v2", audio_dirs, "--max_epoch", 8, *SHORT,
                   "--scheduler_conf", "first_cycle_steps=16")
    losses = [s["loss_struc"] for s in stats.values()]
    assert losses[-1] < losses[0] * 0.9, losses
    model = torch.load(tmp_path / "d2v2" / "checkpoint.pth", weights_only=False)["model"]
    assert int(model["num_updates"]) == 16
    assert any(k.startswith("objectives.struc.blocks.3.conv") for k in model)


@pytest.mark.slow
def test_trinet2_trains_both_objectives_on_offline_targets(asr_teacher, audio_dirs, tmp_path):
    for d in audio_dirs:
        dump_main(["--data_dir", str(d), "--output_dir", str(tmp_path / "targets" / d.name),
                   "--asr_model_file", str(asr_teacher), "--projector", "ctc"])
    stats = _train(
        TRINET2, tmp_path / "trinet2", audio_dirs, "--max_epoch", 6, *SHORT, "--scheduler_conf", "first_cycle_steps=12",
        "--train_data_path_and_name_and_type", f"{tmp_path}/targets/train/targets.scp,frozen_targets,kaldi_ark",
        "--valid_data_path_and_name_and_type", f"{tmp_path}/targets/valid/targets.scp,frozen_targets,kaldi_ark",
    )
    first, last = stats[1], stats[6]
    assert last["loss_struc"] < first["loss_struc"] and last["loss_regul"] < first["loss_regul"], (first, last)


@pytest.mark.slow
def test_resume_continues_the_same_run(audio_dirs, tmp_path):
    common = (*SHORT, "--scheduler_conf", "first_cycle_steps=8", "--accum_grad", 2)
    _train(DATA2VEC2, tmp_path / "straight", audio_dirs, "--max_epoch", 4, *common)
    _train(DATA2VEC2, tmp_path / "resumed", audio_dirs, "--max_epoch", 2, *common)
    _train(DATA2VEC2, tmp_path / "resumed", audio_dirs, "--max_epoch", 4, "--resume", "true", *common)
    straight = torch.load(tmp_path / "straight" / "checkpoint.pth", weights_only=False)
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pth", weights_only=False)
    assert int(resumed["model"]["num_updates"]) == int(straight["model"]["num_updates"]) == 4
    for key, value in straight["model"].items():  # student, decoder, whole-encoder EMA teacher
        assert torch.allclose(value.float(), resumed["model"][key].float(), atol=1e-5), key
    assert resumed["schedulers"][0]["step_in_cycle"] == straight["schedulers"][0]["step_in_cycle"]
