"""The training step of every method: a student view, target sources, objectives.

One forward reads top to bottom:
  1. features -> subsampled frames (the encoder's input layer, shared by student and teachers);
     the student's own waveform too when its view has one (data2vec-aqc's augmented copy)
  2. every target source on the intact input, without gradient (the EMA teacher's layers,
     the frozen ASR teacher online or dumped, dumped labels); a trainable source (data2vec-
     aqc's quantiser of both views) with gradient, its penalties added to the loss
  3. the student view (span-masked frames; or M masked clones of each utterance with only
     their visible frames, data2vec 2.0) -> the student's blocks -> its taps, back on the
     full time axis; each source's targets repeated for the clones
  4. every objective: head(tap) against its targets on its frames -> loss_<name>;
     L = sum of weight x loss, normalised per frame or as the reference code (an objective
     may also read other sources' targets: data2vec-aqc's teacher direction)
and after each optimizer update ``on_optimizer_step`` lets every source move (the EMA
step; DinoSR's codebooks, from the frames the objectives read, which each source
``observe``s in the training step). A NaN/inf loss is turned into NaN gradients so that no
update follows from it, and counted at the update boundary (``on_update_boundary``); the
collapse guard watches the monitored objective.

data2vec is one EMA source and one objective on the last block; TriNet adds the frozen
teacher and a second objective on the final output, with its first objective on block N-1
(see the configs).
"""

from typing import Dict, List, Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from espnet_trinet.encoders.layerwise import (
    check_layerwise_encoder,
    embed_frames,
    embed_frames_without_dropout,
    final_norm,
    layer_drop_rate,
    parse_block,
    run_blocks,
)
from espnet_trinet.monitor.collapse import CollapseGuard, effective_rank
from espnet_trinet.monitor.nonfinite import NonFiniteLossGuard
from espnet_trinet.objectives.abs_objective import AbsObjective
from espnet_trinet.objectives.normalization import LOSS_NORMALIZATIONS, normalized_loss
from espnet_trinet.targets.abs_targets import AbsTargets, TeacherInput
from espnet_trinet.utils.ranks import mean_over_ranks
from espnet_trinet.views.abs_view import FRAME_SETS, AbsStudentView, StudentView


class SSLModel(AbsESPnetModel):
    """Masked-prediction pretraining of an ESPnet encoder against one or more target sources.

    Args:
        frontend, normalize, encoder: ESPnet parts.
        view: what the student sees (``views/``).
        targets: target sources by name (``targets/``).
        objectives: heads and losses (``objectives/``), in the order of the config.
        loss_normalization: "frame_mean" (each term a mean per frame) or "reference"
            (sums x 1/sqrt(D) / masked frames, as the released code; see
            ``objectives/normalization.py``).
        layer_drop_keep_last: with the encoder's ``layer_drop_rate``, the last blocks
            that are never dropped (the reference code: 2).
        monitor: the objective whose spreads (``target_var``, ``pred_var``) and tap
            (``eff_rank``) the log and the collapse guard watch (default: the first).
        collapse_guard: CollapseGuard arguments, or None to switch the guard off.
        monitor_max_frames: frames used for the effective rank per batch.
        max_nonfinite_in_a_row: stop training after this many optimizer updates in a
            row skipped for a NaN/inf loss (0 = never stop).
    """

    def __init__(
        self,
        frontend: Optional[AbsFrontend],
        normalize: Optional[AbsNormalize],
        encoder: AbsEncoder,
        view: AbsStudentView,
        targets: Dict[str, AbsTargets],
        objectives: List[AbsObjective],
        loss_normalization: str = "frame_mean",
        layer_drop_keep_last: int = 0,
        monitor: Optional[str] = None,
        collapse_guard: Optional[dict] = None,
        monitor_max_frames: int = 4096,
        max_nonfinite_in_a_row: int = 20,
    ):
        super().__init__()
        check_layerwise_encoder(encoder)
        if loss_normalization not in LOSS_NORMALIZATIONS:
            raise ValueError(f"loss_normalization must be one of {LOSS_NORMALIZATIONS}, got '{loss_normalization}'")
        num_blocks = len(encoder.encoders)
        self.tap_index = {}  # tap -> block index (None: "final")
        for objective in objectives:
            if objective.targets not in targets:
                raise ValueError(
                    f"objective '{objective.name}' reads targets '{objective.targets}', but the config's "
                    f"targets are {sorted(targets)}"
                )
            if objective.frames not in FRAME_SETS:
                raise ValueError(f"objective '{objective.name}': frames must be one of {FRAME_SETS}")
            self.tap_index[objective.tap] = _parse_tap(objective.tap, num_blocks, objective.name)
            for other in objective.also_reads:
                if other not in targets:
                    raise ValueError(f"objective '{objective.name}' also reads targets '{other}', but the config's "
                                     f"targets are {sorted(targets)}")
        names = [o.name for o in objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        if monitor is not None and monitor not in names:
            raise ValueError(f"monitor '{monitor}' is not one of the objectives {names}")

        self.frontend = frontend
        self.normalize = normalize
        self.encoder = encoder
        self.view = view
        self.targets = torch.nn.ModuleDict(targets)
        self.objectives = torch.nn.ModuleDict({o.name: o for o in objectives})
        if "final" not in self.tap_index and getattr(encoder, "normalize_before", True):  # see final_norm
            # No loss reaches the encoder's output norm (data2vec); DDP (ESPnet's default
            # find_unused_parameters=False) would wait for its gradient and fail at the second
            # step. It keeps its initial values, as it would anyway, and CTC fine-tuning trains it.
            encoder.after_norm.requires_grad_(False)
        # Optimizer updates so far: a buffer, so --resume restores the EMA schedule.
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

        self.loss_normalization = loss_normalization
        self.layer_drop = dict(drop_rate=layer_drop_rate(encoder), keep_last=layer_drop_keep_last)
        self.monitor = monitor if monitor is not None else (names[0] if names else None)
        self.collapse_guard = None if collapse_guard is None else CollapseGuard(**collapse_guard)
        self.monitor_max_frames = monitor_max_frames
        self.nonfinite_guard = NonFiniteLossGuard(max_nonfinite_in_a_row, "model_conf.max_nonfinite_in_a_row")
        self._updated_since_boundary = False

    # ------------------------------------------------------------------ training step
    def forward(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, **data: torch.Tensor
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Compute the loss and the statistics of one batch.

        Args:
            speech: (B, S) waveform; speech_lengths: (B,).
            data: the batch's other entries, for the target sources (e.g. dumped
                ``frozen_targets`` (B, T[, C]) and ``frozen_targets_lengths`` (B,)).
        Returns:
            loss (scalar), stats (scalars for the reporter), weight (utterances; masked
            frames with the reference normalisation, as its normaliser).
        """
        if not self.objectives:
            raise RuntimeError("this model was built without objectives (collect-stats mode); it cannot train")
        if self.training:
            # Batch norm updates its running statistics in the forward pass; an update
            # skipped for a non-finite loss gets them put back (see NonFiniteLossGuard).
            self.nonfinite_guard.save_running_stats(self)
        utt_ids = data.pop("utt_id", None)

        # 1. Features, subsampled by the encoder's input layer; and the student's own waveform
        #    (data2vec-aqc: an augmented copy of the same length), subsampled too.
        feats, feats_lengths = self._features(speech, speech_lengths)
        x, pos_emb, masks = embed_frames(self.encoder, feats, feats_lengths)  # (B, T, D)
        student_speech = self.view.student_speech(speech, speech_lengths, data)
        student_frames = (x, pos_emb, masks)
        if student_speech is not speech:
            student_frames = embed_frames(self.encoder, *self._features(student_speech, speech_lengths))

        # 2. Target sources: intact input, no gradient (a trainable source, the quantiser, reads
        #    both views' frames with theirs).
        teacher_input = TeacherInput(
            x.detach(), pos_emb, masks, lambda: embed_frames_without_dropout(self.encoder, feats, feats_lengths),
            speech, speech_lengths, data, int(self.num_updates), feats, feats_lengths, x, student_frames[0],
        )
        targets = {name: source(teacher_input) for name, source in self.targets.items()}

        # 3. Student: its view of the batch, its blocks, its taps.
        view = self.view(*student_frames)
        hs = run_blocks(self.encoder.encoders, view.x, view.pos_emb, view.masks, **self.layer_drop)
        taps = self._taps(view, hs)
        # The M clones of an utterance (data2vec 2.0's multi-mask) all read its one set of targets.
        clone_targets = {name: target.repeated(view.clones) for name, target in targets.items()}

        # 4. Objectives: head(tap) against targets on their frames; the weighted sum.
        loss, stats, objective_stats, used = 0.0, {}, {}, {}
        num_masked = view.masked.sum()
        dim = self.encoder.output_size()
        for name, objective in self.objectives.items():
            target = clone_targets[objective.targets]
            frames = view.frames(objective.frames) & target.frames
            out = objective(taps[objective.tap], target, frames, *(clone_targets[n] for n in objective.also_reads))
            term = normalized_loss(out.per_frame, out.elements_per_frame, self.loss_normalization, dim, num_masked,
                                   objective.sqrt_dim_scale)
            loss = loss + objective.weight * term
            used[objective.targets] = frames if objective.targets not in used else used[objective.targets] | frames
            stats[f"loss_{name}"] = term.detach()
            objective_stats.update({f"{key}_{name}": value for key, value in out.stats.items()})
            if name == self.monitor:
                monitored = out.stats  # target_var / pred_var: data2vec's names, the guard's
        for target in targets.values():  # a trainable source's penalties (the quantiser's), weighted
            for name, term in target.losses.items():
                loss = loss + term
                stats[f"loss_{name}"] = term.detach()
        # A copy: ESPnet's Trainer divides the loss by accum_grad in place after it registered
        # the stats, and a detached view of it would be logged divided too.
        stats["loss"] = loss.detach().clone()
        stats.update(monitored)
        stats.update(objective_stats)
        if self.training:
            for source, frames in used.items():  # e.g. DinoSR's codebooks learn from these frames
                # A frame counts once if any clone read it: the source sees its own (B, T) targets.
                frames = frames.view(-1, view.clones, frames.size(1)).any(dim=1)
                self.targets[source].observe(targets[source], frames)
        for source, target in targets.items():
            stats.update({(k if k not in stats else f"{k}_{source}"): v for k, v in target.stats.items()})
        stats.update(self._monitor(taps[self.objectives[self.monitor].tap], view))

        loss, stats["nonfinite_loss"] = self.nonfinite_guard.check_loss(loss, stats, utt_ids, self.training)
        if self.training and self.collapse_guard is not None:
            num_updates = int(self.num_updates)
            if num_updates >= self.collapse_guard.warmup_updates:
                # Judge the mean over DDP ranks, so that every rank stops together.
                self.collapse_guard.check(num_updates, mean_over_ranks(stats, self.collapse_guard.thresholds))
        # Utterances, not clones: M clones make each utterance's term a mean over its M masks,
        # so the update does not grow with M (the masked frames count every clone's).
        weight = num_masked if self.loss_normalization == "reference" else speech.size(0)
        loss, stats, weight = force_gatherable((loss, stats, weight), loss.device)
        return loss, stats, weight

    @torch.no_grad()
    def on_optimizer_step(self) -> None:
        """Let every target source move (the EMA step); called after every optimizer update."""
        for source in self.targets.values():
            source.on_update(int(self.num_updates), self.encoder)
        self.num_updates += 1
        self._updated_since_boundary = True

    def on_update_boundary(self) -> None:
        """Called once per update boundary, after the optimizer step ran or was skipped.

        Raises:
            NonFiniteLossError: too many updates in a row were skipped for a NaN/inf loss.
        """
        applied, self._updated_since_boundary = self._updated_since_boundary, False
        for source in self.targets.values():
            source.on_update_boundary()
        self.nonfinite_guard.at_update_boundary(applied)

    # ------------------------------------------------------------------ parts
    def _features(self, speech, speech_lengths):
        """(B, S) audio -> (B, L, F) normalised features and (B,) lengths."""
        if self.frontend is not None:
            feats, feats_lengths = self.frontend(speech, speech_lengths)
        else:
            feats, feats_lengths = speech, speech_lengths
        if self.normalize is not None:
            feats, feats_lengths = self.normalize(feats, feats_lengths)
        return feats, feats_lengths

    def _taps(self, view: StudentView, hs: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Every tap the objectives read, on the full time axis: (B * clones, T, D) each."""
        taps = {}
        for tap, index in self.tap_index.items():
            h = final_norm(self.encoder, hs[-1]) if index is None else hs[index]
            taps[tap] = self.view.restore(view, h)
        return taps

    @torch.no_grad()
    def _monitor(self, tap: torch.Tensor, view: StudentView) -> Dict[str, torch.Tensor]:
        """Scalars for the training log: effective rank of the monitored tap, mask rate."""
        frames = tap[view.seen]  # not the frames a view removed (their restored values are filler)
        # The eigen-decomposition fails on NaN/inf frames (and on frames so large that
        # their covariance overflows); such a batch gets a NaN rank, which the reporter
        # leaves out, and the non-finite loss guard deals with the batch.
        usable = frames.numel() == 0 or bool(frames.detach().abs().max() < 1e15)  # False for NaN
        return dict(
            eff_rank=effective_rank(frames, self.monitor_max_frames) if usable else frames.new_full((), float("nan")),
            mask_ratio=view.masked.sum() / view.valid.sum().clamp(min=1),
        )

    def collect_feats(self, speech, speech_lengths, **kwargs) -> Dict[str, torch.Tensor]:
        """Frontend features for ESPnet's collect-stats (global normalisation statistics)."""
        if self.frontend is None:
            return {"feats": speech, "feats_lengths": speech_lengths}
        feats, feats_lengths = self.frontend(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}


def _parse_tap(tap: str, num_blocks: int, objective: str) -> Optional[int]:
    """"final" -> None; "block:K" -> the block's 0-based index."""
    if tap == "final":
        return None
    if isinstance(tap, str) and tap.startswith("block:"):
        try:
            return parse_block(tap[len("block:"):], num_blocks)
        except ValueError as err:
            raise ValueError(f"objective '{objective}': tap '{tap}': {err}") from None
    raise ValueError(f"objective '{objective}': tap must be 'final' or 'block:K' (N, N-1, or 1..{num_blocks}), "
                     f"got '{tap}'")
