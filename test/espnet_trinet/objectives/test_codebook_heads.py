"""DinoSR's heads: one per codebook, cross-entropy averaged over them, on the objective's frames."""

import pytest
import torch
import torch.nn.functional as F

from espnet_trinet.objectives.codebook_heads import CodebookHeads
from espnet_trinet.objectives.normalization import normalized_loss
from espnet_trinet.targets.abs_targets import Targets
from espnet_trinet.tasks.trinet import TriNetTask
from trinet_testing import MINI_CONF, namespace_from_config


def _heads(num_groups=3, dim=8, size=5):
    torch.manual_seed(0)
    return CodebookHeads("codebook", dim, size, "hard", num_groups=num_groups)


def test_loss_is_the_cross_entropy_averaged_over_the_codebooks():
    heads = _heads()
    student = torch.randn(2, 6, 8)
    ids = torch.randint(0, 5, (2, 6, 3))
    frames = torch.rand(2, 6) < 0.6
    out = heads(student, Targets(ids, torch.ones(2, 6, dtype=torch.bool), "hard"), frames)
    expected = sum(F.cross_entropy(heads.heads[k](student[frames]), ids[frames][:, k], reduction="none")
                   for k in range(3)) / 3
    torch.testing.assert_close(out.per_frame, expected)
    assert out.elements_per_frame == 1
    # reference normalisation without 1/sqrt(D): DinoSR's (losses / n_codebooks).sum() / masked frames
    num_masked = frames.sum()
    term = normalized_loss(out.per_frame, 1, "reference", 8, num_masked, heads.sqrt_dim_scale)
    torch.testing.assert_close(term, expected.sum() / num_masked)
    assert heads.sqrt_dim_scale is False and heads.tap == "block:N"


def test_prediction_perplexity_and_spread():
    heads = _heads()
    with torch.no_grad():
        for head in heads.heads:
            head.weight.zero_(), head.bias.zero_()
    out = heads(torch.randn(2, 4, 8), Targets(torch.zeros(2, 4, 3, dtype=torch.long), None, "hard"),
                torch.ones(2, 4, dtype=torch.bool))
    assert float(out.stats["pred_ppl"]) == pytest.approx(5.0, rel=1e-4)  # uniform over 5 codewords
    assert float(out.stats["pred_var"]) == pytest.approx(1e-3, rel=1e-3)  # constant logits: sqrt(eps)


def test_no_frame_keeps_every_head_in_the_graph():
    heads = _heads()
    out = heads(torch.randn(2, 4, 8, requires_grad=True), Targets(torch.zeros(2, 4, 3, dtype=torch.long), None,
                                                                   "hard"), torch.zeros(2, 4, dtype=torch.bool))
    out.per_frame.sum().backward()
    assert float(out.per_frame.detach().sum()) == 0.0
    assert all(p.grad is not None and not p.grad.any() for p in heads.parameters())
    assert torch.isnan(out.stats["pred_ppl"])  # no frame: left out of the log, not a collapse


def test_heads_and_codebooks_must_match():
    with pytest.raises(ValueError, match="needs hard targets"):
        CodebookHeads("codebook", 8, 8, "regression", num_groups=1)
    heads = _heads(num_groups=3)
    with pytest.raises(ValueError, match=r"3 heads, but targets of shape \(2, 4, 2\)"):
        heads(torch.randn(2, 4, 8), Targets(torch.zeros(2, 4, 2, dtype=torch.long), None, "hard"),
              torch.ones(2, 4, dtype=torch.bool))


def test_the_task_builds_one_head_per_codebook_and_a_linear_head_fails_clearly():
    args = namespace_from_config(MINI_CONF / "pretrain_dinosr_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={}, target_conf=dict(codebooks=dict(top_k=2, codebook_size=16)))
    model = TriNetTask.build_model(args)
    heads = model.objectives["codebook"].heads
    assert len(heads) == 2 and heads[0].out_features == 16 and heads[0].in_features == 96
    args = namespace_from_config(MINI_CONF / "pretrain_dinosr_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    args.objectives[0]["type"] = "linear"
    with pytest.raises(ValueError, match="3 ids per frame.*use type codebook_heads"):
        TriNetTask.build_model(args)
