"""A Gumbel-softmax vector quantiser (wav2vec 2.0's, which data2vec-aqc reuses).

Each frame picks one of V entries in each of G groups: logits from a linear map, a hard
Gumbel-softmax sample in training (straight-through: the gradient of the soft sample) and
the argmax in evaluation; the picked entries (each of dim d/G) are concatenated into a
d-dim vector. The temperature decays per optimizer update from ``max`` to ``min`` by a
factor (wav2vec 2.0 / data2vec-aqc: 2 -> 0.5, x 0.999995), a pure function of the update
count, so ``--resume`` (which restores the count) restores it.

The diversity penalty (G V - perplexity of the batch-averaged softmax) / (G V) pushes the
frames to spread over the entries; ``code_ppl`` (the perplexity of the hard picks) is what
the log watches for codebook usage.
"""

from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F


def gumbel_temperature(num_updates: int, temperature: Sequence[float]) -> float:
    """max(max_temp * decay ** num_updates, min_temp) for ``temperature`` = (max, min, decay)."""
    max_temp, min_temp, decay = temperature
    return max(max_temp * decay ** num_updates, min_temp)


def _perplexity(probs: torch.Tensor) -> torch.Tensor:
    """(G, V) distributions -> sum over groups of exp(entropy)."""
    return torch.exp(-(probs * torch.log(probs + 1e-7)).sum(dim=-1)).sum()


class GumbelVectorQuantizer(torch.nn.Module):
    """(N, D) frames -> (N, dim) quantised vectors.

    Args:
        input_dim: D.
        num_groups: G (data2vec-aqc: 2).
        num_entries: V per group (320).
        dim: d of the quantised vector, G entries of d/G concatenated (256).
        temperature: (max, min, decay per update) (2.0, 0.5, 0.999995).
    """

    def __init__(self, input_dim: int, num_groups: int = 2, num_entries: int = 320, dim: int = 256,
                 temperature: Sequence[float] = (2.0, 0.5, 0.999995)):
        super().__init__()
        if dim % num_groups != 0:
            raise ValueError(f"the quantised dim {dim} must be a multiple of the groups {num_groups}")
        if len(temperature) != 3 or not 0 < temperature[1] <= temperature[0] or not 0 < temperature[2] <= 1:
            raise ValueError(f"temperature must be (max, min, decay) with 0 < min <= max and 0 < decay <= 1, "
                             f"got {temperature}")
        self.num_groups, self.num_entries = num_groups, num_entries
        self.temperature = tuple(float(t) for t in temperature)
        # wav2vec 2.0's initialisation: entries uniform in [0, 1), logits' weights N(0, 1).
        self.entries = torch.nn.Parameter(torch.empty(1, num_groups * num_entries, dim // num_groups).uniform_())
        self.weight_proj = torch.nn.Linear(input_dim, num_groups * num_entries)
        torch.nn.init.normal_(self.weight_proj.weight, mean=0.0, std=1.0)
        torch.nn.init.zeros_(self.weight_proj.bias)

    def forward(self, x: torch.Tensor, num_updates: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Quantise frames.

        Args:
            x: (N, D) frames.
            num_updates: optimizer updates so far (the temperature).
        Returns:
            (N, dim) quantised vectors and float32 stats: ``code_ppl`` (hard picks),
            ``prob_ppl`` (softmax), ``diversity`` ((G V - prob_ppl) / (G V), the penalty)
            and ``temp``.
        """
        n = x.size(0)
        logits = self.weight_proj(x).float().view(n, self.num_groups, self.num_entries)
        picks = logits.argmax(dim=-1)  # (N, G)
        hard = F.one_hot(picks, self.num_entries).float()  # (N, G, V)
        temp = gumbel_temperature(num_updates, self.temperature)
        stats = dict(
            code_ppl=_perplexity(hard.mean(dim=0)) if n else logits.new_zeros(()),
            prob_ppl=_perplexity(torch.softmax(logits, dim=-1).mean(dim=0)) if n else logits.new_zeros(()),
            temp=logits.new_tensor(temp),
        )
        total = self.num_groups * self.num_entries
        stats["diversity"] = (total - stats["prob_ppl"]) / total
        one_hot = F.gumbel_softmax(logits, tau=temp, hard=True) if self.training else hard
        # Each group's picked entry, as a product (N, G, V) x (G, V, d/G): the straight-through
        # gradient reaches every entry's softmax weight (a product of the one-hot with the
        # entries, summed, would hold an (N, G, V, d/G) tensor).
        entries = self.entries.view(self.num_groups, self.num_entries, -1)
        q = torch.einsum("ngv,gvd->ngd", one_hot.to(entries.dtype), entries)
        return q.reshape(n, -1), stats
