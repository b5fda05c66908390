"""trinet_train end to end on tiny random audio: loss, resume, accumulation, configs."""

import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from espnet_trinet.bin.dump_frozen_targets import main as dump_main
from espnet_trinet.bin.trinet_train import main as train_main
from espnet_trinet.tasks.trinet import TriNetTask
from espnet_trinet.teachers.ema import ema_decay
from trinet_testing import MINI_CONF, REPO, epoch_stats, make_kmeans_labels, train_args

DATA2VEC = MINI_CONF / "pretrain_data2vec_tiny.yaml"
TRINET = MINI_CONF / "pretrain_trinet_tiny.yaml"
MT4SSL = MINI_CONF / "pretrain_mt4ssl_tiny.yaml"
_EMA = yaml.safe_load(DATA2VEC.read_text())["targets"][0]["conf"]
EMA_SCHEDULE = (_EMA["decay_start"], _EMA["decay_end"], _EMA["anneal_updates"])


def _train(conf, out, audio_dirs, *extra):
    train_main(train_args(conf, out, *audio_dirs, *extra))
    return epoch_stats(out)


@pytest.mark.slow
def test_data2vec_loss_goes_down(audio_dirs, tmp_path):
    stats = _train(DATA2VEC, tmp_path / "d2v", audio_dirs, "--max_epoch", 8, "--optim_conf", "lr=0.002",
                   "--scheduler_conf", "warmup_steps=4")
    losses = [s["loss"] for s in stats.values()]
    assert losses[-1] < losses[0] * 0.9, losses
    # 8 utterances, batch_bins 100000 -> 2 updates per epoch, counted by the EMA schedule
    model = torch.load(tmp_path / "d2v" / "checkpoint.pth", weights_only=False)["model"]
    assert int(model["num_updates"]) == 16
    # epoch 8's two forward passes come after updates 14 and 15; the log holds their mean
    expected = (ema_decay(14, *EMA_SCHEDULE) + ema_decay(15, *EMA_SCHEDULE)) / 2
    assert stats[8]["ema_decay"] == pytest.approx(expected, abs=2e-7)


@pytest.mark.slow
def test_trinet_with_offline_targets_trains(asr_teacher, audio_dirs, tmp_path):
    train_dir, valid_dir = audio_dirs
    for d in audio_dirs:
        dump_main(["--data_dir", str(d), "--output_dir", str(tmp_path / "targets" / d.name),
                   "--asr_model_file", str(asr_teacher), "--projector", "ctc"])
    out = tmp_path / "trinet"
    stats = _train(
        TRINET, out, audio_dirs, "--max_epoch", 6, "--optim_conf", "lr=0.002", "--scheduler_conf", "warmup_steps=4",
        "--train_data_path_and_name_and_type", f"{tmp_path}/targets/train/targets.scp,frozen_targets,kaldi_ark",
        "--valid_data_path_and_name_and_type", f"{tmp_path}/targets/valid/targets.scp,frozen_targets,kaldi_ark",
    )
    first, last = stats[1], stats[6]
    assert last["loss"] < first["loss"], (first, last)
    assert last["loss_regul"] < first["loss_regul"]
    for key in ("loss_struc", "loss_regul", "ema_decay", "target_var", "pred_var", "eff_rank"):
        assert key in last
    saved = torch.load(out / "checkpoint.pth", weights_only=False)["model"]
    assert "objectives.regul.head.weight" in saved and not any(k.startswith("targets.frozen") for k in saved)
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["targets"][1]["conf"]["output_dim"] == 31  # read from the dump, written for rebuilding


@pytest.mark.slow
def test_mt4ssl_both_losses_go_down_on_kmeans_labels(audio_dirs, tmp_path):
    labels = make_kmeans_labels(audio_dirs, MT4SSL, tmp_path / "labels")
    stats = _train(MT4SSL, tmp_path / "mt4ssl", audio_dirs, "--max_epoch", 8, "--optim_conf", "lr=0.002",
                   "--scheduler_conf", "warmup_steps=4", "--target_conf", "km.num_classes=8", *labels)
    first, last = stats[1], stats[8]
    assert last["loss"] < first["loss"] * 0.9, (first, last)
    assert last["loss_km"] < first["loss_km"] and last["loss_struc"] < first["loss_struc"], (first, last)
    assert first["loss"] == pytest.approx(first["loss_struc"] + first["loss_km"], rel=1e-4)  # weights 1:1


@pytest.mark.slow
def test_mt4ssl_refuses_labels_made_for_another_config(audio_dirs, tmp_path):
    labels = make_kmeans_labels(audio_dirs, MT4SSL, tmp_path / "labels")  # 8 clusters of MFCC
    with pytest.raises(ValueError, match="labels_info.yaml says the labels have 8 classes"):
        _train(MT4SSL, tmp_path / "mt4ssl", audio_dirs, "--max_epoch", 1, *labels)  # the config's 50


@pytest.mark.slow
def test_resume_continues_steps_and_ema_schedule(audio_dirs, tmp_path):
    common = ("--optim_conf", "lr=0.002", "--scheduler_conf", "warmup_steps=4", "--accum_grad", 2)
    _train(DATA2VEC, tmp_path / "straight", audio_dirs, "--max_epoch", 4, *common)
    # The same run, stopped after 2 epochs and resumed.
    _train(DATA2VEC, tmp_path / "resumed", audio_dirs, "--max_epoch", 2, *common)
    stats = _train(DATA2VEC, tmp_path / "resumed", audio_dirs, "--max_epoch", 4, "--resume", "true", *common)

    straight = torch.load(tmp_path / "straight" / "checkpoint.pth", weights_only=False)["model"]
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pth", weights_only=False)["model"]
    # 2 batches per epoch, accum_grad 2 -> 1 optimizer update per epoch
    assert int(resumed["num_updates"]) == int(straight["num_updates"]) == 4
    assert stats[4]["ema_decay"] == pytest.approx(ema_decay(3, *EMA_SCHEDULE), abs=2e-7)
    for key, value in straight.items():
        assert torch.allclose(value.float(), resumed[key].float(), atol=1e-5), key


@pytest.mark.parametrize("conf", sorted((REPO / "egs2").glob("*/*/conf/pretrain_*.yaml")), ids=lambda p: p.name)
def test_print_config_for_every_pretraining_config(conf, monkeypatch):
    # ESPnet's --print_config reads sys.argv itself, as from the command line
    # (the CLI itself is run in a subprocess in the fresh-process test below).
    monkeypatch.setattr(sys, "argv", ["trinet_train", "--config", str(conf), "--print_config"])
    out = io.StringIO()
    TriNetTask.print_config(file=out)
    printed = yaml.safe_load(out.getvalue())
    given = yaml.safe_load(conf.read_text())
    assert printed["encoder"] == given["encoder"] and printed["model"] == "ssl"
    assert printed["encoder_conf"]["num_blocks"] == given["encoder_conf"]["num_blocks"]
    for key in ("targets", "objectives", "view"):
        assert printed[key] == given[key], key
    for key in ("view_conf", "model_conf"):  # printed with the defaults of what the config leaves out
        assert printed[key] == {**printed[key], **given[key]}, key


@pytest.mark.slow
def test_model_rebuilds_from_config_in_a_fresh_process(audio_dirs, tmp_path):
    out = tmp_path / "d2v"
    _train(DATA2VEC, out, audio_dirs, "--max_epoch", 1)
    code = (
        "import torch\n"
        "from espnet_trinet.tasks.trinet import TriNetTask\n"
        f"model, args = TriNetTask.build_model_from_file('{out}/config.yaml', '{out}/1epoch.pth')\n"
        f"saved = torch.load('{out}/1epoch.pth')\n"
        "assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())\n"
        "print('rebuilt', type(model).__name__, len(saved))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rebuilt SSLModel" in result.stdout

    cli = [sys.executable, "-m", "espnet_trinet.bin.trinet_train", "--config", str(TRINET), "--print_config"]
    printed = subprocess.run(cli, capture_output=True, text=True, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert yaml.safe_load(printed.stdout)["targets"][1]["conf"]["projector"] == "ctc"


# The recipes' configs, and the benchmarks' variants of them (bench/configs).
SHIPPED = sorted((REPO / "egs2").glob("*/*/conf/pretrain_*.yaml")) + sorted((REPO / "bench" / "configs").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("conf", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_config_trains_a_few_steps(conf, asr_teacher, audio_dirs, tmp_path):
    """Each pretraining config as shipped (blocks, heads, targets, objectives, view, schedule), with the
    encoder 48 wide and 2 batches; its frozen teacher, if any, is the tiny test teacher, online."""
    given = yaml.safe_load(conf.read_text())
    extra = ["--encoder_conf", "output_size=48", "--encoder_conf", "linear_units=64", "--max_epoch", 1,
             "--num_iters_per_epoch", 2, "--use_amp", "false", "--num_workers", 0,
             "--use_tensorboard", "false", "--use_matplotlib", "false"]  # plots cost more than these 2 steps
    for spec in given["targets"]:
        if spec["type"] == "frozen_asr":
            extra += ["--target_conf", f"{spec['name']}.mode=online",
                      "--target_conf", f"{spec['name']}.asr_model_file={asr_teacher}"]
        if spec["type"] == "frame_labels":  # k-means labels of MFCC (8 clusters fit the 8 tiny utterances)
            name = spec["name"]
            extra += ["--target_conf", f"{name}.features=mfcc", "--target_conf", f"{name}.num_classes=8",
                      "--target_conf", f"{name}.feature_method=null", "--target_conf", f"{name}.feature_layer=null",
                      *make_kmeans_labels(audio_dirs, conf, tmp_path / "labels")]
    augmentation = (given.get("view_conf") or {}).get("augmentation")
    if augmentation is not None:  # an augmented view (data2vec-aqc): a tiny generated noise and RIR corpus
        from espnet_trinet.augmentation.generated_corpus import write_augmentation_corpus

        noise_scp, rir_scp = write_augmentation_corpus(tmp_path / "augmentation", num_noises=2, noise_seconds=1.0,
                                                       num_rirs=2)
        extra += ["--view_conf", f"augmentation.reverb.rir_scp={rir_scp}",
                  "--view_conf", f"augmentation.background_noise.noise_scp={noise_scp}"]
    out = tmp_path / "exp"
    stats = _train(conf, out, audio_dirs, *extra)
    updates = 2 // given.get("accum_grad", 1)  # 2 batches
    assert int(torch.load(out / "checkpoint.pth", weights_only=False)["model"]["num_updates"]) == updates
    for objective in given["objectives"]:
        assert math.isfinite(stats[1][f"loss_{objective['name']}"]), objective["name"]
    assert math.isfinite(stats[1]["loss"]) and stats[1]["eff_rank"] >= 1


def test_trainer_hooks_fire_once_per_update(audio_dirs, tmp_path, monkeypatch):
    """The EMA step hangs on the optimizer's step and the skip counter on zero_grad: with accum_grad 2,
    4 batches are 2 updates, each hook fires twice (ESPnet's Trainer internals this relies on)."""
    from espnet_trinet.models.ssl_model import SSLModel

    calls = {"on_optimizer_step": 0, "on_update_boundary": 0}
    for name in calls:
        original = getattr(SSLModel, name)

        def counted(self, _original=original, _name=name):
            calls[_name] += 1
            return _original(self)

        monkeypatch.setattr(SSLModel, name, counted)
    _train(DATA2VEC, tmp_path / "d2v", audio_dirs, "--max_epoch", 2, "--accum_grad", 2)
    assert calls == {"on_optimizer_step": 2, "on_update_boundary": 2}


@pytest.mark.slow
def test_online_trinet_rebuilds_and_unpacks_without_the_teachers_files(asr_teacher, audio_dirs, tmp_path):
    teacher_dir = tmp_path / "teacher"
    shutil.copytree(asr_teacher.parent, teacher_dir)
    out = tmp_path / "trinet"
    _train(TRINET, out, audio_dirs, "--max_epoch", 1, "--target_conf", "frozen.mode=online",
           "--target_conf", f"frozen.asr_model_file={teacher_dir / asr_teacher.name}")
    packed = tmp_path / "ssl.zip"
    subprocess.run([sys.executable, "-m", "espnet2.bin.pack", "ssl", "--ssl_train_config", str(out / "config.yaml"),
                    "--ssl_model_file", str(out / "1epoch.pth"), "--outpath", str(packed)], check=True,
                   capture_output=True)
    shutil.rmtree(teacher_dir)  # the teacher is gone: the model must not need it
    code = (
        "import sys, torch\n"
        "from espnet2.main_funcs.pack_funcs import unpack\n"
        "from espnet_trinet.tasks.trinet import TriNetTask\n"
        f"files = unpack('{packed}', '{tmp_path / 'unpacked'}')\n"
        "for config, model_file in ((files['ssl_train_config'], files['ssl_model_file']),\n"
        f"                          ('{out}/config.yaml', '{out}/1epoch.pth')):\n"
        "    model, _ = TriNetTask.build_model_from_file(config, model_file)\n"
        "    saved = torch.load(model_file)\n"
        "    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())\n"
        "    print('rebuilt', model.targets['frozen'].mode, model.objectives['regul'].head.out_features)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("rebuilt online 31") == 2


def test_logged_loss_is_the_sum_of_its_terms_with_gradient_accumulation(asr_teacher, audio_dirs, tmp_path):
    # ESPnet divides the loss by accum_grad in place once the stats are registered.
    stats = _train(TRINET, tmp_path / "trinet", audio_dirs, "--max_epoch", 1, "--accum_grad", 2,
                   "--target_conf", "frozen.mode=online", "--target_conf", f"frozen.asr_model_file={asr_teacher}")
    assert stats[1]["loss"] == pytest.approx(stats[1]["loss_struc"] + stats[1]["loss_regul"], rel=1e-5)
