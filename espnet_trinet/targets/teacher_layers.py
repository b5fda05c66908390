"""The EMA teacher's top-K layers on the intact frames, each instance-normed: what data2vec
averages (``ema_layers``) and DinoSR quantises (``online_codebooks``)."""

from typing import List, Optional, Tuple, Union

import torch

from espnet_trinet.encoders.layerwise import BLOCK_FEATURES, embed_frames, parse_block, run_blocks
from espnet_trinet.targets.abs_targets import AbsTargets, TeacherInput
from espnet_trinet.targets.layer_average import instance_norm_over_time
from espnet_trinet.teachers.ema import EMATeacher, ema_decay

# What the EMA teacher averages: the blocks (it reads the student's subsampled frames;
# data2vec's ``ema_transformer_only``) or the whole encoder, subsampling included (data2vec
# 2.0's ``ema_encoder_only: false``: it subsamples the features with its own copy).
EMA_SCOPES = ("blocks", "encoder")


class EMATeacherLayers(AbsTargets):
    """A target source built on an exponential moving average of the student's encoder blocks.

    The teacher copies ``encoder.encoders`` and shares the student's subsampling (as the
    reference code: its EMA covers the blocks), or copies the whole encoder (``ema_scope:
    encoder``); it runs in eval mode without gradients and
    moves towards the student after every optimizer update (``on_update``). Subclasses turn
    its ``top_layers`` into targets.

    Args:
        encoder: the student's ESPnet encoder.
        top_k: number of blocks used.
        last_block: the top block used: "N" (data2vec, DinoSR), "N-1" (TriNet's reference
            code leaves the last block out), or a block number.
        features: "ffn": each block's feed-forward output before the residual (the
            reference code's ``layer_results``); "block": each block's full output.
        share_student_input: True: the teacher reads the student's subsampled frames as
            they are, with the student's positional dropout; False: the frames are
            computed again without dropout (the reference code: no dropout on the teacher).
        decay_start, decay_end, anneal_updates: the EMA schedule (``teachers/ema.py``).
        freeze_teacher_after: the teacher follows the student through this many updates and
            stays as it is after them (None: never; see ``ema_decay``).
        ema_scope: one of ``EMA_SCOPES``; "encoder" needs share_student_input false (its
            own subsampling, in eval mode, has no dropout).
        data_files: unused (the task offers every source the data files).
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        top_k: int = 8,
        last_block: Union[str, int] = "N",
        features: str = "ffn",
        share_student_input: bool = False,
        decay_start: float = 0.999,
        decay_end: float = 0.9999,
        anneal_updates: int = 30000,
        freeze_teacher_after: Optional[int] = None,
        ema_scope: str = "blocks",
        data_files=None,
    ):
        super().__init__()
        num_blocks = len(encoder.encoders)
        self.last_block = parse_block(last_block, num_blocks)
        if not 1 <= top_k <= self.last_block + 1:
            raise ValueError(
                f"top_k={top_k} blocks do not fit below block {self.last_block + 1} of {num_blocks} "
                f"(last_block: {last_block})"
            )
        if features not in BLOCK_FEATURES:
            raise ValueError(f"features must be one of {BLOCK_FEATURES}, got '{features}'")
        if freeze_teacher_after is not None and freeze_teacher_after < 0:
            raise ValueError(f"freeze_teacher_after must be >= 0 updates or null, got {freeze_teacher_after}")
        if ema_scope not in EMA_SCOPES:
            raise ValueError(f"ema_scope must be one of {EMA_SCOPES}, got '{ema_scope}'")
        if ema_scope == "encoder" and share_student_input:
            raise ValueError("ema_scope: encoder subsamples with the teacher's own copy of the input layer; "
                             "it cannot share the student's frames (set share_student_input: false)")
        self.ema_scope = ema_scope
        self.top_k = top_k
        self.features = features
        self.share_student_input = share_student_input
        self.schedule = dict(start=decay_start, end=decay_end, anneal_updates=anneal_updates,
                             freeze_after=freeze_teacher_after)
        self.teacher = EMATeacher(encoder if ema_scope == "encoder" else encoder.encoders)

    @torch.no_grad()
    def top_layers(self, batch: TeacherInput) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """The teacher's ``top_k`` layers ending at ``last_block``, each instance-normed over time.

        Returns:
            top_k tensors (B, T, D) float32, lowest block first (padding frames 0), and
            (B, T) bool valid frames.
        """
        if self.ema_scope == "encoder":
            if batch.features is None:
                raise RuntimeError("ema_scope: encoder needs the batch's features (TeacherInput.features)")
            frames, pos_emb, masks = embed_frames(self.teacher.model, batch.features, batch.feature_lengths)
            blocks = self.teacher.model.encoders
        elif self.share_student_input:
            frames, pos_emb, masks = batch.frames, batch.pos_emb, batch.masks
            blocks = self.teacher.model
        else:
            frames, pos_emb, masks = batch.embed_without_dropout()
            blocks = self.teacher.model
        valid = masks.squeeze(1)
        # Only the blocks up to the top one used run.
        blocks = list(blocks)[: self.last_block + 1]
        hs = run_blocks(blocks, frames, pos_emb, masks, features=self.features)
        return [instance_norm_over_time(h, valid) for h in hs[-self.top_k:]], valid

    def decay(self, num_updates: int) -> float:
        """The EMA decay after update ``num_updates`` (1.0 once the teacher is frozen)."""
        return ema_decay(num_updates, **self.schedule)

    def on_update(self, num_updates: int, student_encoder: torch.nn.Module) -> None:
        student = student_encoder if self.ema_scope == "encoder" else student_encoder.encoders
        self.teacher.update(student, self.decay(num_updates))
