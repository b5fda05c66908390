"""Run trinet_train as N gloo ranks (forked processes) and keep each rank's final state."""

import logging
import multiprocessing
import traceback
from pathlib import Path
from typing import List, Sequence, Tuple

import torch
from espnet2.train.trainer import Trainer

from espnet_trinet.tasks.trinet import TriNetTask


RECORDED_STATS = ("loss", "loss_struc", "loss_regul")


class StateSavingTrainer(Trainer):
    """ESPnet's Trainer, plus each rank's final model and frozen-teacher state in
    ``<output_dir>/final_state.rank<R>.pth`` (ESPnet saves rank 0's model only), with
    the training stats of every step as the reporter got them (after DDP's averaging;
    the checkpoint only keeps epoch means)."""

    step_stats: List[dict] = []

    @classmethod
    def run(cls, model, trainer_options, distributed_option, **kwargs):
        cls.step_stats = []
        super().run(model=model, trainer_options=trainer_options, distributed_option=distributed_option, **kwargs)
        rank = distributed_option.dist_rank if distributed_option.distributed else 0
        state = {"model": model.state_dict(), "step_stats": cls.step_stats}
        frozen = model.targets["frozen"] if "frozen" in model.targets else None
        if frozen is not None and frozen.mode == "online":
            state["frozen_teacher"] = frozen.teacher.model.state_dict()
        torch.save(state, Path(trainer_options.output_dir) / f"final_state.rank{rank}.pth")


    @classmethod
    def train_one_epoch(cls, reporter, **kwargs):
        register = reporter.register

        def register_and_record(stats, weight=None):
            if "loss" in stats:  # the model's stats, not the optimizer's
                cls.step_stats.append({k: float(stats[k]) for k in RECORDED_STATS if k in stats})
            return register(stats, weight)

        reporter.register = register_and_record
        return super().train_one_epoch(reporter=reporter, **kwargs)


class StateSavingTriNetTask(TriNetTask):
    trainer = StateSavingTrainer


def _rank_main(argv: List[str], log_file: Path, error_file: Path) -> None:
    # A forked child: one intra-op thread (OpenMP must not be re-entered after fork, and
    # the ranks share the machine's cores) and its own log file.
    torch.set_num_threads(1)
    logging.root.handlers = [logging.FileHandler(log_file)]
    logging.root.setLevel(logging.INFO)
    try:
        StateSavingTriNetTask.main(cmd=argv)
    except BaseException:
        error_file.write_text(traceback.format_exc())
        raise


def run_ranks(argv: Sequence[str], world_size: int, work_dir: Path, timeout_s: float = 300) -> List[dict]:
    """Train with ``world_size`` gloo ranks on CPU; return each rank's final state.

    A rank that fails or hangs fails the caller with the ranks' logs.
    """
    errors = run_ranks_to_the_end(argv, world_size, work_dir, timeout_s)
    if any(errors):
        raise AssertionError("ranks failed:\n" + _logs(work_dir, world_size))
    output_dir = Path(argv[argv.index("--output_dir") + 1])
    return [torch.load(output_dir / f"final_state.rank{rank}.pth", weights_only=False) for rank in range(world_size)]


def run_ranks_to_the_end(argv: Sequence[str], world_size: int, work_dir: Path, timeout_s: float = 300) -> List[str]:
    """Train with ``world_size`` gloo ranks on CPU until every rank has exited; return
    each rank's traceback ("" for a rank that finished).

    The ranks are forked from this process, so they skip the interpreter start and the
    ESPnet import (tens of seconds each on a small machine) and run the same code as
    ``python -m espnet_trinet.bin.trinet_train`` with ESPnet's distributed options.
    A rank still running after ``timeout_s`` (e.g. waiting for a rank that stopped
    alone) is killed and fails the caller with the ranks' logs.
    """
    init_file = work_dir / "dist_init"
    init_file.unlink(missing_ok=True)
    context = multiprocessing.get_context("fork")
    ranks = []
    for rank in range(world_size):
        rank_argv = list(argv) + [
            "--ngpu", "0", "--multiprocessing_distributed", "false", "--dist_backend", "gloo",
            "--dist_world_size", str(world_size), "--dist_rank", str(rank),
            "--dist_init_method", f"file://{init_file}",
        ]
        files = (work_dir / f"rank{rank}.log", work_dir / f"rank{rank}.error")
        process = context.Process(target=_rank_main, args=(rank_argv, *files))
        process.start()
        ranks.append((process, files))
    for process, _ in ranks:
        process.join(timeout_s)
    hung = [rank for rank, (process, _) in enumerate(ranks) if process.is_alive()]
    for process, _ in ranks:
        if process.is_alive():
            process.kill()
            process.join()
    if hung:
        raise AssertionError(f"ranks {hung} hung:\n" + _logs(work_dir, world_size))
    errors = [error_file.read_text() if error_file.exists() else "" for _, (_, error_file) in ranks]
    for rank, (process, _) in enumerate(ranks):
        if process.exitcode != 0 and not errors[rank]:
            errors[rank] = f"exit code {process.exitcode}"
    return errors


def _logs(work_dir: Path, world_size: int) -> str:
    report = []
    for rank in range(world_size):
        for path in (work_dir / f"rank{rank}.log", work_dir / f"rank{rank}.error"):
            if path.exists():
                report.append(f"--- rank {rank} {path.name}\n" + path.read_text()[-3000:])
    return "\n".join(report)


def two_ranks_and_one_process(conf: Path, tmp_path: Path) -> Tuple[dict, dict, dict]:
    """Train ``conf`` for 2 updates on 8 equally long utterances as 2 gloo ranks (2 utterances each per
    update) and as one process on the same global batches; returns the models of rank 0, rank 1 and
    the single process, after checking that both ranks hold the same weights, bit for bit."""
    from trinet_testing import train_args, write_audio_dir

    train = write_audio_dir(tmp_path / "train", 8, seed=3, min_sec=1.5, max_sec=1.5)
    valid = write_audio_dir(tmp_path / "valid", 2, seed=4, min_sec=1.5, max_sec=1.5)
    common = ("--max_epoch", 1, "--batch_type", "unsorted", "--batch_size", 4)
    ranks = run_ranks(train_args(conf, tmp_path / "two", train, valid, *common), 2, tmp_path)
    StateSavingTriNetTask.main(cmd=train_args(conf, tmp_path / "one", train, valid, *common))
    single = torch.load(tmp_path / "one" / "final_state.rank0.pth", weights_only=False)["model"]
    rank0, rank1 = ranks[0]["model"], ranks[1]["model"]
    assert int(rank0["num_updates"]) == int(single["num_updates"]) == 2
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    return rank0, rank1, single
