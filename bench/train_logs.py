"""Read ESPnet training runs: per-interval statistics from train.log, update counts from checkpoints.

ESPnet's reporter writes one line every ``--log_interval`` batches, e.g.

    ... INFO: 3epoch:train:11-15batch: iter_time=0.033, forward_time=0.954, loss_struc=1.286, ...

whose values are means over those batches, and one summary per epoch,
``3epoch results: [train] ... total_count=120, [valid] ...``. A line's update number is the
number of training batches at its last batch: the previous epoch's ``total_count`` plus the
batch range's end.

A resumed run (``--resume true`` after a kill) has its earlier output in rotated logs: ESPnet's
launcher moves ``train.log`` to ``train.1.log`` (and ``train.1.log`` to ``train.2.log``, ...)
before it starts, and the resumed run repeats the epoch that was cut short. ``run_logs`` lists a
run's logs oldest first, and an epoch is read from the newest log that has it.
"""

import re
from pathlib import Path
from typing import Dict, List, Sequence

import torch

INTERVAL_LINE = re.compile(r"(\d+)epoch:train:(\d+)-(\d+)batch: (.*)$", re.MULTILINE)
EPOCH_TOTAL = re.compile(r"(\d+)epoch results: \[train\] .*?\btotal_count=(\d+)")
# ESPnet 202511's reporter sometimes glues two entries ("ema_decay=0.990target_var=0.996"), so a
# value ends where the number ends, not at a comma.
KEY_VALUE = re.compile(r"([A-Za-z_]\w*)=(-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?))")


class TrainLogError(ValueError):
    """A train.log that cannot give the curves asked for."""


def parse_values(text: str) -> Dict[str, float]:
    """``a=1.0, b=2e-3`` -> {"a": 1.0, "b": 0.002}; non-numeric values are left out."""
    return {k: float(v) for k, v in KEY_VALUE.findall(text)}


def updates_before_epoch(log: str) -> Dict[int, int]:
    """{epoch: optimizer updates before it} from the ``<N>epoch results: [train] ... total_count=K``
    lines, whose ``total_count`` is the cumulative number of training batches after epoch N."""
    done = {int(m.group(1)): int(m.group(2)) for m in EPOCH_TOTAL.finditer(log)}
    return {epoch + 1: count for epoch, count in done.items()} | {1: 0}


ROTATED = re.compile(r"\.(\d+)$")


def run_logs(log_path: Path) -> List[Path]:
    """The logs of one run, oldest first: ``log_path`` and the rotated logs of the same run.

    A rotated log belongs to the run only when every newer log starts after epoch 1 (a resumed
    run); a newer log that starts at epoch 1 is a fresh run in the same dir, which ends the chain.
    """
    log_path = Path(log_path)
    rotated = {}
    for p in log_path.parent.glob(f"{log_path.stem}.*{log_path.suffix}"):
        m = ROTATED.search(p.name[: len(p.name) - len(log_path.suffix)])
        if m:
            rotated[int(m.group(1))] = p
    chain = [log_path]
    while len(chain) in rotated:  # train.1.log, train.2.log, ... without a gap
        first = INTERVAL_LINE.search(chain[-1].read_text(errors="replace"))
        if first is None or int(first.group(1)) == 1:
            break
        chain.append(rotated[len(chain)])
    return chain[::-1]


def interval_stats(
    log_path: Path, keys: Sequence[str] = ("target_var", "pred_var", "eff_rank")
) -> List[Dict[str, float]]:
    """One record per training-log line: ``update`` (cumulative), ``epoch`` and the ``keys``.

    Args:
        log_path: an ESPnet ``train.log`` (trinet_train with ``--log_interval N``); a resumed
            run's rotated logs (``train.1.log``, ...) are read with it (``run_logs``).
        keys: statistics to keep; a line lacking one of them is an error.
    Returns:
        records in epoch order; the first epoch's updates start at 1.
    Raises:
        TrainLogError: no interval lines, an epoch whose predecessor never finished, or a key missing.
    """
    before, lines = {}, {}
    for path in run_logs(log_path):  # oldest first: a newer log's epoch replaces a cut-short one
        log = path.read_text(errors="replace")
        before.update(updates_before_epoch(log))
        this_log = {}
        for m in INTERVAL_LINE.finditer(log):
            this_log.setdefault(int(m.group(1)), []).append(m)
        lines.update(this_log)
    records = []
    for m in (m for epoch in sorted(lines) for m in lines[epoch]):
        epoch, end, values = int(m.group(1)), int(m.group(3)), parse_values(m.group(4))
        if epoch not in before:
            raise TrainLogError(f"{log_path}: epoch {epoch} is logged but epoch {epoch - 1} has no results line")
        missing = [k for k in keys if k not in values]
        if missing:
            raise TrainLogError(f"{log_path}: epoch {epoch} batch {end} has no {', '.join(missing)}")
        records.append(dict(update=before[epoch] + end, epoch=epoch, **{k: values[k] for k in keys}))
    if not records:
        raise TrainLogError(f"{log_path}: no '<N>epoch:train:<a>-<b>batch:' lines; train with --log_interval")
    return records


def logged_stats(log_path: Path) -> List[str]:
    """The statistics a run logs: the keys of its first training-log line, in log order.

    A method logs what its objectives and target sources report (e.g. ``codebook_ppl`` of DinoSR's
    codebooks, ``code_ppl`` of data2vec-aqc's quantiser; per-objective ones as
    ``<stat>_<objective>``), so which curves a run has is read from its log, not from its method.

    Raises:
        TrainLogError: no interval lines.
    """
    m = INTERVAL_LINE.search(Path(log_path).read_text(errors="replace"))
    if m is None:
        raise TrainLogError(f"{log_path}: no '<N>epoch:train:<a>-<b>batch:' lines; train with --log_interval")
    return list(parse_values(m.group(4)))


def _checkpoint(exp_dir: Path) -> dict:
    # Our own training output; it holds the reporter's state, which needs full unpickling.
    return torch.load(Path(exp_dir) / "checkpoint.pth", map_location="cpu", weights_only=False)


def run_counts(exp_dir: Path) -> Dict[str, int]:
    """Training batches of a finished ESPnet run and, for trinet_train runs, the model's own update
    counter (it drives the EMA schedule).

    Returns:
        {"batches": steps of the per-batch scheduler} plus {"num_updates": ...} for SSL models.
    """
    checkpoint = _checkpoint(exp_dir)
    counts = {"batches": int(checkpoint["schedulers"][0]["last_epoch"])}
    if "num_updates" in checkpoint["model"]:
        counts["num_updates"] = int(checkpoint["model"]["num_updates"])
    return counts
