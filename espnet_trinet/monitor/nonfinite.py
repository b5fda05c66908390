"""Non-finite losses: the update they would make is skipped, counted and logged, and
training stops with the likely causes after too many in a row."""

import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_trinet.utils.ranks import gather_from_all_ranks


# Buffers that torch's normalisation layers update in a training forward pass.
RUNNING_STAT_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class NonFiniteLossError(RuntimeError):
    """Raised by ``NonFiniteLossGuard``: too many updates in a row had a NaN or inf loss."""


class NonFiniteLossGuard(torch.nn.Module):
    """Makes sure a NaN/inf loss never updates the model, and stops a run that keeps making them.

    ESPnet's Trainer skips ``optimizer.step()`` only when the gradient norm is not
    finite, but a non-finite loss can have finite gradients (an inf cross-entropy from a
    saturated log-softmax, an overflowing squared error), and such an update would be
    applied. ``check_loss`` therefore multiplies a non-finite loss by NaN: every gradient
    in its graph becomes NaN, DDP's all-reduce spreads that to every rank, and the
    Trainer skips the update everywhere (so the EMA teacher, moved by the step hook,
    does not move either). Batch norm updates its running statistics during the forward
    pass, before the loss shows that the batch is bad, so ``save_running_stats`` keeps a
    copy from the start of each update and a skipped update puts it back: a bad batch
    leaves no trace in the model.

    ``at_update_boundary`` is called once per update boundary (applied or skipped, see
    ``TriNetTask.build_optimizers``). Only skips that follow a non-finite loss on some
    rank are counted: fp16's GradScaler also skips updates with a finite loss while it
    calibrates its scale, and those are not trouble. The decision to skip is global (it
    follows the all-reduced gradients), so the counts are the same on every rank and
    every rank stops at the same update.

    Args:
        max_in_a_row: stop after this many updates in a row skipped for a non-finite
            loss (0 = never stop).
        setting: the name of the setting that holds ``max_in_a_row``, for the messages.
    """

    def __init__(self, max_in_a_row: int = 20, setting: str = "max_in_a_row"):
        super().__init__()
        if max_in_a_row < 0:
            raise ValueError(f"{setting} must be >= 0 (0 = never stop), got {max_in_a_row}")
        self.max_in_a_row = max_in_a_row
        self.setting = setting
        # A buffer, so the total survives --resume.
        self.register_buffer("num_skipped_updates", torch.zeros((), dtype=torch.long))
        self.skipped_in_a_row = 0
        # (non-finite stat names, utterance ids) of this rank's bad batches since the last boundary
        self._bad_batches: List[Tuple[List[str], List[str]]] = []
        # (buffer, copy) of the running statistics at the start of the current update
        self._saved_running_stats: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints from before the guard existed (--resume, build_model_from_file) start at 0.
        state_dict.setdefault(prefix + "num_skipped_updates", torch.zeros((), dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def save_running_stats(self, model: torch.nn.Module) -> None:
        """Keep a copy of the running statistics that training forwards of ``model`` update
        (batch norm), once per update: call it before every training forward pass."""
        if self._saved_running_stats is None:
            self._saved_running_stats = [
                (buffer, buffer.clone())
                for module in model.modules()
                if module.training
                for name, buffer in module.named_buffers(recurse=False)
                if name in RUNNING_STAT_BUFFERS
            ]

    def check_loss(
        self,
        loss: torch.Tensor,
        stats: Dict[str, torch.Tensor],
        utt_ids: Optional[Sequence[str]] = None,
        training: bool = True,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return the loss to back-propagate (NaN if ``loss`` is not finite) and the
        ``nonfinite_loss`` stat (1.0 for a bad batch, else 0.0).

        Args:
            loss: scalar loss of this batch.
            stats: the batch's scalar stats (non-finite ones are named in the log).
            utt_ids: the batch's utterance ids (ESPnet's Trainer passes ``utt_id``).
            training: count the batch towards the update it belongs to; outside
                training the bad batch is only logged.
        """
        if bool(torch.isfinite(loss)):
            return loss, loss.new_zeros((), dtype=torch.float32)
        bad_stats = [name for name, value in stats.items() if not bool(torch.isfinite(value).all())]
        utts = [str(u) for u in utt_ids] if utt_ids is not None else ["(utterance ids not given)"]
        if training:
            self._bad_batches.append((bad_stats, utts))
        else:
            logging.warning(f"non-finite {', '.join(bad_stats)} in the validation batch [{' '.join(utts)}]")
        return loss * float("nan"), loss.new_ones((), dtype=torch.float32)

    def at_update_boundary(self, applied: bool) -> None:
        """Count a skipped update that follows a non-finite loss; raise after too many in a row.

        Every rank must call this at the same boundary (it may all-gather).

        Args:
            applied: whether the optimizer step ran at this boundary.
        Raises:
            NonFiniteLossError: ``max_in_a_row`` updates in a row were skipped.
        """
        local_bad, self._bad_batches = self._bad_batches, []
        saved_running_stats, self._saved_running_stats = self._saved_running_stats, None
        if applied:
            self.skipped_in_a_row = 0
            return
        bad = gather_from_all_ranks(local_bad)
        if not bad:
            return  # e.g. fp16 GradScaler calibration: finite loss, inf gradients
        self.skipped_in_a_row += 1
        self.num_skipped_updates += 1
        with torch.no_grad():
            for buffer, saved in saved_running_stats or ():
                buffer.copy_(saved)
        stat_names = list(dict.fromkeys(name for names, _ in bad for name in names))
        # the utterances of each bad batch: the loss is a batch mean, so which of them is at
        # fault is not known here
        batches = ("batch " if len(bad) == 1 else "batches ") + " ".join(f"[{' '.join(u)}]" for _, u in bad)
        logging.warning(
            f"update skipped: non-finite {', '.join(stat_names)} in {batches} "
            f"({self.skipped_in_a_row} in a row, {int(self.num_skipped_updates)} in total"
            + (f"; {self.setting}={self.max_in_a_row} in a row stops training)" if self.max_in_a_row else ")")
        )
        if self.max_in_a_row and self.skipped_in_a_row >= self.max_in_a_row:
            raise NonFiniteLossError(
                f"{self.skipped_in_a_row} optimizer updates in a row were skipped because the loss was "
                f"not finite ({self.setting}={self.max_in_a_row}; {int(self.num_skipped_updates)} skipped "
                f"in this run). The last one had non-finite {', '.join(stat_names)} in {batches}. "
                "Likely causes: (1) the learning rate is too high: lower optim_conf.lr or lengthen the "
                "scheduler warm-up; (2) fp16 overflow with --use_amp true: use bf16 where the GPU has it, "
                "or a lower learning rate; (3) corrupt or extreme audio: check the utterances of these "
                "batches and the recipe's stage 3 report (dump/raw/org/<set>/excluded.tsv). Then restart "
                "from the last good checkpoint (--resume true)."
            )

