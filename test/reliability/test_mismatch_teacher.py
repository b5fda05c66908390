"""A frozen teacher or dump that does not fit the student fails before the first training step.

Each fault goes through the real entry points (trinet_train, dump_frozen_targets) and
must name the mismatch; no training step may have run (no output dir, no checkpoint).
"""

import shutil

import pytest
import torch
import yaml

from espnet_trinet.bin.dump_frozen_targets import main as dump_main
from espnet_trinet.bin.trinet_train import main as train_main
from trinet_testing import MINI_CONF, TOKENS, build_asr_experiment, train_args

pytestmark = pytest.mark.reliability

TRINET = MINI_CONF / "pretrain_trinet_tiny.yaml"


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Frozen teachers that differ from the tiny student in one respect each."""
    root = tmp_path_factory.mktemp("teachers")
    return dict(
        hop128=build_asr_experiment(root / "hop128", ["--frontend_conf", "hop_length=128"]),
        fs8k=build_asr_experiment(root / "fs8k", ["--frontend_conf", "fs=8000"]),
        subsample6=build_asr_experiment(root / "subsample6", ["--encoder_conf", "input_layer=conv2d6"]),
    )


@pytest.fixture(scope="module")
def dumps(asr_teacher, audio_dirs, tmp_path_factory):
    """{projector: dump root with train/ and valid/} made by the tiny teacher."""
    root = tmp_path_factory.mktemp("dumps")
    out = {}
    for projector in ("ctc", "regression"):
        for d in audio_dirs:
            dump_main(["--data_dir", str(d), "--output_dir", str(root / projector / d.name),
                       "--asr_model_file", str(asr_teacher), "--projector", projector])
        out[projector] = root / projector
    return out


def _offline_args(dump, projector, output_dim, *extra):
    return (
        "--target_conf", "frozen.mode=offline",
        "--target_conf", f"frozen.projector={projector}", "--target_conf", f"frozen.output_dim={output_dim}",
        "--train_data_path_and_name_and_type", f"{dump}/train/targets.scp,frozen_targets,kaldi_ark",
        "--valid_data_path_and_name_and_type", f"{dump}/valid/targets.scp,frozen_targets,kaldi_ark",
        *extra,
    )


def _online_args(teacher, *extra):
    return ("--target_conf", "frozen.mode=online", "--target_conf", f"frozen.asr_model_file={teacher}",
            "--target_conf", "frozen.projector=ctc", *extra)


def _fails_before_training(audio_dirs, out, error, match, *extra):
    with pytest.raises(error, match=match) as caught:
        train_main(train_args(TRINET, out, *audio_dirs, "--max_epoch", 1, *extra))
    assert not out.exists() or not any(out.glob("*.pth")), sorted(out.iterdir())
    return str(caught.value)


def test_offline_output_dim_other_than_the_dump(dumps, audio_dirs, tmp_path):
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "output_dim mismatch",
                                     *_offline_args(dumps["ctc"], "ctc", 32))
    assert "targets of dim 31" in message and "output_dim: 32" in message and "set output_dim=31" in message
    # without output_dim in the config it is read from the dump
    train_main(train_args(TRINET, tmp_path / "fits", *audio_dirs, "--max_epoch", 1,
                          *_offline_args(dumps["ctc"], "ctc", 31)[:4], *_offline_args(dumps["ctc"], "ctc", 31)[6:]))
    assert (tmp_path / "fits" / "1epoch.pth").exists()


def test_offline_regression_dim_other_than_the_dump(dumps, audio_dirs, tmp_path):
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "output_dim mismatch",
                                     *_offline_args(dumps["regression"], "regression", 64))
    assert "regression targets of dim 96" in message


def test_offline_projector_other_than_the_dump(dumps, audio_dirs, tmp_path):
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "projector mismatch",
                                     *_offline_args(dumps["regression"], "ctc", 96))
    assert "'regression' targets" in message and "projector: ctc" in message


def test_offline_dump_without_info_is_unfinished(dumps, audio_dirs, tmp_path):
    broken = tmp_path / "dump"
    shutil.copytree(dumps["ctc"], broken)
    (broken / "valid" / "targets_info.yaml").unlink()
    _fails_before_training(audio_dirs, tmp_path / "exp", FileNotFoundError,
                           r"valid/targets_info.yaml is missing: the dump .* did not finish",
                           *_offline_args(broken, "ctc", 31))


def test_offline_teacher_without_targets_in_the_data(audio_dirs, tmp_path):
    _fails_before_training(audio_dirs, tmp_path / "exp", ValueError,
                           "needs its dumped targets in the training and validation data: add "
                           "--train_data_path_and_name_and_type <dump>/targets.scp,frozen_targets,kaldi_ark",
                           "--target_conf", "frozen.mode=offline", "--target_conf", "frozen.output_dim=31")
    _fails_before_training(audio_dirs, tmp_path / "exp", ValueError,
                           "needs output_dim: none given, and no dump with targets_info.yaml",
                           "--target_conf", "frozen.mode=offline")


def test_offline_dump_whose_first_entry_has_another_dim(dumps, audio_dirs, tmp_path):
    # An info that lies about its targets (e.g. an scp pointing into another dump's ark).
    broken = tmp_path / "dump"
    shutil.copytree(dumps["ctc"], broken)
    regression_scp = (dumps["regression"] / "train" / "targets.scp").read_text()
    (broken / "train" / "targets.scp").write_text(regression_scp)
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "first entry",
                                     *_offline_args(broken, "ctc", 31))
    assert "(T, 31)" in message and "96" in message


@pytest.mark.parametrize(
    "teacher, match",
    [
        ("hop128", r"frame rate mismatch: for 10 s of audio the frozen teacher .* gives 312 frames, the student 249"),
        ("subsample6", r"frame rate mismatch: .* gives 166 frames, the student 249 .*input_layer=conv2d6"),
        ("fs8k", r"sampling rate mismatch: .* expects 8000 Hz audio .* the student's frontend 16000 Hz"),
    ],
)
def test_online_teacher_with_another_frontend(teachers, audio_dirs, tmp_path, teacher, match):
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, match,
                                     *_online_args(teachers[teacher]))
    assert str(teachers[teacher]) in message


def test_dump_by_a_teacher_with_another_frame_shift(teachers, audio_dirs, tmp_path):
    for d in audio_dirs:
        dump_main(["--data_dir", str(d), "--output_dir", str(tmp_path / "dump" / d.name),
                   "--asr_model_file", str(teachers["hop128"]), "--projector", "ctc"])
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "frame rate mismatch",
                                     *_offline_args(tmp_path / "dump", "ctc", 31))
    assert "hop_length=128" in message and "hop_length=160" in message and "targets_info.yaml" in message


def test_dump_refuses_a_teacher_of_another_sampling_rate(teachers, audio_dirs, tmp_path):
    with pytest.raises(ValueError, match="expects 8000 Hz audio, the dump reads 16000 Hz"):
        dump_main(["--data_dir", str(audio_dirs[0]), "--output_dir", str(tmp_path / "dump"),
                   "--asr_model_file", str(teachers["fs8k"])])
    assert not (tmp_path / "dump" / "targets.scp").exists()


@pytest.fixture
def other_token_list(tmp_path):
    """The recipe's token list after a change: the apostrophe dropped."""
    path = tmp_path / "tokens.txt"
    path.write_text("\n".join(t for t in TOKENS if t != "'") + "\n")
    return path


def test_online_teacher_with_another_token_list(asr_teacher, audio_dirs, tmp_path, other_token_list):
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "token list mismatch",
                                     *_online_args(asr_teacher, "--target_conf",
                                                   f"frozen.token_list={other_token_list}"))
    assert "31 tokens" in message and "30 (" in message and "index 29: teacher \"'\", recipe '<sos/eos>'" in message


def test_offline_dump_with_another_token_list(dumps, audio_dirs, tmp_path, other_token_list):
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "token list mismatch",
                                     *_offline_args(dumps["ctc"], "ctc", 31, "--target_conf",
                                                    f"frozen.token_list={other_token_list}"))
    assert "targets_info.yaml" in message
    # The same token list fits, and regression targets do not depend on tokens: both build.
    from espnet_trinet.tasks.trinet import TriNetTask
    from trinet_testing import namespace_from_config

    for projector, dim, tokens in (("ctc", 31, TOKENS), ("regression", 96, str(other_token_list))):
        args = namespace_from_config(
            TRINET, normalize="utterance_mvn", normalize_conf={},
            target_conf=dict(frozen=dict(mode="offline", projector=projector, output_dim=dim, token_list=tokens)),
            train_data_path_and_name_and_type=[(f"{dumps[projector]}/train/targets.scp", "frozen_targets",
                                                "kaldi_ark")],
        )
        TriNetTask.build_model(args)


def test_dump_refuses_a_teacher_with_another_token_list(asr_teacher, audio_dirs, tmp_path, other_token_list):
    with pytest.raises(ValueError, match="token list mismatch"):
        dump_main(["--data_dir", str(audio_dirs[0]), "--output_dir", str(tmp_path / "dump"),
                   "--asr_model_file", str(asr_teacher), "--token_list", str(other_token_list)])
    assert not (tmp_path / "dump").exists()


@pytest.mark.parametrize("missing", ["model", "config"])
def test_missing_teacher_file_fails_before_training(asr_teacher, audio_dirs, tmp_path, missing):
    teacher = tmp_path / "teacher"
    shutil.copytree(asr_teacher.parent, teacher)
    (teacher / ("valid.loss.best.pth" if missing == "model" else "config.yaml")).unlink()
    option = "asr_model_file" if missing == "model" else "asr_train_config"
    _fails_before_training(audio_dirs, tmp_path / "exp", FileNotFoundError,
                           rf"frozen teacher: {option} .* does not exist .*recipe stage 8",
                           *_online_args(teacher / "valid.loss.best.pth"))


def test_missing_teacher_zip_fails_before_training(audio_dirs, tmp_path):
    _fails_before_training(audio_dirs, tmp_path / "exp", FileNotFoundError,
                           r"frozen teacher: packed model .*teacher.zip' does not exist",
                           "--target_conf", "frozen.mode=online", "--target_conf",
                           f"frozen.asr_model_zip={tmp_path / 'teacher.zip'}")


def test_train_and_valid_targets_from_different_teachers(asr_teacher, dumps, audio_dirs, tmp_path):
    # The valid set dumped again after the teacher was retrained (same config, other weights).
    retrained = tmp_path / "retrained"
    shutil.copytree(asr_teacher.parent, retrained)
    state = torch.load(retrained / asr_teacher.name)
    torch.save({k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}, retrained / asr_teacher.name)
    mixed = tmp_path / "dump"
    shutil.copytree(dumps["ctc"] / "train", mixed / "train")
    dump_main(["--data_dir", str(audio_dirs[1]), "--output_dir", str(mixed / "valid"),
               "--asr_model_file", str(retrained / asr_teacher.name), "--projector", "ctc"])
    _fails_before_training(audio_dirs, tmp_path / "exp", ValueError,
                           "the training and validation targets come from different teachers",
                           *_offline_args(mixed, "ctc", 31))


def test_stale_dump_is_not_resumed_with_another_teacher(asr_teacher, teachers, audio_dirs, tmp_path):
    """A killed dump, re-run after the teacher changed, must not append new targets to old ones."""
    out = tmp_path / "dump"
    dump_main(["--data_dir", str(audio_dirs[0]), "--output_dir", str(out), "--asr_model_file", str(asr_teacher),
               "--projector", "random"])
    (out / "targets_info.yaml").unlink()  # as if killed before the end
    before = (out / "targets.scp").read_text()
    retrained = tmp_path / "retrained"
    build_asr_experiment(retrained, ["--encoder_conf", "linear_units=128"])
    with pytest.raises(ValueError, match=r"stale frozen targets(.|\n)*teacher_model_sha256"):
        dump_main(["--data_dir", str(audio_dirs[0]), "--output_dir", str(out),
                   "--asr_model_file", str(retrained / "valid.loss.best.pth"), "--projector", "random"])
    assert (out / "targets.scp").read_text() == before  # nothing appended
    request = yaml.safe_load((out / "targets_request.yaml").read_text())
    assert request["teacher_model"] == str(asr_teacher)


def test_teacher_whose_statistics_file_is_gone(audio_dirs, tmp_path):
    import numpy as np

    stats = tmp_path / "asr_stats" / "feats_stats.npz"
    stats.parent.mkdir()
    np.savez(stats, count=np.array(10), sum=np.zeros(80), sum_square=np.full(80, 10.0))
    teacher = build_asr_experiment(tmp_path / "teacher", ["--normalize", "global_mvn",
                                                          "--normalize_conf", f"stats_file={stats}"])
    shutil.rmtree(stats.parent)  # e.g. exp/asr_stats_char removed to save space
    expected = r"frozen teacher: .*feats_stats.npz does not exist, but .*config.yaml refers to it"
    message = _fails_before_training(audio_dirs, tmp_path / "exp", FileNotFoundError, expected,
                                     *_online_args(teacher))
    assert "asr.sh stage 10" in message


def test_offline_random_dump_with_another_seed(asr_teacher, audio_dirs, tmp_path):
    for d in audio_dirs:
        dump_main(["--data_dir", str(d), "--output_dir", str(tmp_path / "dump" / d.name),
                   "--asr_model_file", str(asr_teacher), "--projector", "random"])
    message = _fails_before_training(audio_dirs, tmp_path / "exp", ValueError, "seed mismatch",
                                     *_offline_args(tmp_path / "dump", "random", 32, "--target_conf", "frozen.seed=1"))
    assert "dumped with seed 0" in message and "has seed: 1" in message
