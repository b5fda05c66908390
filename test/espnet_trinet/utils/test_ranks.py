import multiprocessing

import pytest
import torch

from espnet_trinet.utils.ranks import gather_from_all_ranks, mean_over_ranks, world_size


def test_single_process_is_a_no_op():
    stats = {"pred_var": torch.tensor(0.5), "loss": torch.tensor(2.0)}
    assert world_size() == 1
    assert mean_over_ranks(stats, ["pred_var"]) is stats
    assert gather_from_all_ranks(["a"]) == ["a"]


def _rank(rank, init_file, results):
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", world_size=2, rank=rank)
    stats = {"pred_var": torch.tensor(0.005 + 0.01 * rank), "eff_rank": torch.tensor(4.0), "loss": torch.tensor(rank)}
    mean = mean_over_ranks(stats, ["pred_var", "target_var", "eff_rank"])  # target_var absent: skipped
    gathered = gather_from_all_ranks([f"utt{rank}a", f"utt{rank}b"] if rank else [])
    results.put((rank, {k: float(v) for k, v in mean.items()}, gathered))
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_agree(tmp_path):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    ranks = [context.Process(target=_rank, args=(r, tmp_path / "init", results)) for r in range(2)]
    for process in ranks:
        process.start()
    outcome = dict((rank, (mean, gathered)) for rank, mean, gathered in (results.get(timeout=60) for _ in ranks))
    for process in ranks:
        process.join(60)
        assert process.exitcode == 0
    for rank in range(2):
        mean, gathered = outcome[rank]
        # both ranks see the same mean: 0.005 alone is under 0.01, the mean 0.01 is not
        assert mean["pred_var"] == pytest.approx(0.01) and mean["eff_rank"] == 4.0
        assert mean["loss"] == rank  # not averaged
        assert gathered == ["utt1a", "utt1b"]

