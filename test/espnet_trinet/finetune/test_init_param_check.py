import pytest
import torch

from espnet_trinet.finetune.init_param_check import InitParam, compare_configs, compare_state, source_state


def test_init_param_spec_is_parsed_as_espnet_does(tmp_path):
    assert InitParam.parse("a/b.pth") == InitParam(tmp_path.__class__("a/b.pth"), None, None, None)
    spec = InitParam.parse("b.pth:encoder:encoder:encoder.embed")
    assert (spec.src_key, spec.dst_key, spec.excludes) == ("encoder", "encoder", "encoder.embed")
    assert spec.loads_encoder and not InitParam.parse("b.pth:decoder:decoder").loads_encoder
    assert InitParam.parse("b.pth::decoder").src_key is None


def test_source_state_filters_as_load_pretrained_model(tmp_path):
    path = tmp_path / "m.pth"
    torch.save({"encoder.a": torch.zeros(1), "encoder.embed.b": torch.zeros(2), "ema_teacher.c": torch.zeros(3)}, path)
    assert set(source_state(InitParam.parse(f"{path}:encoder:encoder"))) == {"a", "embed.b"}
    assert set(source_state(InitParam.parse(f"{path}:encoder:encoder:encoder.embed"))) == {"a"}
    with pytest.raises(FileNotFoundError, match="nothing.pth does not exist"):
        source_state(InitParam.parse(f"{tmp_path / 'nothing.pth'}:encoder:encoder"))


def _blocks(n, width=4):
    state = {"embed.w": torch.zeros(width, 3)}
    for i in range(n):
        state[f"encoders.{i}.w"] = torch.zeros(width, width)
        state[f"encoders.{i}.b"] = torch.zeros(width)
    return state


def test_state_comparison_names_blocks_tensors_and_shapes():
    assert compare_state(_blocks(2), _blocks(2), "encoder.") == []
    (problem,) = compare_state(_blocks(2), _blocks(3), "encoder.")
    assert problem == ("the checkpoint has 2 encoder blocks, the fine-tuning encoder 3 (encoder_conf.num_blocks): "
                       "block 2 of the fine-tuning encoder would stay random")
    (problem,) = compare_state(_blocks(4), _blocks(2), "encoder.")
    assert problem.endswith("blocks 2-3 of the checkpoint would not be loaded")
    missing, shapes = compare_state({k: v for k, v in _blocks(1, 5).items() if k != "embed.w"}, _blocks(1, 4), "e.")
    assert missing == "1 tensors not in the checkpoint, would stay random: e.embed.w"
    assert shapes.startswith("2 tensors of other shapes: e.encoders.0.w (5, 5) in the checkpoint, (4, 4) in the")
    (unexpected,) = compare_state(dict(_blocks(1), extra=torch.zeros(1)), _blocks(1), "")
    assert unexpected == "1 tensors in the checkpoint but not in the fine-tuning model: extra"


def test_many_tensors_are_counted_not_all_listed():
    (problem,) = compare_state({}, {f"t{i}": torch.zeros(1) for i in range(10)}, "")
    assert problem.endswith("t0, t1, t2 and 7 more")


BASE = dict(
    frontend="default", frontend_conf=dict(n_fft=512, hop_length=160), normalize="global_mvn",
    encoder="conformer", encoder_conf=dict(output_size=96, num_blocks=4, dropout_rate=0.1), input_size=None,
)


def _with(**changes):
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            config[section][name] = value
        else:
            config[section] = value
    return config


def test_configs_are_compared_after_resolving_defaults():
    # Spelled differently, same meaning: no difference.
    assert compare_configs(BASE, _with(frontend_conf__fs="16k", frontend_conf__n_mels=80)) == []
    # Training-only settings and the statistics file do not change what the weights mean.
    assert compare_configs(BASE, _with(encoder_conf__dropout_rate=0.3, normalize_conf={"stats_file": "x"})) == []
    diffs = compare_configs(BASE, _with(frontend_conf__hop_length=128, normalize="utterance_mvn",
                                        encoder_conf__macaron_style=True))
    assert {d["setting"]: (d["pretrained"], d["finetune"]) for d in diffs} == {
        "frontend_conf.hop_length": (160, 128),
        "normalize": ("global_mvn", "utterance_mvn"),
        "encoder_conf.macaron_style": (False, True),
    }
    assert [d["setting"] for d in compare_configs(BASE, _with(preencoder="linear"))] == ["preencoder"]
