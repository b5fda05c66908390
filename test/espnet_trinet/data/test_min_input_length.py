"""min_input_length against ESPnet itself: one sample less than its answer and ESPnet's encoder
refuses the input (TooShortUttError), its answer and the encoder encodes it; far shorter and
the frontend's STFT fails."""

import pytest
import torch
import yaml
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError

from espnet_trinet.bin.min_input_length import main
from espnet_trinet.data import min_input_length as mil
from trinet_testing import MINI_CONF

ASR_CONF = MINI_CONF / "finetune_ctc_tiny.yaml"


def _encode(conf: dict, num_samples: int) -> int:
    """Frames ESPnet's frontend and encoder (random weights) make of ``num_samples`` of noise."""
    frontend = mil._choices("frontend", conf["frontend"], ASR_CONF)(**conf["frontend_conf"]).eval()
    encoder = mil._choices("encoder", conf["encoder"], ASR_CONF)(
        input_size=frontend.output_size(), **conf["encoder_conf"]
    ).eval()
    with torch.no_grad():
        feats, lengths = frontend(torch.randn(1, num_samples), torch.tensor([num_samples]))
        _, out_lengths, _ = encoder(feats, lengths)
    return int(out_lengths[0])


@pytest.mark.parametrize("input_layer,samples,frames", [("conv2d", 960, 7), ("conv2d6", 1600, 11)])
def test_shortest_input_is_what_espnet_encodes(tmp_path, input_layer, samples, frames):
    conf = yaml.safe_load(ASR_CONF.read_text())
    conf["encoder_conf"]["input_layer"] = input_layer
    path = tmp_path / "conf.yaml"
    path.write_text(yaml.safe_dump(conf))
    result = mil.min_input_length(path)
    assert (result.samples, result.frames) == (samples, frames)
    assert _encode(conf, samples) >= 1
    with pytest.raises(TooShortUttError):
        _encode(conf, samples - 1)
    with pytest.raises(RuntimeError, match="Padding size should be less than"):  # under half an STFT window
        _encode(conf, 200)


def test_known_classes_are_trinet_tasks():
    from espnet_trinet.tasks import trinet

    for kind in ("frontend", "encoder"):
        table = getattr(trinet, f"{kind}_choices").classes
        assert {name: mil._choices(kind, name, ASR_CONF) for name in mil.KNOWN[kind]} == dict(table)


def test_configs_it_cannot_read_are_named(tmp_path):
    (tmp_path / "feats.yaml").write_text("input_size: 80\nfrontend: null\n")
    with pytest.raises(ValueError, match=r"feats.yaml: no frontend"):
        mil.min_input_length(tmp_path / "feats.yaml")
    (tmp_path / "odd.yaml").write_text("encoder: nonexistent\n")
    with pytest.raises(ValueError, match=r"odd.yaml: encoder 'nonexistent' is neither"):
        mil.min_input_length(tmp_path / "odd.yaml")
    with pytest.raises(FileNotFoundError, match="no such config"):
        mil.min_input_length(tmp_path / "absent.yaml")


@pytest.mark.slow
def test_cli_prints_the_longest_minimum_in_seconds(tmp_path, capsys):
    conf = yaml.safe_load(ASR_CONF.read_text())
    conf["encoder_conf"]["input_layer"] = "conv2d8"  # 15 frames: 2240 samples
    (tmp_path / "c8.yaml").write_text(yaml.safe_dump(conf))
    assert main([str(ASR_CONF), str(tmp_path / "c8.yaml")]) == 0
    assert capsys.readouterr().out == "0.14\n"
    assert main([str(tmp_path / "absent.yaml")]) == 1
    assert "absent.yaml: no such config" in capsys.readouterr().err
