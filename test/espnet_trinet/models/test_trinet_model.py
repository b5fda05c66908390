import pytest
import torch

from espnet_trinet.monitor.collapse import CollapseError
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, load_batch, namespace_from_config


def _data2vec(**model_conf):
    args = namespace_from_config(MINI_CONF / "pretrain_data2vec_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    args.model_conf = {**args.model_conf, **model_conf}
    return TriNetTask.build_model(args)


def test_forward_reports_every_monitor_statistic(audio_dirs):
    torch.manual_seed(0)
    model = _data2vec()
    speech, lengths = load_batch(audio_dirs[0], 3)
    loss, stats, weight = model(speech, lengths)
    assert loss.numel() == 1 and torch.isfinite(loss).all() and int(weight) == 3  # gatherable (1,) shapes
    assert set(stats) >= {"loss", "loss_struc", "ema_decay", "target_var", "pred_var", "eff_rank", "mask_ratio"}
    assert "loss_regul" not in stats  # data2vec: no frozen branch
    assert 1.0 <= float(stats["eff_rank"]) <= 96
    assert 0.3 < float(stats["mask_ratio"]) < 0.8
    loss.backward()
    assert model.mask_emb.grad is not None and model.struc_head.weight.grad is not None
    assert all(p.grad is None for p in model.ema_teacher.parameters())


def test_ema_teacher_follows_the_student_by_the_scheduled_decay():
    model = _data2vec(ema_decay_start=0.5, ema_decay_end=0.5)
    with torch.no_grad():
        for p in model.encoder.encoders.parameters():
            p.add_(1.0)
    teacher_before = [p.clone() for p in model.ema_teacher.parameters()]
    model.on_optimizer_step()
    for t_before, t, s in zip(teacher_before, model.ema_teacher.parameters(), model.encoder.encoders.parameters()):
        assert torch.allclose(t, 0.5 * t_before + 0.5 * s)
    assert int(model.num_updates) == 1


def test_collapse_guard_stops_training_but_not_validation(audio_dirs):
    model = _data2vec(collapse_guard=dict(min_target_var=10.0, min_pred_var=None, warmup_updates=0))
    speech, lengths = load_batch(audio_dirs[0], 2)
    model.eval()
    model(speech, lengths)
    model.train()
    with pytest.raises(CollapseError, match="target_var=.* < 10.0.*Fix:"):
        model(speech, lengths)


def test_bad_layer_settings_fail_at_build_time():
    with pytest.raises(ValueError, match="target_top_k=5"):
        _data2vec(target_top_k=5)
    with pytest.raises(ValueError, match="struc_layer=-7"):
        _data2vec(struc_layer=-7)
