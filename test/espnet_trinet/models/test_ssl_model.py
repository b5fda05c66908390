import pytest
import torch

from espnet_trinet.monitor.collapse import CollapseError
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, load_batch, namespace_from_config


def _data2vec(model_conf=None, **ema_conf):
    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={}, target_conf=dict(ema=ema_conf))
    args.model_conf = {**args.model_conf, **(model_conf or {})}
    return TriNetTask.build_model(args)


def test_forward_reports_every_monitor_statistic(audio_dirs):
    torch.manual_seed(0)
    model = _data2vec()
    speech, lengths = load_batch(audio_dirs[0], 3)
    loss, stats, weight = model(speech, lengths)
    assert loss.numel() == 1 and torch.isfinite(loss).all() and int(weight) == 3  # gatherable (1,) shapes
    assert set(stats) >= {"loss", "loss_struc", "ema_decay", "target_var", "pred_var", "eff_rank", "mask_ratio",
                          "pred_var_struc", "target_var_struc", "nonfinite_loss"}
    assert "loss_regul" not in stats  # data2vec: no frozen branch
    assert stats["pred_var"] == stats["pred_var_struc"]  # the monitored objective under data2vec's names
    assert 1.0 <= float(stats["eff_rank"]) <= 96
    assert 0.3 < float(stats["mask_ratio"]) < 0.8
    loss.backward()
    assert model.view.mask_emb.grad is not None and model.objectives["struc"].head.weight.grad is not None
    assert all(p.grad is None for p in model.targets["ema"].parameters())
    assert not model.encoder.after_norm.weight.requires_grad  # no objective taps "final"


def test_ema_teacher_follows_the_student_by_the_scheduled_decay():
    model = _data2vec(decay_start=0.5, decay_end=0.5)
    with torch.no_grad():
        for p in model.encoder.encoders.parameters():
            p.add_(1.0)
    teacher = model.targets["ema"].teacher
    teacher_before = [p.clone() for p in teacher.parameters()]
    model.on_optimizer_step()
    for t_before, t, s in zip(teacher_before, teacher.parameters(), model.encoder.encoders.parameters()):
        assert torch.allclose(t, 0.5 * t_before + 0.5 * s)
    assert int(model.num_updates) == 1


def test_collapse_guard_stops_training_but_not_validation(audio_dirs):
    model = _data2vec(dict(collapse_guard=dict(min_target_var=10.0, min_pred_var=None, warmup_updates=0)))
    speech, lengths = load_batch(audio_dirs[0], 2)
    model.eval()
    model(speech, lengths)
    model.train()
    with pytest.raises(CollapseError, match="target_var=.* < 10.0.*Fix:"):
        model(speech, lengths)


def test_bad_settings_fail_at_build_time():
    with pytest.raises(ValueError, match="top_k=5 blocks do not fit below block 4"):
        _data2vec(top_k=5)
    with pytest.raises(ValueError, match="block 'N-7' is outside the encoder's 4 blocks"):
        _data2vec(last_block="N-7")
    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    for conf, message in (
        (dict(struc=dict(tap="block:9")), "tap 'block:9'.*outside the encoder's 4 blocks"),
        (dict(struc=dict(tap="middle")), "tap must be 'final' or 'block:K'"),
        (dict(struc=dict(targets="frozen")), "needs conf.targets, one of the target sources \\['ema'\\]"),
        (dict(struc=dict(frames="some")), "frames must be one of"),
        (dict(other=dict(weight=2)), "--objective_conf names \\['other'\\]"),
    ):
        args.objective_conf = conf
        with pytest.raises(ValueError, match=message):
            TriNetTask.build_model(args)
    args.objective_conf = {}
    args.model_conf = {**args.model_conf, "loss_normalization": "sum"}
    with pytest.raises(ValueError, match="loss_normalization must be one of"):
        TriNetTask.build_model(args)


def test_an_objective_on_unmasked_frames_and_one_on_all(audio_dirs):
    """Objectives choose their frames: masked, unmasked or all (here two on one source)."""
    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    args.objectives = args.objectives + [
        dict(name="visible", type="linear", conf=dict(tap="final", targets="ema", frames="unmasked", weight=0.5))]
    torch.manual_seed(0)
    model = TriNetTask.build_model(args)
    speech, lengths = load_batch(audio_dirs[0], 2)
    loss, stats, _ = model(speech, lengths)
    assert {"loss_struc", "loss_visible", "pred_var_visible"} <= set(stats)
    assert float(stats["loss"]) == pytest.approx(float(stats["loss_struc"]) + 0.5 * float(stats["loss_visible"]),
                                                 rel=1e-6)
    assert model.encoder.after_norm.weight.requires_grad  # tapped now


def test_a_view_can_give_the_student_another_waveform(audio_dirs):
    """The hook for augmented views: the student's blocks see its waveform, the teachers the intact one."""
    from espnet_trinet.views.span_mask import SpanMaskView

    class ShiftedStudent(SpanMaskView):
        def student_speech(self, speech, speech_lengths, data):
            return speech.roll(1600, dims=1)  # 0.1 s later

    speech, lengths = load_batch(audio_dirs[0], 2)
    results = []
    for shifted in (False, True):
        torch.manual_seed(0)
        model = _data2vec().eval()
        if shifted:
            model.view.__class__ = ShiftedStudent
        seen = {}
        model.targets["ema"].register_forward_hook(lambda m, i, out: seen.update(targets=out.values))
        model.view.register_forward_hook(lambda m, i, out: seen.update(student=i[0]))
        torch.manual_seed(1)
        model(speech, lengths)
        results.append(seen)
    assert torch.equal(results[0]["targets"], results[1]["targets"])  # the teacher: intact audio
    assert not torch.allclose(results[0]["student"], results[1]["student"])  # the student: its own
