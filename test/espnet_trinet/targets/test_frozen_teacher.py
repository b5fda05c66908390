import pytest
import torch

from espnet_trinet.targets.frozen_teacher import FrozenTeacherTargets
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, load_batch, namespace_from_config


def build_trinet(asr_teacher, projector="ctc", **teacher_conf):
    args = namespace_from_config(
        MINI_CONF / "pretrain_trinet_tiny.yaml",
        normalize="utterance_mvn",
        normalize_conf={},
        target_conf=dict(frozen=dict(mode="online", asr_model_file=str(asr_teacher), projector=projector,
                                     **teacher_conf)),
    )
    return TriNetTask.build_model(args), args


@pytest.mark.parametrize("projector", ["ctc", "random", "regression"])
def test_frozen_teacher_is_frozen_unsaved_and_unchanged_by_training(asr_teacher, audio_dirs, projector):
    torch.manual_seed(0)
    model, args = build_trinet(asr_teacher, projector)
    teacher = model.targets["frozen"].teacher.model
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    assert all(not p.requires_grad for p in teacher.parameters())
    assert not teacher.training

    # Absent from the student's checkpoint and from what the optimizer sees.
    keys = model.state_dict().keys()
    assert not any(k.startswith("targets.frozen") for k in keys), [k for k in keys if "frozen" in k]
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
    assert {"loss_struc", "loss_regul", "ema_decay", "target_var", "pred_var", "eff_rank", "pred_var_regul"} <= set(stats)


def test_head_size_follows_the_projector(asr_teacher):
    ctc_model, args = build_trinet(asr_teacher, "ctc")
    assert ctc_model.objectives["regul"].head.out_features == 31  # the teacher's token list
    frozen = next(spec for spec in args.targets if spec["name"] == "frozen")
    assert frozen["conf"]["output_dim"] == 31  # found once, written into config.yaml
    random_model, _ = build_trinet(asr_teacher, "random", num_classes=16)
    assert random_model.objectives["regul"].head.out_features == 16
    regression_model, _ = build_trinet(asr_teacher, "regression")
    assert regression_model.objectives["regul"].head.out_features == 96  # the teacher's encoder width


def test_missing_teacher_file_fails_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="asr_model_file.*nothing.pth"):
        FrozenTeacherTargets(mode="online", asr_model_file=str(tmp_path / "nothing.pth"))


def test_teacher_is_loaded_only_when_its_targets_are_needed(tmp_path):
    # With output_dim known (as in a trained model's config.yaml), nothing of the teacher is read.
    source = FrozenTeacherTargets(mode="online", asr_model_file=str(tmp_path / "gone.pth"), output_dim=31)
    assert source.output_dim == 31 and source._lazy["teacher"] is None
    with pytest.raises(FileNotFoundError, match="gone.pth"):
        source.teacher_targets(torch.zeros(1, 16000), torch.tensor([16000]))


def test_teacher_loads_from_a_packed_zip(asr_teacher, audio_dirs, tmp_path):
    from espnet2.main_funcs.pack_funcs import pack

    zip_path = tmp_path / "teacher.zip"
    pack(
        files=dict(asr_model_file=asr_teacher),
        yaml_files=dict(asr_train_config=asr_teacher.parent / "config.yaml"),
        outpath=zip_path,
    )
    from_zip = FrozenTeacherTargets(mode="online", asr_model_zip=str(zip_path), projector="random")
    from_dir = FrozenTeacherTargets(mode="online", asr_model_file=str(asr_teacher), projector="random")
    speech, lengths = load_batch(audio_dirs[0], 2)
    ids_zip, lens_zip = from_zip.teacher_targets(speech, lengths)
    ids_dir, lens_dir = from_dir.teacher_targets(speech, lengths)
    assert torch.equal(ids_zip, ids_dir) and torch.equal(lens_zip, lens_dir)
    assert (tmp_path / "teacher").is_dir()  # unpacked once next to the zip


def test_online_teacher_checks_the_configured_output_dim(asr_teacher):
    model, _ = build_trinet(asr_teacher, "ctc")
    vocab = model.targets["frozen"].output_dim
    build_trinet(asr_teacher, "ctc", output_dim=vocab)  # the same size is accepted
    with pytest.raises(ValueError, match=f"output_dim is {vocab + 1} in the config.*gives {vocab}"):
        build_trinet(asr_teacher, "ctc", output_dim=vocab + 1)


def test_offline_targets_without_output_dim_or_dump_say_where_to_find_it():
    with pytest.raises(ValueError, match="targets_info.yaml.*--train_data_path_and_name_and_type"):
        FrozenTeacherTargets(mode="offline", projector="ctc")
    assert FrozenTeacherTargets(mode="offline", projector="ctc", output_dim=31).output_dim == 31


def test_targets_are_aligned_to_the_student_frames(asr_teacher):
    from espnet_trinet.targets.abs_targets import TeacherInput

    source = FrozenTeacherTargets(mode="offline", projector="random", output_dim=32)
    ids = torch.tensor([[3, 4, 5, -1], [6, 7, -1, -1]], dtype=torch.float)  # the loader's float, padded with -1
    valid = torch.tensor([[True] * 5, [True, True, True, False, False]])  # the student has a frame more
    batch = TeacherInput(torch.zeros(2, 5, 4), None, valid.unsqueeze(1), None, None, None,
                         dict(frozen_targets=ids, frozen_targets_lengths=torch.tensor([3, 2])), 0)
    targets = source(batch)
    assert targets.kind == "hard" and targets.values.shape == (2, 5) and targets.values.dtype == torch.long
    assert targets.frames.tolist() == [[True, True, True, False, False], [True, True, False, False, False]]
    assert targets.values[targets.frames].tolist() == [3, 4, 5, 6, 7]
    far = dict(frozen_targets=ids, frozen_targets_lengths=torch.tensor([3, 2]))
    with pytest.raises(ValueError, match="differ by 4 frames.*frame shift and subsampling"):
        source(TeacherInput(torch.zeros(2, 6, 4), None, torch.ones(2, 1, 6, dtype=torch.bool), None, None, None,
                            far, 0))
