"""data2vec-aqc's cross-contrastive objective: each branch predicts the other view's quantised frames.

Two directions share one head (the reference's ``contr_proj``, Linear(D, C)):
- student: its output on the augmented, masked view (``tap``) at each masked frame against the
  quantised **clean** frames (positive: the same frame; negatives: other masked frames of the
  utterance);
- teacher: the EMA teacher's target on the clean view (the ``teacher`` source's values, the
  top-K average data2vec regresses to) against the quantised **augmented** frames.
Both are ``losses/cross_contrastive.contrastive_loss`` with K negatives each (drawn apart for
each direction, as the reference), and one per-batch cosine k-means over the pooled quantised
vectors of both views at the masked frames, K = max(2, T // cluster_factor) (T: the batch's
padded frames), whose same-cluster negatives are scaled down. A frame's loss is the sum of the
two directions, so the objective's ``weight`` 0.5 gives the reference's 0.5 CE_s + 0.5 CE_t; its
``loss_normalization: reference`` is the sum over masked frames / their number, not scaled by
1/sqrt(D) (``sqrt_dim_scale: false``), as the reference's cross-entropy sums.
"""

from typing import Optional

import torch
import torch.nn.functional as F

from espnet_trinet.losses.cosine_kmeans import cosine_kmeans
from espnet_trinet.losses.cross_contrastive import contrastive_loss, sample_negatives
from espnet_trinet.monitor.collapse import per_dim_std
from espnet_trinet.objectives.abs_objective import AbsObjective, ObjectiveOutput
from espnet_trinet.targets.abs_targets import Targets


class CrossContrastive(AbsObjective):
    """Student -> quantised clean frames and teacher -> quantised augmented frames.

    Args:
        name, weight, tap, targets, frames, sqrt_dim_scale: see ``AbsObjective``; ``targets``
            is a ``quantized_frames`` source (values: the clean view, student_values: the
            augmented one).
        input_dim: D of the tap; output_dim: C of the quantised vectors.
        target_kind, num_groups: of the ``targets`` source (must be "quantized", 1).
        teacher: the regression source whose values are the teacher direction's input (D dims).
        num_negatives: per frame and direction (100).
        temperature: of the cosine logits (0.1).
        cluster_factor: k-means clusters = max(2, T // cluster_factor) (16); 0 switches the
            clustering (and the scaling) off.
        same_cluster_scale: factor of a same-cluster negative's logit (0.3).
        kmeans_max_iter: rounds of the per-batch k-means (100, the reference's default).
    """

    def __init__(self, name: str, input_dim: int, output_dim: int, target_kind: str, tap: str = "final",
                 targets: str = "codes", teacher: str = "ema", frames: str = "masked", weight: float = 0.5,
                 sqrt_dim_scale: bool = False, num_groups: int = 1, num_negatives: int = 100,
                 temperature: float = 0.1, cluster_factor: int = 16, same_cluster_scale: float = 0.3,
                 kmeans_max_iter: int = 100):
        super().__init__()
        if target_kind != "quantized" or num_groups != 1:
            raise ValueError(f"objective '{name}': cross_contrastive reads a quantized_frames source, but "
                             f"'{targets}' gives targets of kind '{target_kind}'")
        if num_negatives < 1 or temperature <= 0 or cluster_factor < 0:
            raise ValueError(f"objective '{name}': needs num_negatives >= 1, temperature > 0, cluster_factor >= 0")
        self.name, self.weight, self.tap, self.targets, self.frames = name, float(weight), tap, targets, frames
        self.sqrt_dim_scale = bool(sqrt_dim_scale)
        self.also_reads = (teacher,)
        self.num_negatives, self.temperature = int(num_negatives), float(temperature)
        self.cluster_factor, self.same_cluster_scale = int(cluster_factor), float(same_cluster_scale)
        self.kmeans_max_iter = int(kmeans_max_iter)
        self.head = torch.nn.Linear(input_dim, output_dim)  # contr_proj: both directions

    def clusters(self, clean: torch.Tensor, augmented: torch.Tensor, num_frames: int):
        """(N, C) quantised vectors of each view -> their (N,) cluster ids each, or None."""
        if self.cluster_factor == 0:
            return None, None
        pooled = torch.cat([F.normalize(clean.detach().float(), dim=-1),
                            F.normalize(augmented.detach().float(), dim=-1)])
        labels = cosine_kmeans(pooled, max(2, num_frames // self.cluster_factor), self.kmeans_max_iter)
        return labels[: clean.size(0)], labels[clean.size(0):]

    def forward(self, student: torch.Tensor, targets: Targets, frames: torch.Tensor,
                teacher: Optional[Targets] = None) -> ObjectiveOutput:
        """student: (B, T, D) tap on the augmented view; targets: values and student_values
        (B, T, C); frames: (B, T) bool; teacher: the teacher source's targets, values (B, T, D)."""
        if targets.student_values is None or teacher is None:
            raise RuntimeError(f"objective '{self.name}' needs both views' quantised frames and the teacher's targets")
        if not bool(frames.any()):
            zero = (self.head(student).sum() * 0.0).reshape(1)
            return ObjectiveOutput(zero, 1, dict(pred_var=zero.new_zeros(())))
        utterance = frames.nonzero()[:, 0]
        clean, augmented = targets.values[frames], targets.student_values[frames]  # (N, C) each
        student_pred = self.head(student[frames])
        teacher_pred = self.head(teacher.values[frames].to(student_pred.dtype))
        clean_clusters, augmented_clusters = self.clusters(clean, augmented, frames.size(1))
        per_direction = []
        for pred, quantized, clusters in ((student_pred, clean, clean_clusters),
                                          (teacher_pred, augmented, augmented_clusters)):
            negatives, valid = sample_negatives(utterance, self.num_negatives)
            per_direction.append(contrastive_loss(pred, quantized, utterance, negatives, valid, clusters,
                                                  self.temperature, self.same_cluster_scale))
        student_ce, teacher_ce = per_direction
        stats = dict(pred_var=per_dim_std(student_pred.detach()), ccl_student=student_ce.detach().mean(),
                     ccl_teacher=teacher_ce.detach().mean())
        if clean_clusters is not None:
            stats["clusters"] = torch.tensor(float(max(2, frames.size(1) // self.cluster_factor)))
        return ObjectiveOutput(student_ce + teacher_ce, 1, stats)
