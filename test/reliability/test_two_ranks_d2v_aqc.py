"""data2vec-aqc on two gloo ranks (CPU): the augmented copies, the trainable quantiser, the per-batch
k-means and the negatives are drawn on each rank, and DDP still leaves both ranks with the same
weights, bit for bit, every trainable part moved.

Unlike data2vec 2.0's and DinoSR's two-rank tests, the run is not compared with one process: the
Gumbel noise, the negatives and each rank's k-means of its own half of the batch are random draws
that one process makes differently (as in the reference, whose clustering is per GPU)."""

import pytest
import torch

from espnet_trinet.augmentation.generated_corpus import write_augmentation_corpus
from trinet_testing import MINI_CONF, train_args, write_audio_dir
from two_ranks_testing import run_ranks

pytestmark = pytest.mark.reliability


@pytest.mark.slow
def test_two_ranks_keep_one_model(tmp_path):
    train = write_audio_dir(tmp_path / "train", 8, seed=3, min_sec=1.5, max_sec=1.5)
    valid = write_audio_dir(tmp_path / "valid", 2, seed=4, min_sec=1.5, max_sec=1.5)
    noise_scp, rir_scp = write_augmentation_corpus(tmp_path / "augmentation", num_noises=2, noise_seconds=1.0,
                                                   num_rirs=2)
    from espnet_trinet.tasks.trinet import TriNetTask
    from trinet_testing import namespace_from_config

    # Both ranks start from these weights (--init_param), so that "moved" is measured against them.
    torch.manual_seed(5)
    args = namespace_from_config(MINI_CONF / "pretrain_d2v_aqc_tiny.yaml", normalize="utterance_mvn",
                                 normalize_conf={})
    initial = TriNetTask.build_model(args).state_dict()
    torch.save(initial, tmp_path / "initial.pth")
    argv = train_args(MINI_CONF / "pretrain_d2v_aqc_tiny.yaml", tmp_path / "two", train, valid,
                      "--max_epoch", 1, "--batch_type", "unsorted", "--batch_size", 4,
                      "--init_param", str(tmp_path / "initial.pth"),
                      "--view_conf", f"augmentation.reverb.rir_scp={rir_scp}",
                      "--view_conf", f"augmentation.background_noise.noise_scp={noise_scp}")
    ranks = run_ranks(argv, 2, tmp_path)
    rank0, rank1 = ranks[0]["model"], ranks[1]["model"]
    assert int(rank0["num_updates"]) == 2
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert torch.equal(initial["encoder.after_norm.weight"], rank0["encoder.after_norm.weight"])  # no loss reads it
    for key in ("targets.codes.quantizer.weight_proj.weight", "targets.codes.quantizer.entries",
                "targets.codes.project.weight", "targets.codes.input_norm.weight", "objectives.ccl.head.weight",
                "encoder.embed.conv.0.weight", "view.mask_emb"):
        assert not torch.equal(initial[key], rank0[key]), key
