"""DinoSR's targets: the EMA teacher's top-K layers, each quantised by its own online codebook.

Per layer k, the teacher's instance-normed output at a frame is assigned to the nearest
(L2) of V codewords; the id is the frame's k-th target. The codebooks learn from the
frames the objectives read (the masked ones): after each optimizer update every codeword
that got frames moves towards their mean by an EMA of running sums and counts
(codeword = sum / count), as in DinoSR (Liu et al., 2023; its released ``models/dinosr.py``).

Where this differs from the reference code:
- the reference updates its codebooks in every forward pass; here once per optimizer
  update (``on_update``), from the statistics ``observe``d since the previous one, so the
  update is the same with accum_grad 1, and with gradient accumulation the statistics of
  the accumulated batches are summed into one EMA step (the update no longer depends on
  how a batch is split into passes). A skipped update (non-finite loss) drops them;
- ``codebook_ppl`` is each rank's perplexity, averaged over ranks by the reporter (the
  reference: the perplexity of the rank-averaged distribution);
- instance norm leaves padding frames out of the statistics (``instance_norm_over_time``);
- once the teacher is frozen (``freeze_teacher_after``) the reference also freezes the
  student's modules before the blocks (``freeze_pre_enc_modules``), so that the teacher's
  input stops moving; here the student's subsampling keeps training (the teacher reads it).
"""

from typing import Optional, Union

import torch
import torch.nn.functional as F

from espnet_trinet.targets.abs_targets import TeacherInput, Targets
from espnet_trinet.targets.teacher_layers import EMATeacherLayers
from espnet_trinet.utils.ranks import world_size

CODEBOOK_BUFFERS = ("codebook_sums", "codebook_counts")


class OnlineCodebookTargets(EMATeacherLayers):
    """K id sets per frame (one per teacher layer) from K codebooks of V codewords.

    The codebooks are persistent float32 buffers (``codebook_sums`` (K, V, D), running sums,
    and ``codebook_counts`` (K, V), running counts, initially 1), so checkpoints and
    ``--resume`` restore them; they stay float32 when the model is cast (``--train_dtype``)
    and are computed without autocast. Under DDP the statistics of an update are summed
    over the ranks, so that every rank holds the same codebooks.

    Args:
        encoder, top_k, last_block, features, share_student_input, decay_start, decay_end,
        anneal_updates, freeze_teacher_after, ema_scope: the EMA teacher (``EMATeacherLayers``);
            DinoSR: top 8 FFN outputs up to the last block, frozen after 200k updates.
        codebook_size: V codewords per codebook (DinoSR: 256).
        codebook_decay: the EMA decay of a codeword's sum and count in an update in which
            it got frames (DinoSR: 0.9); one that got none keeps both.
        dead_count: the log's ``dead_codewords`` counts codewords whose running count is
            below this. A running count is an EMA of the frames (over all ranks) a codeword
            got per update, over the updates in which it got any, so it never falls below 1:
            a codeword that never won a frame keeps its initial 1 and is dead for any
            threshold above 1 (the default 2 also counts those that only ever win about one
            frame per update). A codeword that stops winning keeps its count (as in the
            reference); a collapse onto a few codewords shows in ``codebook_ppl``.
        data_files: unused.
    """

    kind = "hard"

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
        codebook_size: int = 256,
        codebook_decay: float = 0.9,
        dead_count: float = 2.0,
        data_files=None,
    ):
        super().__init__(encoder, top_k, last_block, features, share_student_input, decay_start, decay_end,
                         anneal_updates, freeze_teacher_after, ema_scope)
        if codebook_size < 2:
            raise ValueError(f"codebook_size must be at least 2, got {codebook_size}")
        if not 0.0 <= codebook_decay <= 1.0:
            raise ValueError(f"codebook_decay must be in [0, 1], got {codebook_decay}")
        dim = encoder.output_size()
        self.output_dim = codebook_size
        self.num_groups = top_k
        self.codebook_decay = float(codebook_decay)
        self.dead_count = float(dead_count)
        # As the reference: randn (K, D, V), each dim instance-normed over the V codewords.
        init = F.instance_norm(torch.randn(top_k, dim, codebook_size)).transpose(1, 2).contiguous()
        self.register_buffer("codebook_sums", init)  # (K, V, D)
        self.register_buffer("codebook_counts", torch.ones(top_k, codebook_size))  # (K, V)
        # The last training forward's (ids, teacher vectors), until ``observe`` reads them.
        self._pending = None
        # (K, V, D + 1): sums of the teacher vectors | frame counts, gathered since the last update.
        self._gathered = None

    def codewords(self) -> torch.Tensor:
        """(K, V, D) float32: running sum / running count."""
        return self.codebook_sums / self.codebook_counts.unsqueeze(-1)

    @torch.no_grad()
    def forward(self, batch: TeacherInput) -> Targets:
        """Targets (B, T, K) int64 codeword ids ((B, T) for K = 1; -1 on padding frames) on the valid frames."""
        layers, valid = self.top_layers(batch)
        with torch.autocast(device_type=valid.device.type, enabled=False):
            vectors = torch.stack(layers, dim=0).float()  # (K, B, T, D)
            ids = nearest_codewords(vectors.flatten(1, 2), self.codewords())  # (K, B * T)
        ids = ids.view(vectors.shape[:3]).permute(1, 2, 0).masked_fill(~valid.unsqueeze(-1), -1)  # (B, T, K)
        values = ids.squeeze(-1) if self.num_groups == 1 else ids  # AbsTargets: one id set is (B, T)
        self._pending = (values, ids, vectors) if self.training else None
        decay = torch.tensor(self.decay(batch.num_updates))
        return Targets(values, valid, self.kind, stats=dict(ema_decay=decay))

    @torch.no_grad()
    def observe(self, targets: Targets, used: torch.Tensor) -> None:
        """Gather each codebook's frame counts and vector sums over the ``used`` (B, T) frames."""
        if self._pending is None or self._pending[0] is not targets.values:
            raise RuntimeError("online_codebooks: observe() needs the targets of this source's last training forward")
        _, ids, vectors = self._pending
        self._pending = None  # the teacher vectors are not kept past the step
        num_codebooks, size, dim = self.codebook_sums.shape
        with torch.autocast(device_type=used.device.type, enabled=False):
            selected = ids[used].T  # (K, N)
            # One flat index per (codebook, codeword), so that one index_add_ does all K.
            flat = (selected + torch.arange(num_codebooks, device=ids.device).unsqueeze(1) * size).reshape(-1)
            gathered = vectors.new_zeros(num_codebooks * size, dim + 1)
            gathered[:, :dim].index_add_(0, flat, vectors[:, used].reshape(-1, dim))
            gathered[:, dim] = torch.bincount(flat, minlength=num_codebooks * size).float()
            gathered = gathered.view(num_codebooks, size, dim + 1)
        self._gathered = gathered if self._gathered is None else self._gathered + gathered
        targets.stats["codebook_ppl"] = codebook_perplexity(gathered[..., dim])
        targets.stats["dead_codewords"] = (self.codebook_counts < self.dead_count).float().sum(-1).mean()

    @torch.no_grad()
    def on_update(self, num_updates: int, student_encoder: torch.nn.Module) -> None:
        """The EMA teacher's step (none once frozen), then the codebooks' from the gathered frames."""
        super().on_update(num_updates, student_encoder)
        gathered, self._gathered = self._gathered, None
        num_codebooks, size, dim = self.codebook_sums.shape
        if gathered is None:  # every rank joins the all-reduce, with or without frames
            gathered = self.codebook_sums.new_zeros(num_codebooks, size, dim + 1)
        if world_size() > 1:
            torch.distributed.all_reduce(gathered)  # summed over the ranks' frames
        sums, counts = gathered[..., :dim], gathered[..., dim]
        # Reference: alpha = 1 where a codeword got no frame (it keeps its sum and count).
        alpha = torch.where(counts > 0, torch.full_like(counts, self.codebook_decay), torch.ones_like(counts))
        self.codebook_counts.mul_(alpha).add_((1.0 - alpha) * counts)
        self.codebook_sums.mul_(alpha.unsqueeze(-1)).add_((1.0 - alpha).unsqueeze(-1) * sums)

    def on_update_boundary(self) -> None:
        # A skipped update must not carry its batches' statistics into the next one.
        self._gathered = None
        self._pending = None

    def _apply(self, fn, recurse=True):
        # .to(dtype) / .half() (ESPnet's --train_dtype) would round the codebooks: keep them
        # float32, moved to wherever the rest of the module went.
        saved = {name: self._buffers[name] for name in CODEBOOK_BUFFERS}
        super()._apply(fn, recurse)
        for name, before in saved.items():
            self._buffers[name] = before.to(device=self._buffers[name].device, dtype=torch.float32)
        return self


def nearest_codewords(vectors: torch.Tensor, codewords: torch.Tensor) -> torch.Tensor:
    """The id of each vector's nearest codeword (L2), per codebook.

    Args:
        vectors: (K, N, D) float32; codewords: (K, V, D) float32.
    Returns:
        (K, N) int64.
    """
    # |x - c|^2 = |x|^2 + |c|^2 - 2 x.c; |x|^2 is the same for every codeword.
    distances = (codewords ** 2).sum(-1).unsqueeze(1) - 2.0 * torch.bmm(vectors, codewords.transpose(1, 2))
    return distances.argmin(dim=-1)


def codebook_perplexity(counts: torch.Tensor) -> torch.Tensor:
    """2^H of each codebook's distribution of frames over its codewords, averaged over codebooks
    (DinoSR's ``target_ppl``: V when every codeword is used equally, 1 when one takes all).

    Args:
        counts: (K, V) frames per codeword.
    Returns:
        scalar float32 (NaN without frames).
    """
    total = counts.sum(-1, keepdim=True)
    if bool((total == 0).any()):
        return counts.new_full((), float("nan"))
    p = counts / total
    return (2.0 ** -(p * torch.log2(p + 1e-8)).sum(-1)).mean()
