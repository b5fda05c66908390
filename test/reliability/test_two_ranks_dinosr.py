"""DinoSR on two gloo ranks (CPU): every rank ends with the same codebooks and EMA teacher, and
they are those of one process on the same global batches (the statistics are summed over ranks).

The randomness that differs between one and two processes is taken out as in
test_two_ranks.py (no dropout, no convolution module, every frame masked, equally long
utterances, SGD). Each rank reads its own half of every global batch, so without the
all-reduce of the codebook statistics the ranks' codebooks would differ (or, with DDP's
buffer broadcast, be rank 0's alone) and not match the single process.
"""

import pytest
import torch
import yaml

from trinet_testing import MINI_CONF
from two_ranks_testing import two_ranks_and_one_process

pytestmark = pytest.mark.reliability

CODEBOOKS = ("targets.codebooks.codebook_sums", "targets.codebooks.codebook_counts")


def _comparable_config(path):
    conf = yaml.safe_load((MINI_CONF / "pretrain_dinosr_tiny.yaml").read_text())
    conf["encoder_conf"].update(dropout_rate=0.0, positional_dropout_rate=0.0, attention_dropout_rate=0.0,
                                use_cnn_module=False)
    conf["view_conf"].update(span=1000)
    conf["model_conf"]["collapse_guard"].update(warmup_updates=0, min_pred_var=1e-6, min_codebook_ppl=1e-6)
    conf.update(optim="sgd", optim_conf=dict(lr=0.5), scheduler=None, scheduler_conf={})
    path.write_text(yaml.safe_dump(conf))
    return path


@pytest.mark.slow
def test_two_ranks_hold_the_codebooks_of_one_process(tmp_path):
    rank0, _, single = two_ranks_and_one_process(_comparable_config(tmp_path / "comparable.yaml"), tmp_path)
    for key in CODEBOOKS:
        assert rank0[key].dtype == torch.float32
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-5, atol=1e-5, msg=key)
    teacher = [k for k in single if k.startswith("targets.codebooks.teacher.")]
    assert teacher
    for key in teacher:
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-5, atol=2e-6, msg=key)
    # the codebooks learnt from all 8 frames sets, not from constants
    assert single["targets.codebooks.codebook_counts"].ne(1.0).any()
