"""The two loss normalisations, against hand computations, in the model."""

import math

import pytest
import torch

from espnet_trinet.encoders.layerwise import embed_frames
from espnet_trinet.objectives.normalization import normalized_loss
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, load_batch, namespace_from_config


def test_per_frame_losses_reduce_as_a_mean_or_as_the_reference_sums():
    per_frame = torch.tensor([2.0, 4.0, 6.0])  # squared errors summed over 4 dims
    assert float(normalized_loss(per_frame, 4, "frame_mean", 16, torch.tensor(5))) == pytest.approx(12 / (3 * 4))
    assert float(normalized_loss(per_frame, 4, "reference", 16, torch.tensor(5))) == pytest.approx(12 / 4 / 5)
    with pytest.raises(ValueError, match="loss_normalization must be one of"):
        normalized_loss(per_frame, 4, "sum", 16, torch.tensor(5))


def test_a_cross_entropy_without_the_sqrt_dim_scale_is_its_sum_over_masked_frames():
    # MT4SSL's k-means CE and DinoSR's: sum / masked frames, no 1/sqrt(D); frame_mean ignores the flag
    per_ce = torch.tensor([1.0, 2.0, 3.0])
    assert float(normalized_loss(per_ce, 1, "reference", 16, torch.tensor(4), sqrt_dim_scale=False)) == 6 / 4
    assert float(normalized_loss(per_ce, 1, "reference", 16, torch.tensor(4))) == pytest.approx(6 / 4 / 4)
    assert float(normalized_loss(per_ce, 1, "frame_mean", 16, torch.tensor(4), sqrt_dim_scale=False)) == 2.0


def test_mt4ssl_reference_loss_by_hand(audio_dirs):
    """With loss_normalization reference the MT4SSL config gives its released code's loss:
    (sum of L2 x 1/sqrt(D) + sum of CE) / masked frames."""
    args = namespace_from_config(MINI_CONF / "pretrain_mt4ssl_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    args.model_conf = {**args.model_conf, "loss_normalization": "reference"}
    args.model_conf.pop("collapse_guard", None)
    torch.manual_seed(0)
    model = TriNetTask.build_model(args)
    model.eval()  # no dropout: the hand computation repeats the forward pass
    speech, lengths = load_batch(audio_dirs[0], 2)
    with torch.no_grad():
        feats, feats_lengths = model._features(speech, lengths)
        label_lengths = embed_frames(model.encoder, feats, feats_lengths)[2].sum(dim=(1, 2))  # (B,)
    labels = torch.randint(0, 50, (2, int(label_lengths.max())), generator=torch.Generator().manual_seed(1)).float()
    captured = {}
    for name, objective in model.objectives.items():
        objective.register_forward_hook(lambda m, inp, out, name=name: captured.update({name: (out, inp[2])}))
    torch.manual_seed(3)
    loss, stats, _ = model(speech, lengths, labels=labels, labels_lengths=label_lengths)
    (struc, masked), (km, km_frames) = captured["struc"], captured["km"]
    assert torch.equal(masked, km_frames)  # both on the masked frames
    num_masked = int(masked.sum())
    expected_struc = float(struc.per_frame.detach().sum()) / math.sqrt(96) / num_masked
    expected_km = float(km.per_frame.detach().sum()) / num_masked
    assert float(stats["loss_struc"]) == pytest.approx(expected_struc, rel=1e-5)
    assert float(stats["loss_km"]) == pytest.approx(expected_km, rel=1e-5)
    assert float(loss.detach()) == pytest.approx(expected_struc + expected_km, rel=1e-5)


def test_reference_normalisation_of_trinet_by_hand(audio_dirs):
    """L = [sum over masked frames and dims of (p - t)^2 + sum over all frames of CE] / sqrt(D) / masked frames."""
    args = namespace_from_config(MINI_CONF / "pretrain_trinet_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={}, target_conf=dict(frozen=dict(projector="random", output_dim=8)))
    args.model_conf = {**args.model_conf, "loss_normalization": "reference"}
    torch.manual_seed(0)
    model = TriNetTask.build_model(args).eval()  # eval: no dropout, so the hand computation sees the same
    speech, lengths = load_batch(audio_dirs[0], 2)
    captured = {}
    model.objectives["struc"].register_forward_hook(lambda m, i, o: captured.update(struc=(i, m.head(i[0]))))
    model.objectives["regul"].register_forward_hook(lambda m, i, o: captured.update(regul=(i, m.head(i[0]))))
    frames = embed_frames(model.encoder, *model._features(speech, lengths))[2].squeeze(1).sum(dim=1)
    ids = torch.randint(0, 8, (2, int(frames.max()))).float()
    torch.manual_seed(1)
    loss, stats, weight = model(speech, lengths, frozen_targets=ids, frozen_targets_lengths=frames)
    (tap, ema, masked), pred = captured["struc"]
    struc_sum = ((pred[masked] - ema.values[masked]) ** 2).sum().detach()
    (tap, frozen, frames), logits = captured["regul"]
    ce_sum = torch.nn.functional.cross_entropy(logits[frames], frozen.values[frames], reduction="sum").detach()
    num_masked = masked.sum()
    dim = model.encoder.output_size()
    assert frames.sum() > num_masked  # regul counts all frames, the normaliser only the masked ones
    assert float(stats["loss_struc"]) == pytest.approx(float(struc_sum / math.sqrt(dim) / num_masked), rel=1e-5)
    assert float(stats["loss_regul"]) == pytest.approx(float(ce_sum / math.sqrt(dim) / num_masked), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(float((struc_sum + ce_sum) / math.sqrt(dim) / num_masked), rel=1e-5)
    assert int(weight) == int(num_masked)  # DDP averages over masked frames, as the reference's sample_size
