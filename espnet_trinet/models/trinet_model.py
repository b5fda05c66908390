"""The TriNet training step: masked student, EMA teacher, frozen ASR teacher.

One forward reads top to bottom:
  1. features -> conv2d subsampling (shared by student and EMA teacher)
  2. EMA teacher on the intact frames -> z_struc (mean of top-K instance-normed blocks)
  3. student on the span-masked frames -> z' (block N-1) and y' (block N)
  4. frozen teacher (online or dumped) -> y_regul
  5. L = w_struc * MSE(head_struc(z'), z_struc)[masked] + w_regul * L_regul(head_regul(y'), y_regul)
and after each optimizer update ``on_optimizer_step`` moves the EMA teacher. A NaN/inf
loss is turned into NaN gradients so that no update follows from it, and counted at the
update boundary (``on_update_boundary``).

data2vec is the same model without a frozen teacher and with the struc tap and the
targets ending at the last block (see the data2vec configs).
"""

from typing import Dict, Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask

from espnet_trinet.losses.frame_losses import LOSS_FOR_TARGET_KIND, masked_mse
from espnet_trinet.models.encoder_layers import check_layerwise_encoder, embed_frames, final_norm, run_blocks
from espnet_trinet.models.span_mask import compute_span_mask
from espnet_trinet.monitor.collapse import CollapseGuard, effective_rank, per_dim_std
from espnet_trinet.monitor.nonfinite import NonFiniteLossGuard
from espnet_trinet.teachers.ema import EMATeacher, ema_decay
from espnet_trinet.teachers.frozen_targets import AbsFrozenTargets
from espnet_trinet.teachers.layer_targets import average_top_layers
from espnet_trinet.utils.ranks import mean_over_ranks

# The frozen teacher and the student may differ by a frame or two at the end of an
# utterance (different padding in their frontends); more means a mismatch.
MAX_FRAME_MISMATCH = 2


class TriNetModel(AbsESPnetModel):
    """Masked student + EMA teacher (+ frozen ASR teacher) on an ESPnet encoder.

    Args:
        frontend, specaug, normalize, encoder: ESPnet parts (specaug, if any, is
            applied to the student's input only).
        frozen_targets: source of the high-level targets; None = data2vec.
        mask_start_prob: probability that a frame starts a masked span.
        mask_span: span length in frames after subsampling.
        struc_layer: index of the student block tapped for L_struc (-2 = N-1, TriNet;
            -1 = N, data2vec).
        target_last_layer: index of the top EMA-teacher block averaged into the
            targets (-2 = block N-1, the reference code; -1 for data2vec).
        target_top_k: number of blocks averaged.
        ema_decay_start, ema_decay_end, ema_anneal_updates: the EMA schedule.
        struc_weight, regul_weight: loss weights.
        regul_frames: frames for L_regul: "all" (reference code), "masked" or "unmasked".
        collapse_guard: CollapseGuard arguments, or None to switch the guard off.
        monitor_max_frames: frames used for the effective rank per batch.
        max_nonfinite_in_a_row: stop training after this many optimizer updates in a
            row skipped for a NaN/inf loss (0 = never stop).
    """

    def __init__(
        self,
        frontend: Optional[AbsFrontend],
        specaug: Optional[AbsSpecAug],
        normalize: Optional[AbsNormalize],
        encoder: AbsEncoder,
        frozen_targets: Optional[AbsFrozenTargets],
        mask_start_prob: float = 0.65,
        mask_span: int = 10,
        struc_layer: int = -2,
        target_last_layer: int = -2,
        target_top_k: int = 8,
        ema_decay_start: float = 0.999,
        ema_decay_end: float = 0.9999,
        ema_anneal_updates: int = 30000,
        struc_weight: float = 1.0,
        regul_weight: float = 1.0,
        regul_frames: str = "all",
        collapse_guard: Optional[dict] = None,
        monitor_max_frames: int = 4096,
        max_nonfinite_in_a_row: int = 20,
    ):
        super().__init__()
        check_layerwise_encoder(encoder)
        num_blocks = len(encoder.encoders)
        for name, index in (("struc_layer", struc_layer), ("target_last_layer", target_last_layer)):
            if not -num_blocks <= index < num_blocks:
                raise ValueError(f"{name}={index} is outside the encoder's {num_blocks} blocks")
        if not 1 <= target_top_k <= target_last_layer % num_blocks + 1:
            raise ValueError(
                f"target_top_k={target_top_k} blocks do not fit below block "
                f"{target_last_layer % num_blocks + 1} of {num_blocks}"
            )
        if regul_frames not in ("all", "masked", "unmasked"):
            raise ValueError(f"regul_frames must be all, masked or unmasked, got '{regul_frames}'")

        self.frontend = frontend
        self.specaug = specaug
        self.normalize = normalize
        self.encoder = encoder
        dim = encoder.output_size()
        # The learned embedding that replaces masked frames after subsampling.
        self.mask_emb = torch.nn.Parameter(torch.empty(dim).uniform_())
        self.ema_teacher = EMATeacher(encoder.encoders)
        self.struc_head = torch.nn.Linear(dim, dim)  # mid-level head, D -> D
        self.frozen_targets = frozen_targets
        if frozen_targets is not None:
            self.regul_head = torch.nn.Linear(dim, frozen_targets.output_dim)  # high-level, D -> C
            self.regul_loss = LOSS_FOR_TARGET_KIND[frozen_targets.kind]
        elif getattr(encoder, "normalize_before", True) and hasattr(encoder, "after_norm"):  # see final_norm
            # Without a frozen teacher (data2vec) no loss reaches the encoder's output norm;
            # DDP (ESPnet's default find_unused_parameters=False) would wait for its
            # gradient and fail at the second step. It keeps its initial values, as it
            # would without gradients anyway, and CTC fine-tuning trains it.
            encoder.after_norm.requires_grad_(False)
        # Optimizer updates so far: a buffer, so --resume restores the EMA schedule.
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

        self.mask_start_prob = mask_start_prob
        self.mask_span = mask_span
        self.struc_layer = struc_layer
        self.target_last_layer = target_last_layer
        self.target_top_k = target_top_k
        self.ema_schedule = dict(start=ema_decay_start, end=ema_decay_end, anneal_updates=ema_anneal_updates)
        self.struc_weight = struc_weight
        self.regul_weight = regul_weight
        self.regul_frames = regul_frames
        self.collapse_guard = None if collapse_guard is None else CollapseGuard(**collapse_guard)
        self.monitor_max_frames = monitor_max_frames
        self.nonfinite_guard = NonFiniteLossGuard(max_nonfinite_in_a_row, "model_conf.max_nonfinite_in_a_row")
        self._updated_since_boundary = False

    # ------------------------------------------------------------------ training step
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        frozen_targets: Optional[torch.Tensor] = None,
        frozen_targets_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Compute the TriNet loss and the collapse statistics.

        Args:
            speech: (B, S) waveform; speech_lengths: (B,).
            frozen_targets: dumped targets, (B, T) ids or (B, T, C), when the
                frozen teacher is "offline"; frozen_targets_lengths: (B,).
        Returns:
            loss (scalar), stats (scalars for the reporter), weight (batch size).
        """
        if self.training:
            # Batch norm updates its running statistics in the forward pass; an update
            # skipped for a non-finite loss gets them put back (see NonFiniteLossGuard).
            self.nonfinite_guard.save_running_stats(self)
        clean_feats, student_feats, feats_lengths = self._features(speech, speech_lengths)
        x, pos_emb, masks = embed_frames(self.encoder, clean_feats, feats_lengths)
        valid = masks.squeeze(1)  # (B, T)
        if student_feats is not clean_feats:
            x_student, _, _ = embed_frames(self.encoder, student_feats, feats_lengths)
        else:
            x_student = x

        # 2. EMA teacher: intact frames, no gradient.
        with torch.no_grad():
            teacher_hs = run_blocks(self.ema_teacher.model, x.detach(), pos_emb, masks)
            struc_target = average_top_layers(teacher_hs, valid, self.target_last_layer, self.target_top_k)

        # 3. Student: span-masked frames.
        masked = compute_span_mask(valid.sum(dim=1), valid.size(1), self.mask_start_prob, self.mask_span)
        x_student = torch.where(masked.unsqueeze(-1), self.mask_emb.to(x_student.dtype), x_student)
        student_hs = run_blocks(self.encoder.encoders, x_student, pos_emb, masks)
        mid = student_hs[self.struc_layer]  # z', (B, T, D)
        struc_pred = self.struc_head(mid)
        loss_struc = masked_mse(struc_pred, struc_target, masked)
        loss = self.struc_weight * loss_struc

        stats = dict(loss_struc=loss_struc.detach())
        if self.frozen_targets is not None:
            # 4. Frozen teacher targets, aligned to the student's frames.
            regul_target, target_lengths = self.frozen_targets(
                speech, speech_lengths, frozen_targets, frozen_targets_lengths
            )
            regul_target, frames = self._align(regul_target, target_lengths, valid)
            high = final_norm(self.encoder, student_hs[-1])  # y', what CTC fine-tuning will see
            regul_pred = self.regul_head(high[:, : frames.size(1)])
            frames = frames & self._regul_frame_selection(masked[:, : frames.size(1)])
            loss_regul = self.regul_loss(regul_pred, regul_target, frames)
            loss = loss + self.regul_weight * loss_regul
            stats["loss_regul"] = loss_regul.detach()

        stats["loss"] = loss.detach()
        stats.update(self._monitor(struc_pred, struc_target, mid, masked, valid))
        loss, stats["nonfinite_loss"] = self.nonfinite_guard.check_loss(
            loss, stats, kwargs.get("utt_id"), self.training
        )
        if self.training and self.collapse_guard is not None:
            num_updates = int(self.num_updates)
            if num_updates >= self.collapse_guard.warmup_updates:
                # Judge the mean over DDP ranks, so that every rank stops together.
                self.collapse_guard.check(num_updates, mean_over_ranks(stats, self.collapse_guard.thresholds))
        loss, stats, weight = force_gatherable((loss, stats, speech.size(0)), loss.device)
        return loss, stats, weight

    @torch.no_grad()
    def on_optimizer_step(self) -> None:
        """Move the EMA teacher towards the student; called after every optimizer update."""
        decay = ema_decay(int(self.num_updates), **self.ema_schedule)
        self.ema_teacher.update(self.encoder.encoders, decay)
        self.num_updates += 1
        self._updated_since_boundary = True

    def on_update_boundary(self) -> None:
        """Called once per update boundary, after the optimizer step ran or was skipped.

        Raises:
            NonFiniteLossError: too many updates in a row were skipped for a NaN/inf loss.
        """
        applied, self._updated_since_boundary = self._updated_since_boundary, False
        self.nonfinite_guard.at_update_boundary(applied)

    # ------------------------------------------------------------------ parts
    def _features(self, speech, speech_lengths):
        """(B, S) audio -> clean and student (B, L, F) features and (B,) lengths."""
        if self.frontend is not None:
            feats, feats_lengths = self.frontend(speech, speech_lengths)
        else:
            feats, feats_lengths = speech, speech_lengths
        student = feats
        if self.specaug is not None and self.training:
            student, _ = self.specaug(feats, feats_lengths)
        if self.normalize is not None:
            clean, _ = self.normalize(feats, feats_lengths)
            student = clean if student is feats else self.normalize(student, feats_lengths)[0]
        else:
            clean = feats
        return clean, student, feats_lengths

    def _align(self, target, target_lengths, valid):
        """Crop targets and student frames to a common length; fail on a real mismatch.

        Returns:
            target cropped to (B, T', ...) and (B, T') bool frames valid in both.
        """
        student_lengths = valid.sum(dim=1)
        gap = (student_lengths - target_lengths.to(student_lengths.device)).abs().max()
        if gap > MAX_FRAME_MISMATCH:
            raise ValueError(
                f"frozen-teacher targets and student frames differ by {int(gap)} frames "
                f"(student {student_lengths.tolist()}, teacher {target_lengths.tolist()}): the "
                "teacher must use the same frame shift and subsampling as the student "
                "(frontend_conf.hop_length, encoder_conf.input_layer)"
            )
        length = min(valid.size(1), target.size(1))
        target_valid = ~make_pad_mask(target_lengths, maxlen=target.size(1)).to(valid.device)
        frames = valid[:, :length] & target_valid[:, :length]
        return target[:, :length], frames

    def _regul_frame_selection(self, masked):
        if self.regul_frames == "masked":
            return masked
        if self.regul_frames == "unmasked":
            return ~masked
        return torch.ones_like(masked)

    @torch.no_grad()
    def _monitor(self, struc_pred, struc_target, mid, masked, valid) -> Dict[str, torch.Tensor]:
        """Scalars for the training log: EMA decay, spreads, effective rank, mask rate."""
        frames = mid[valid]
        # The eigen-decomposition fails on NaN/inf frames (and on frames so large that
        # their covariance overflows); such a batch gets a NaN rank, which the reporter
        # leaves out, and the non-finite loss guard deals with the batch.
        usable = frames.numel() == 0 or bool(frames.detach().abs().max() < 1e15)  # False for NaN
        return dict(
            ema_decay=torch.tensor(ema_decay(int(self.num_updates), **self.ema_schedule)),
            target_var=per_dim_std(struc_target[masked]),
            pred_var=per_dim_std(struc_pred[masked]),
            eff_rank=effective_rank(frames, self.monitor_max_frames) if usable else frames.new_full((), float("nan")),
            mask_ratio=masked.sum() / valid.sum().clamp(min=1),
        )

    def collect_feats(self, speech, speech_lengths, **kwargs) -> Dict[str, torch.Tensor]:
        """Frontend features for ESPnet's collect-stats (global normalisation statistics)."""
        if self.frontend is None:
            return {"feats": speech, "feats_lengths": speech_lengths}
        feats, feats_lengths = self.frontend(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}
