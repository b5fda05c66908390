import pytest
import torch

from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, load_batch, namespace_from_config


def build_trinet(asr_teacher, projector="ctc", **teacher_conf):
    args = namespace_from_config(
        MINI_CONF / "pretrain_trinet_tiny.yaml",
        normalize="utterance_mvn",
        normalize_conf={},
        frozen_teacher="online",
        frozen_teacher_conf=dict(asr_model_file=str(asr_teacher), projector=projector, **teacher_conf),
    )
    return TriNetTask.build_model(args), args


@pytest.mark.parametrize("projector", ["ctc", "random", "regression"])
def test_frozen_teacher_is_frozen_unsaved_and_unchanged_by_training(asr_teacher, audio_dirs, projector):
    torch.manual_seed(0)
    model, args = build_trinet(asr_teacher, projector)
    teacher = model.frozen_targets.teacher.model
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    assert all(not p.requires_grad for p in teacher.parameters())
    assert not teacher.training

    # Absent from the student's checkpoint and from what the optimizer sees.
    keys = model.state_dict().keys()
    assert not any(k.startswith("frozen_targets") for k in keys), [k for k in keys if "frozen" in k]
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}

    optimizer = TriNetTask.build_optimizers(args, model)[0]
    speech, lengths = load_batch(audio_dirs[0])
    model.train()
    for _ in range(3):
        loss, stats, _ = model(speech, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in teacher.parameters())
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert int(model.num_updates) == 3
    assert {"loss_struc", "loss_regul", "ema_decay", "target_var", "pred_var", "eff_rank"} <= set(stats)


def test_head_size_follows_the_projector(asr_teacher):
    ctc_model, _ = build_trinet(asr_teacher, "ctc")
    assert ctc_model.regul_head.out_features == 31  # the teacher's token list
    random_model, _ = build_trinet(asr_teacher, "random", num_classes=16)
    assert random_model.regul_head.out_features == 16
    regression_model, _ = build_trinet(asr_teacher, "regression")
    assert regression_model.regul_head.out_features == 96  # the teacher's encoder width


def test_missing_teacher_file_fails_naming_it(tmp_path):
    from espnet_trinet.teachers.frozen_targets import OnlineFrozenTargets

    with pytest.raises(FileNotFoundError, match="asr_model_file.*nothing.pth"):
        OnlineFrozenTargets(asr_train_config=None, asr_model_file=str(tmp_path / "nothing.pth"))


def test_teacher_loads_from_a_packed_zip(asr_teacher, audio_dirs, tmp_path):
    from espnet2.main_funcs.pack_funcs import pack

    from espnet_trinet.teachers.frozen_targets import OnlineFrozenTargets

    zip_path = tmp_path / "teacher.zip"
    pack(
        files=dict(asr_model_file=asr_teacher),
        yaml_files=dict(asr_train_config=asr_teacher.parent / "config.yaml"),
        outpath=zip_path,
    )
    from_zip = OnlineFrozenTargets(asr_model_zip=str(zip_path), projector="random")
    from_dir = OnlineFrozenTargets(asr_model_file=str(asr_teacher), projector="random")
    speech, lengths = load_batch(audio_dirs[0], 2)
    ids_zip, lens_zip = from_zip(speech, lengths)
    ids_dir, lens_dir = from_dir(speech, lengths)
    assert torch.equal(ids_zip, ids_dir) and torch.equal(lens_zip, lens_dir)
    assert (tmp_path / "teacher").is_dir()  # unpacked once next to the zip


def test_online_teacher_checks_the_configured_output_dim(asr_teacher):
    model, _ = build_trinet(asr_teacher, "ctc")
    vocab = model.frozen_targets.output_dim
    build_trinet(asr_teacher, "ctc", output_dim=vocab)  # the same size is accepted
    with pytest.raises(ValueError, match=f"output_dim is {vocab + 1}.*gives {vocab}"):
        build_trinet(asr_teacher, "ctc", output_dim=vocab + 1)


def test_offline_targets_without_output_dim_say_where_to_find_it():
    from espnet_trinet.teachers.frozen_targets import OfflineFrozenTargets

    with pytest.raises(ValueError, match="targets_info.yaml"):
        OfflineFrozenTargets(projector="ctc")
    assert OfflineFrozenTargets(projector="ctc", output_dim=31).output_dim == 31
