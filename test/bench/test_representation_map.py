"""The representation map's model side: every method's pretrained student is rebuilt from its
experiment and tapped at block N-1 and after the final norm, and an untrained copy is seeded."""

import sys

import numpy as np
import pytest
import torch
import yaml

from trinet_testing import MINI_CONF, REPO, namespace_from_config

sys.path.insert(0, str(REPO / "bench"))
from methods import METHODS, method_config  # noqa: E402
from representation_map import encoder_taps, load_encoder  # noqa: E402


def fake_ssl_experiment(out, method):
    """config.yaml and a checkpoint as trinet_train leaves them (dumped frozen targets: offline)."""
    from espnet_trinet.tasks.trinet import TriNetTask

    args = namespace_from_config(method_config(method, MINI_CONF), normalize="utterance_mvn", normalize_conf={})
    args.target_conf = {spec["name"]: dict(output_dim=31) for spec in args.targets if spec["type"] == "frozen_asr"}
    torch.manual_seed(7)
    model = TriNetTask.build_model(args)
    out.mkdir(parents=True)
    (out / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), out / "valid.loss.ave.pth")
    return model


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_taps_of_a_rebuilt_student_and_of_its_untrained_copy(tmp_path, method):
    trained = fake_ssl_experiment(tmp_path / f"ssl_{method}", method)
    model = load_encoder(tmp_path / f"ssl_{method}", None, 0)
    assert not model.training
    for name, value in trained.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    audio = (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    taps = encoder_taps(model, audio)
    frames = (100 - 1) // 4  # 1 s: 101 fbank frames, 4x conv2d subsampling -> 24
    assert {k: v.shape for k, v in taps.items()} == {"mid": (frames, 96), "high": (frames, 96)}
    untrained = [load_encoder(None, tmp_path / f"ssl_{method}", seed) for seed in (0, 0, 1)]
    first = {k: encoder_taps(m, audio)["high"] for k, m in enumerate(untrained)}
    assert np.array_equal(first[0], first[1]) and not np.array_equal(first[0], first[2])
    assert not np.allclose(first[0], taps["high"])
