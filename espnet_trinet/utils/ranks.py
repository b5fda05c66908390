"""Small collectives over the ranks of a DDP run (no-ops in a single process).

Decisions that stop training must be the same on every rank: a rank that raises
alone leaves the others waiting forever in the next all-reduce.
"""

from typing import Dict, Iterable

import torch


def world_size() -> int:
    """Processes in the default process group (1 without one)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def gather_from_all_ranks(items: list) -> list:
    """The concatenation of ``items`` from every rank, in rank order (pickled objects)."""
    if world_size() == 1:
        return items
    gathered = [None] * world_size()
    torch.distributed.all_gather_object(gathered, items)
    return [item for rank_items in gathered for item in rank_items]


def mean_over_ranks(stats: Dict[str, torch.Tensor], keys: Iterable[str]) -> Dict[str, torch.Tensor]:
    """``stats`` with the scalars named in ``keys`` replaced by their mean over ranks.

    Args:
        stats: scalar tensors, all on the process group's device.
        keys: which of them to average (missing ones are skipped).
    """
    keys = [k for k in keys if k in stats]
    if world_size() == 1 or not keys:
        return stats
    values = torch.stack([stats[k].detach().float() for k in keys])
    torch.distributed.all_reduce(values)
    values /= world_size()
    return {**stats, **dict(zip(keys, values))}
