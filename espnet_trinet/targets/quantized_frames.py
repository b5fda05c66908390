"""data2vec-aqc's quantised targets: the student's subsampled frames of both views through one
Gumbel quantiser, the positives and negatives of its cross-contrastive objective.

The reference (Speech-Lab-IITM/data2vec-aqc, ``models/data2vec_audio.py``) quantises the
output of wav2vec 2.0's CNN feature encoder, layer-normed, for the clean and the augmented
copy of each utterance, and projects the quantised vectors (``project_q``). ESPnet's
counterpart of that CNN is the encoder's input layer (conv2d subsampling): its output, at
the student's frame rate, is what this source quantises, after a LayerNorm of its own (the
reference's ``layer_norm`` also feeds its encoder; ESPnet's subsampling feeds the conformer
directly, so this norm belongs to the quantiser). Gradients flow through the quantiser into
the subsampling, as in the reference (``feature_grad_mult`` 1).

A trainable source (``trainable``): it runs with gradient, and adds its penalties to the
loss - the diversity penalty (weight 0.1) and the feature penalty, the mean square of the
clean view's subsampled frames (wav2vec 2.0's ``features_pen``, weight 10 in the reference,
where it is taken before a LayerNorm and so only controls the CNN's scale).

Where this differs from the reference:
- it quantises every real frame of both views, not only the masked ones (the source runs
  before the student's mask is drawn): the contrastive objective reads the masked ones,
  and ``prob_ppl``/``diversity`` are taken over all real frames of the clean view;
- the feature penalty is a mean over real frames only (the reference includes padding).
"""

from typing import Sequence, Tuple

import torch

from espnet_trinet.targets.abs_targets import AbsTargets, TeacherInput, Targets
from espnet_trinet.targets.gumbel_quantizer import GumbelVectorQuantizer


def _scaled_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """x in the forward pass; its gradient times ``scale`` in the backward (fairseq's GradMultiply)."""
    if scale == 1.0:
        return x
    if scale == 0.0:
        return x.detach()
    return x * scale + x.detach() * (1.0 - scale)


class QuantizedFrameTargets(AbsTargets):
    """Both views' subsampled frames, quantised and projected: (B, T, C) each.

    Args:
        encoder: the student's ESPnet encoder (D, its width, is the quantiser's input).
        groups, entries, quantized_dim, temperature: the Gumbel quantiser
            (``GumbelVectorQuantizer``; data2vec-aqc: 2 x 320, 256, (2, 0.5, 0.999995)).
        output_dim: C of the projection of the quantised vectors (``final_proj_dim`` 256).
        diversity_weight: weight of the diversity penalty (0.1).
        feature_penalty_weight: weight of the feature penalty (10).
        input_grad_scale: factor of the gradient the quantiser and the feature penalty send into
            the subsampling (wav2vec 2.0's ``feature_grad_mult``: data2vec-aqc 1.0, wav2vec 2.0
            0.1; 0: the subsampling learns from the student's objectives only).
        data_files: unused.
    """

    kind = "quantized"
    trainable = True

    def __init__(self, encoder: torch.nn.Module, groups: int = 2, entries: int = 320, quantized_dim: int = 256,
                 output_dim: int = 256, temperature: Sequence[float] = (2.0, 0.5, 0.999995),
                 diversity_weight: float = 0.1, feature_penalty_weight: float = 10.0, input_grad_scale: float = 1.0,
                 data_files=None):
        super().__init__()
        if not 0.0 <= input_grad_scale <= 1.0:
            raise ValueError(f"input_grad_scale must be in [0, 1], got {input_grad_scale}")
        self.input_grad_scale = float(input_grad_scale)
        dim = encoder.output_size()
        self.input_norm = torch.nn.LayerNorm(dim)
        self.quantizer = GumbelVectorQuantizer(dim, groups, entries, quantized_dim, temperature)
        self.project = torch.nn.Linear(quantized_dim, output_dim)
        self.output_dim = output_dim
        self.diversity_weight = float(diversity_weight)
        self.feature_penalty_weight = float(feature_penalty_weight)

    def _quantized(self, frames: torch.Tensor, valid: torch.Tensor, num_updates: int):
        """(B, T, D) frames -> (B, T, C) projected quantised vectors (0 at padding), stats."""
        q, stats = self.quantizer(self.input_norm(frames[valid]), num_updates)
        out = frames.new_zeros(*valid.shape, self.output_dim, dtype=q.dtype)
        out[valid] = self.project(q)
        return out, stats

    def forward(self, batch: TeacherInput) -> Targets:
        if batch.clean_frames is None or batch.student_frames is None:
            raise RuntimeError("quantized_frames needs the frames with their gradient (TeacherInput.clean_frames, "
                               "student_frames)")
        valid = batch.valid
        clean_frames, student_frames = (_scaled_grad(f, self.input_grad_scale)
                                        for f in (batch.clean_frames, batch.student_frames))
        if batch.student_frames is batch.clean_frames:
            student_frames = clean_frames
        if batch.student_frames.shape != batch.clean_frames.shape:
            raise ValueError(f"the student's view has {tuple(batch.student_frames.shape)} frames, the clean one "
                             f"{tuple(batch.clean_frames.shape)}: the augmented copy must keep each utterance's length")
        clean, stats = self._quantized(clean_frames, valid, batch.num_updates)
        if student_frames is clean_frames:
            student = clean
        else:
            student, student_stats = self._quantized(student_frames, valid, batch.num_updates)
            stats["code_ppl_student"] = student_stats["code_ppl"]
        feature_pen = clean_frames[valid].float().pow(2).mean()
        stats["feature_pen"] = feature_pen.detach()
        losses = dict(diversity=self.diversity_weight * stats["diversity"],
                      feature_pen=self.feature_penalty_weight * feature_pen)
        stats = {k: v.detach() for k, v in stats.items()}
        return Targets(clean, valid, self.kind, stats, student_values=student, losses=losses)
