"""data2vec-aqc's two views in the training step: the teachers see the clean audio only, the student
its augmented copy; both views have one length and one mask."""

import copy

import pytest
import torch

from espnet_trinet.encoders.layerwise import embed_frames_without_dropout
from espnet_trinet.objectives import cross_contrastive
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, namespace_from_config

CONF = MINI_CONF / "pretrain_d2v_aqc_tiny.yaml"


@pytest.fixture(scope="module")
def model():
    args = namespace_from_config(CONF, normalize="utterance_mvn", normalize_conf={})
    torch.manual_seed(0)
    return TriNetTask.build_model(args).train()


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([16000, 12000, 9000])
    speech = 0.1 * torch.randn(3, 16000, generator=g)
    for i, n in enumerate(lengths):
        speech[i, n:] = 0
    return speech, lengths


def _augmented(speech, lengths, seed):
    g = torch.Generator().manual_seed(seed)
    noisy = speech + 0.05 * torch.randn(speech.shape, generator=g)
    for i, n in enumerate(lengths):
        noisy[i, n:] = 0
    return noisy


def _inputs_of(module, run):
    seen = []

    def record(_, args):
        x = args[0][0] if isinstance(args[0], tuple) else args[0]  # (x, pos_emb) with relative positions
        seen.append(x.detach().clone())

    handle = module.register_forward_pre_hook(record)
    try:
        run()
    finally:
        handle.remove()
    return seen


def test_the_teacher_sees_the_clean_audio_and_the_student_the_augmented(model):
    speech, lengths = _batch()
    teacher_block = model.targets["ema"].teacher.model[0]
    student_block = model.encoder.encoders[0]
    runs = {}
    for seed in (1, 2):
        augmented = _augmented(speech, lengths, seed)
        torch.manual_seed(0)
        run = lambda: model(speech, lengths, speech_aug=augmented, speech_aug_lengths=lengths.clone())  # noqa: E731
        student_in = []
        teacher_in = _inputs_of(teacher_block, lambda: student_in.extend(_inputs_of(student_block, run)))
        runs[seed] = teacher_in[0], student_in[0]
    # The teacher's input: the clean frames without dropout, whatever the augmented copy.
    torch.testing.assert_close(runs[1][0], runs[2][0], rtol=0, atol=0)
    feats, feats_lengths = model._features(speech, lengths)
    clean_frames = embed_frames_without_dropout(model.encoder, feats, feats_lengths)[0]
    torch.testing.assert_close(runs[1][0], clean_frames)
    # The student's input follows the augmented copy.
    assert not torch.allclose(runs[1][1], runs[2][1])


def test_both_views_share_the_length_and_the_mask(model, monkeypatch):
    speech, lengths = _batch()
    calls = []
    original = cross_contrastive.contrastive_loss

    def recording(pred, quantized, utterance, negatives, valid, *args):
        calls.append((pred.shape, quantized.shape, negatives.shape))
        return original(pred, quantized, utterance, negatives, valid, *args)

    monkeypatch.setattr(cross_contrastive, "contrastive_loss", recording)
    masked = []
    monkeypatch.setattr(model.view, "forward", lambda *a, __f=type(model.view).forward: (
        masked.append(out := __f(model.view, *a)) or out))
    _, stats, _ = model(speech, lengths, speech_aug=_augmented(speech, lengths, 1), speech_aug_lengths=lengths.clone())
    num_masked = int(masked[0].masked.sum())
    # Student -> clean codes and teacher -> augmented codes: the same masked frames.
    assert [c[0][0] for c in calls] == [num_masked, num_masked]
    assert [c[1] for c in calls] == [torch.Size([num_masked, 256])] * 2
    assert [c[2] for c in calls] == [torch.Size([num_masked, 100])] * 2
    assert float(stats["loss_ccl"]) > 0 and float(stats["code_ppl_student"]) > 0


def test_an_augmented_copy_of_another_length_is_refused(model):
    speech, lengths = _batch()
    with pytest.raises(ValueError, match="keep its utterance's length"):
        model(speech, lengths, speech_aug=speech[:, :15000], speech_aug_lengths=lengths.clamp(max=15000))
    with pytest.raises(RuntimeError, match="speech_aug"):
        model(speech, lengths)


def test_gradients_reach_the_quantiser_the_head_and_the_subsampling(model):
    speech, lengths = _batch()
    model.zero_grad()
    loss, _, _ = model(speech, lengths, speech_aug=_augmented(speech, lengths, 1), speech_aug_lengths=lengths.clone())
    loss.backward()
    for name in ("targets.codes.quantizer.weight_proj.weight", "targets.codes.quantizer.entries",
                 "targets.codes.project.weight", "objectives.ccl.head.weight", "encoder.embed.conv.0.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name
    assert all(p.grad is None for p in model.targets["ema"].teacher.parameters())
