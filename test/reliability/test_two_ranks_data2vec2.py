"""data2vec 2.0's efficient student on two gloo ranks (CPU): clones, removed frames and the
whole-encoder EMA teacher under DDP end with the weights of one process on the same global batches.

As in test_two_ranks_dinosr.py, the randomness that differs between one and two processes is
taken out: no dropout, no convolution module (its batch norm would see each rank's half), noise
std 0 at the removed frames, equally long utterances, SGD, and one fixed mask (every third frame;
the ranks are forked after it is patched in). Each clone's mask is the same, so M = 4 clones
and DDP's gradient averaging must together give one process's update.
"""

import pytest
import torch
import yaml

from espnet_trinet.views import visible_only
from trinet_testing import MINI_CONF
from two_ranks_testing import two_ranks_and_one_process

pytestmark = pytest.mark.reliability


def _every_third_frame(lengths, T, *args):
    frames = torch.arange(T).unsqueeze(0)
    return (frames % 3 == 0) & (frames < lengths.unsqueeze(1))


def _comparable_config(path):
    conf = yaml.safe_load((MINI_CONF / "pretrain_data2vec2_tiny.yaml").read_text())
    conf["encoder_conf"].update(dropout_rate=0.0, positional_dropout_rate=0.0, attention_dropout_rate=0.0,
                                use_cnn_module=False)
    conf["view_conf"].update(clones=4, noise_std=0.0)
    conf["objectives"][0]["conf"].update(input_dropout=0.0)
    conf["model_conf"]["collapse_guard"].update(warmup_updates=0, min_pred_var=1e-6, min_target_var=1e-6)
    conf.update(optim="sgd", optim_conf=dict(lr=0.5), scheduler=None, scheduler_conf={})
    path.write_text(yaml.safe_dump(conf))
    return path


@pytest.mark.slow
def test_two_ranks_train_the_weights_of_one_process(tmp_path, monkeypatch):
    monkeypatch.setattr(visible_only, "compute_span_mask", _every_third_frame)
    rank0, _, single = two_ranks_and_one_process(_comparable_config(tmp_path / "comparable.yaml"), tmp_path)
    teacher_embed = [k for k in single if k.startswith("targets.ema.teacher.model.embed.")]
    assert teacher_embed  # the whole encoder is EMA'd, subsampling included
    for key in single:
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-4, atol=1e-5, msg=key)
    assert not torch.equal(single["encoder.embed.out.0.weight"], single["targets.ema.teacher.model.embed.out.0.weight"])
