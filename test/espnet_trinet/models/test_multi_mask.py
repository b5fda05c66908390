"""Multi-mask (data2vec 2.0): M clones share one teacher pass; the update does not grow with M;
the whole-encoder EMA teacher."""

import pytest
import torch

from espnet_trinet.tasks.trinet import TriNetTask
from espnet_trinet.views import visible_only
from trinet_testing import MINI_CONF, load_batch, namespace_from_config

DATA2VEC2 = MINI_CONF / "pretrain_data2vec2_tiny.yaml"
NO_DROPOUT = dict(dropout_rate=0.0, positional_dropout_rate=0.0, attention_dropout_rate=0.0)


def _model(model_conf=None, objective_conf=None, target_conf=None, **view_conf):
    args = namespace_from_config(DATA2VEC2, normalize="utterance_mvn", normalize_conf={},
                                 objective_conf=objective_conf or {}, target_conf=target_conf or {})
    args.encoder_conf = {**args.encoder_conf, **NO_DROPOUT}
    args.view_conf = {**args.view_conf, **view_conf}
    args.model_conf = {**args.model_conf, **(model_conf or {})}
    return TriNetTask.build_model(args)


def test_clones_share_one_teacher_pass_and_its_targets(audio_dirs):
    torch.manual_seed(0)
    model = _model(clones=4)
    speech, lengths = load_batch(audio_dirs[0], 3)
    teacher_calls, seen = [], []
    model.targets["ema"].register_forward_hook(lambda _m, _i, out: teacher_calls.append(out.values.shape))
    original = model.objectives["struc"].forward

    def spy(student, targets, frames):
        seen.append((targets, frames))
        return original(student, targets, frames)

    model.objectives["struc"].forward = spy
    model(speech, lengths)
    assert len(teacher_calls) == 1 and teacher_calls[0][0] == 3  # one pass, on the 3 utterances
    targets, frames = seen[0]
    values = targets.values.view(3, 4, *targets.values.shape[1:])
    assert torch.equal(values, values[:, :1].expand_as(values))  # every clone reads its utterance's targets
    per_clone = frames.view(3, 4, -1)
    assert all(len({tuple(r.tolist()) for r in per_clone[b]}) == 4 for b in range(3))  # different masks


@pytest.mark.parametrize("normalization", ["frame_mean", "reference"])
def test_the_gradient_does_not_grow_with_the_clones(audio_dirs, monkeypatch, normalization):
    """M identical clones are one clone M times: the loss is a mean over them, so the gradient
    is the same as with M = 1 (and the batch's weight stays its utterances)."""
    fixed = lambda lengths, T, *a: (torch.arange(T).unsqueeze(0) % 3 == 0) & (  # noqa: E731
        torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1))
    monkeypatch.setattr(visible_only, "compute_span_mask", fixed)
    speech, lengths = load_batch(audio_dirs[0], 2)
    grads, weights = {}, {}
    for clones in (1, 4):
        torch.manual_seed(0)
        model = _model(dict(loss_normalization=normalization), dict(struc=dict(input_dropout=0.0)), clones=clones,
                       noise_std=0.0)
        loss, _, weight = model(speech, lengths)
        loss.backward()
        grads[clones] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        weights[clones] = int(weight)
    assert grads[1].keys() == grads[4].keys() and len(grads[1]) > 10
    for name, grad in grads[1].items():
        torch.testing.assert_close(grads[4][name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert weights[1] == weights[4] == 2 or normalization == "reference"


def test_the_whole_encoder_ema_teacher_has_its_own_subsampling(audio_dirs):
    torch.manual_seed(0)
    model = _model(target_conf=dict(ema=dict(decay_start=0.5, decay_end=0.5)), clones=2)
    source = model.targets["ema"]
    teacher = source.teacher.model
    assert hasattr(teacher, "embed") and teacher.embed is not model.encoder.embed
    speech, lengths = load_batch(audio_dirs[0], 2)
    model.eval()
    torch.manual_seed(0)  # the same masks both times: target_var is the spread of the masked frames' targets
    before = model(speech, lengths)[1]["target_var"]
    with torch.no_grad():  # the student's subsampling moves; the teacher's targets do not
        for p in model.encoder.embed.parameters():
            p.add_(1.0)
    torch.manual_seed(0)
    assert model(speech, lengths)[1]["target_var"] == before
    teacher_embed = [p.clone() for p in teacher.embed.parameters()]
    model.on_optimizer_step()  # the EMA step moves the teacher's subsampling too
    for t_before, t, s in zip(teacher_embed, teacher.embed.parameters(), model.encoder.embed.parameters()):
        torch.testing.assert_close(t, 0.5 * t_before + 0.5 * s)
    with pytest.raises(ValueError, match="cannot share the student's frames"):
        _model(target_conf=dict(ema=dict(share_student_input=True)))
