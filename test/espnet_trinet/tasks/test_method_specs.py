import argparse

import pytest

from espnet_trinet.tasks.method_specs import resolved_specs, yaml_list

SPECS = [dict(name="ema", type="ema_layers", conf=dict(top_k=3)), dict(name="frozen", type="frozen_asr")]


def test_overrides_merge_into_a_copy_of_the_named_entry():
    resolved = resolved_specs(SPECS, {"frozen": {"mode": "online"}, "ema": {"top_k": 2}}, "target")
    assert resolved == [dict(name="ema", type="ema_layers", conf=dict(top_k=2)),
                        dict(name="frozen", type="frozen_asr", conf=dict(mode="online"))]
    assert SPECS[0]["conf"] == dict(top_k=3)  # the config itself is untouched


@pytest.mark.parametrize("specs, overrides, message", [
    ([dict(name="a", type="x"), dict(name="a", type="y")], {}, "two targets are named 'a'"),
    ([dict(name="a")], {}, "each target must be"),
    ([dict(name="a", type="x", extra=1)], {}, "each target must be"),
    ([dict(name="a-b", type="x")], {}, "must be a word"),
    (SPECS, {"frozn": {"mode": "online"}}, r"--target_conf names \['frozn'\], but the config's targets are"),
])
def test_bad_entries_and_unknown_names_are_errors(specs, overrides, message):
    with pytest.raises(ValueError, match=message):
        resolved_specs(specs, overrides, "target")


def test_command_line_lists():
    assert yaml_list("[{name: a, type: b}]") == [dict(name="a", type="b")]
    with pytest.raises(argparse.ArgumentTypeError):
        yaml_list("{name: a}")
