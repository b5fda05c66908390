#!/usr/bin/env python3
"""What the recipe must know of a method's pretraining config, as shell assignments.

Reads the config's ``targets`` with the same overrides trinet_train will get (other
trinet_train options are accepted and ignored) and prints, for ``eval`` in trinet.sh:

    method_needs_teacher=true          # a frozen_asr target: pretrains after a fine-tuning
    method_label='ctc, offline'        # for RESULTS.md
    method_frozen_sources=frozen       # the frozen-teacher targets, by name
    method_frozen_frozen_mode=offline  # and for each of them: mode, projector, data key
    method_frozen_frozen_projector=ctc
    method_frozen_frozen_data_key=frozen_targets
    method_frozen_frozen_conf='{projector: ctc}'  # for dump_frozen_targets --source_conf
    method_train_opts='--target_conf frozen.mode=offline'  # the recipe's overrides, for trinet_train

Example:
    eval "$(python -m espnet_trinet.bin.ssl_method_info --config conf/pretrain_trinet_tiny.yaml \\
        --frozen_mode online --max_epoch 3)"
"""

import argparse
import inspect
import shlex
import sys

import yaml
from espnet2.utils.nested_dict_action import NestedDictAction

from espnet_trinet.targets.registry import TARGET_TYPES
from espnet_trinet.tasks.method_specs import resolved_specs


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the method's pretraining config")
    parser.add_argument("--target_conf", action=NestedDictAction, default={}, help="as trinet_train's")
    parser.add_argument("--frozen_mode", default="", help="offline or online for every frozen teacher (recipe)")
    parser.add_argument("--frozen_projector", default="", help="projector of every frozen teacher (recipe)")
    return parser


def _default(cls, key):
    return inspect.signature(cls.__init__).parameters[key].default


def method_info(config: dict, target_conf: dict, frozen_mode: str = "", frozen_projector: str = "") -> dict:
    """{shell variable: value} for one method (see the module docstring)."""
    specs = resolved_specs(config.get("targets", []), target_conf, "target")
    recipe_opts, frozen, labels, per_source = [], [], [], {}
    for spec in specs:
        cls = TARGET_TYPES.get(spec["type"])
        if cls is None:
            raise ValueError(f"target '{spec['name']}': type '{spec['type']}' is not one of {sorted(TARGET_TYPES)}")
        if not cls.needs_finetuned_teacher:
            continue
        name, conf = spec["name"], spec["conf"]
        for key, value in (("mode", frozen_mode), ("projector", frozen_projector)):
            if value:
                conf[key] = value
                recipe_opts.append(f"--target_conf {name}.{key}={value}")
        settings = {key: conf.get(key, _default(cls, key)) for key in ("mode", "projector", "data_key")}
        frozen.append(name)
        labels.append(f"{settings['projector']}, {settings['mode']}")
        per_source.update({f"method_frozen_{name}_{key}": value for key, value in settings.items()})
        # What the dump must be made with (dump_frozen_targets --source_conf).
        dump_conf = {k: conf[k] for k in ("projector", "num_classes", "seed", "temperature") if k in conf}
        per_source[f"method_frozen_{name}_conf"] = yaml.safe_dump(dump_conf, default_flow_style=True).strip()
    return dict(
        method_needs_teacher="true" if frozen else "false",
        method_label="; ".join(labels),
        method_frozen_sources=" ".join(frozen),
        method_train_opts=" ".join(recipe_opts),
        **per_source,
    )


def main(argv=None) -> int:
    args, _ = get_parser().parse_known_args(argv)
    try:
        with open(args.config, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        info = method_info(config, args.target_conf, args.frozen_mode, args.frozen_projector)
    except (OSError, ValueError) as err:
        print(f"ssl_method_info: {args.config}: {err}", file=sys.stderr)
        return 1
    for key, value in info.items():
        print(f"{key}={shlex.quote(str(value))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
