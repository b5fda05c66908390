"""Collapse statistics (target/prediction spread, effective rank) and the guard that
stops a collapsing run with an actionable message."""

from typing import Dict, Optional

import torch


def per_dim_std(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Standard deviation of each dim across frames, averaged over dims.

    This is what data2vec logs as ``target_var``/``pred_var`` (and what its guard
    thresholds, 0.1 and 0.01, refer to), so the same names are kept here.

    Args:
        x: (N, D) frames.
    Returns:
        scalar float32.
    """
    x = x.detach().float()
    if x.size(0) < 2:
        return x.new_zeros(())
    return torch.sqrt(x.var(dim=0) + eps).mean()


def effective_rank(x: torch.Tensor, max_frames: int = 4096) -> torch.Tensor:
    """Entropy-based effective rank (Roy & Vetterli, 2007) of a set of frames.

    exp(H(p)) with p_i = s_i / sum(s), s the singular values of the centred (N, D)
    matrix: D for isotropic features, 1 when every frame lies on one line
    (dimensional collapse). Frames are strided down to ``max_frames`` to bound the
    cost; the eigen-decomposition is done on the D x D covariance, in float64: in
    float32 its small eigenvalues are rounding noise whose square roots move the
    rank in the 4th digit with the summation order (BLAS kernel, CPU model).

    Args:
        x: (N, D) frames.
    Returns:
        scalar float32 in [1, min(N, D)].
    """
    x = x.detach().float()
    if x.size(0) > max_frames:
        x = x[:: (x.size(0) + max_frames - 1) // max_frames]
    if x.size(0) < 2:
        return x.new_ones(())
    x = x.double()
    x = x - x.mean(dim=0, keepdim=True)
    eig = torch.linalg.eigvalsh(x.T @ x).clamp(min=0.0)
    s = torch.sqrt(eig)
    total = s.sum()
    if total <= 0:
        return x.new_ones((), dtype=torch.float32)
    p = s / total
    entropy = -(p * torch.log(p.clamp(min=1e-30))).sum()
    return torch.exp(entropy).float()


class CollapseError(RuntimeError):
    """Raised by ``CollapseGuard``: training is stopped instead of going on silently."""


# What a statistic under its threshold means, and what to do: the spreads and the rank watch
# the student and the EMA teacher; codebook_ppl watches DinoSR's online codebooks.
_REPRESENTATION = (
    "Likely cause: the student and the EMA teacher converged to a "
    "near-constant output, usually because the learning rate is too high or its "
    "warm-up too short, or the EMA decay starts too low (the teacher follows the "
    "student too closely). Fix: lower optim_conf.lr or lengthen the scheduler "
    "warm-up, raise the EMA target's decay_start, and resume from an earlier "
    "checkpoint; with TriNet, a larger weight of the frozen-teacher objective "
    "also anchors the student."
)
_CODEBOOKS = (
    "Likely cause: the teacher's layers collapsed onto a few codewords of the online "
    "codebooks, so the targets carry little information: codebook_decay too low (the "
    "codewords chase each batch), the learning rate too high, or the EMA teacher follows "
    "the student too closely or was frozen too early. Fix: in the online_codebooks target's "
    "conf raise codebook_decay, raise decay_start/decay_end or freeze_teacher_after (null: "
    "never), or lower optim_conf.lr or lengthen the scheduler warm-up, and resume from an "
    "earlier checkpoint (one from before codebook_ppl fell)."
)
_QUANTISER = (
    "Likely cause: the Gumbel quantiser (data2vec-aqc's quantized_frames) puts the frames of an "
    "utterance on the same few entries; a negative equal to its positive is left out of the "
    "contrastive loss, so such a collapse drives it to 0 while the targets stop carrying "
    "information: the temperature falls too fast (temperature's decay per update), the diversity "
    "penalty is too weak (diversity_weight), or the learning rate is too high. Fix: in the "
    "quantized_frames target's conf slow the temperature's decay or raise diversity_weight, or "
    "lower optim_conf.lr, and resume from an earlier checkpoint (one from before code_ppl fell)."
)
MESSAGES = dict(target_var=_REPRESENTATION, pred_var=_REPRESENTATION, eff_rank=_REPRESENTATION,
                codebook_ppl=_CODEBOOKS, code_ppl=_QUANTISER)
WHAT = dict(codebook_ppl="codebook collapse", code_ppl="quantiser collapse")


class CollapseGuard:
    """Stops training when targets or predictions lose their spread.

    The defaults are data2vec's (reference code): after 5k updates, target_var < 0.1
    or pred_var < 0.01 means the student and the EMA teacher have agreed on a
    near-constant output. ``min_effective_rank`` (off by default) also catches slow
    dimensional collapse, which the variances alone miss. ``min_codebook_ppl`` (off by
    default) watches DinoSR's codebook usage (``codebook_ppl``, from 1: every frame on one
    codeword, to V: all used equally); the reference code logs it and stops on nothing.
    ``min_code_ppl`` (off by default) watches data2vec-aqc's quantiser (``code_ppl``, the
    perplexity of its hard picks summed over groups: from G to G V).

    Args:
        min_target_var: threshold on ``target_var`` (None = off).
        min_pred_var: threshold on ``pred_var`` (None = off).
        min_effective_rank: threshold on ``eff_rank`` (None = off).
        min_codebook_ppl: threshold on ``codebook_ppl`` (None = off).
        min_code_ppl: threshold on ``code_ppl`` (None = off).
        warmup_updates: no check before this many optimizer updates.
    """

    def __init__(
        self,
        min_target_var: Optional[float] = 0.1,
        min_pred_var: Optional[float] = 0.01,
        min_effective_rank: Optional[float] = None,
        min_codebook_ppl: Optional[float] = None,
        min_code_ppl: Optional[float] = None,
        warmup_updates: int = 5000,
    ):
        self.thresholds = {
            "target_var": min_target_var,
            "pred_var": min_pred_var,
            "eff_rank": min_effective_rank,
            "codebook_ppl": min_codebook_ppl,
            "code_ppl": min_code_ppl,
        }
        self.warmup_updates = warmup_updates

    def check(self, num_updates: int, stats: Dict[str, torch.Tensor]) -> None:
        """Raise ``CollapseError`` if a monitored statistic is under its threshold."""
        if num_updates < self.warmup_updates:
            return
        for name, threshold in self.thresholds.items():
            if threshold is None or name not in stats:
                continue
            value = float(stats[name])
            if value < threshold:
                what = WHAT.get(name, "representation collapse")
                raise CollapseError(
                    f"{what} after {num_updates} updates: {name}={value:.4g} < {threshold}. "
                    f"{MESSAGES[name]} The thresholds live in model_conf.collapse_guard."
                )
