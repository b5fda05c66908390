"""DinoSR's objective: one linear head per codebook, cross-entropy to its codeword ids, averaged."""

import torch

from espnet_trinet.losses.frame_losses import hard_cross_entropy
from espnet_trinet.monitor.collapse import per_dim_std
from espnet_trinet.objectives.abs_objective import AbsObjective, ObjectiveOutput
from espnet_trinet.targets.abs_targets import Targets


class CodebookHeads(AbsObjective):
    """K heads Linear(D, V) on one student tap, each against one of the source's K id sets.

    A frame's loss is the mean over the K heads of their cross-entropies, so that with
    ``loss_normalization: reference`` the term is DinoSR's ``(losses / n_codebooks).sum()``
    over the masked frames, divided by their number (no 1/sqrt(D): ``sqrt_dim_scale`` false).

    The reference code's heads read the encoder's output ``x``: its encoder (post-LN blocks,
    ``layer_norm_first`` false) has no norm after the last block, so ``x`` is the last
    block's output, this framework's ``block:N`` (the tap data2vec's head reads here too),
    not ``final`` (after the encoder's ``after_norm``).

    Args:
        name, weight, tap, targets, frames, sqrt_dim_scale: see ``AbsObjective``.
        input_dim: D of the tap; output_dim: V, the codewords per codebook.
        target_kind: must be "hard".
        num_groups: K, the source's id sets per frame (its codebooks): one head each; the
            task passes the source's ``num_groups``, so heads and codebooks always match.
    """

    def __init__(self, name: str, input_dim: int, output_dim: int, target_kind: str, num_groups: int = 1,
                 tap: str = "block:N", targets: str = "codebooks", frames: str = "masked", weight: float = 1.0,
                 sqrt_dim_scale: bool = False):
        super().__init__()
        if target_kind != "hard":
            raise ValueError(f"objective '{name}': codebook_heads needs hard targets (codeword ids); "
                             f"'{targets}' gives '{target_kind}' ones")
        if num_groups < 1:
            raise ValueError(f"objective '{name}': num_groups must be at least 1, got {num_groups}")
        self.name, self.weight, self.tap, self.targets, self.frames = name, float(weight), tap, targets, frames
        self.sqrt_dim_scale = bool(sqrt_dim_scale)
        self.heads = torch.nn.ModuleList(torch.nn.Linear(input_dim, output_dim) for _ in range(num_groups))

    def forward(self, student: torch.Tensor, targets: Targets, frames: torch.Tensor) -> ObjectiveOutput:
        """student: (B, T, D); targets.values: (B, T, K) int64 ((B, T) for K = 1); frames: (B, T) bool."""
        ids = targets.values.unsqueeze(-1) if targets.values.dim() == 2 else targets.values
        if ids.dim() != 3 or ids.size(-1) != len(self.heads):
            raise ValueError(f"objective '{self.name}': {len(self.heads)} heads, but targets of shape "
                             f"{tuple(ids.shape)} (expected (B, T, {len(self.heads)}))")
        selected = student[frames]  # (N, D)
        if selected.size(0) == 0:
            # No frame to learn from: a zero that keeps every head in the graph (DDP waits for their gradients).
            zero = sum(head(student).sum() for head in self.heads) * 0.0
            nan = student.new_full((), float("nan"))
            return ObjectiveOutput(zero.reshape(1), 1, dict(pred_ppl=nan, pred_var=nan))
        logits = torch.stack([head(selected) for head in self.heads])  # (K, N, V)
        target = ids[frames].T  # (K, N)
        ce = hard_cross_entropy(logits.flatten(0, 1), target.reshape(-1)).view(target.shape)  # (K, N)
        with torch.no_grad():
            probs = torch.softmax(logits.float(), dim=-1).mean(dim=1)  # (K, V): mean prediction per head
            pred_ppl = (2.0 ** -(probs * torch.log2(probs + 1e-8)).sum(-1)).mean()
            pred_var = torch.stack([per_dim_std(head_logits) for head_logits in logits]).mean()
        return ObjectiveOutput(ce.mean(dim=0), 1, dict(pred_ppl=pred_ppl, pred_var=pred_var))
