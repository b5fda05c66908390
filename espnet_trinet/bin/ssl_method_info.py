#!/usr/bin/env python3
"""What the recipe must know of a method's pretraining config, as shell assignments.

Reads the config's ``targets`` with the options trinet_train will get and prints, for
``eval`` in trinet.sh:

    method_needs_teacher=true          # a frozen_asr target: pretrains after a fine-tuning
    method_label='ctc, offline'        # for RESULTS.md
    method_frozen_sources=frozen       # the frozen-teacher targets, by name
    method_frozen_frozen_mode=offline  # and for each of them: mode, projector, data key,
    method_frozen_frozen_projector=ctc # and the projector settings the dump must use
    method_frozen_frozen_data_key=frozen_targets
    method_frozen_frozen_conf='{num_classes: 32, projector: ctc, seed: 0, temperature: 1.0}'
    method_label_sources=km            # k-means label targets the recipe makes (frame_labels with
    method_labels_km_features=mfcc     # conf.features): and for each of them: features (mfcc or
    method_labels_km_num_classes=100   # ssl), clusters, the data key and, for ssl features, the
    method_labels_km_data_key=labels   # method whose encoder makes them and its block
    method_labels_km_feature_method=''
    method_labels_km_feature_layer=''
    method_needs_rir=true              # its student view augments with impulse responses and/or
    method_needs_noise=true            # background noises whose lists the config leaves to the
                                       # recipe (data2vec-aqc: view_conf.augmentation.*_scp null)
    method_args='--target_conf frozen.mode=offline --max_epoch 3'  # its trinet_train options
    method_foreign_names=''            # --target_conf/--objective_conf names this config lacks

``--ssl_args`` are the recipe's options for every method: a ``--target_conf`` or
``--objective_conf`` entry goes only to the methods that have the named part (the recipe
fails if no method has it); every other option goes to all.

Example:
    eval "$(python -m espnet_trinet.bin.ssl_method_info --config conf/pretrain_trinet_tiny.yaml \\
        --frozen_mode online --ssl_args "--max_epoch 3 --target_conf frozen.seed=2")"
"""

import argparse
import inspect
import shlex
import sys
from typing import List, Tuple

import yaml
from espnet2.utils.nested_dict_action import NestedDictAction

from espnet_trinet.targets.registry import TARGET_TYPES
from espnet_trinet.tasks.method_specs import resolved_specs


OVERRIDES = {"--target_conf": "targets", "--objective_conf": "objectives"}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the method's pretraining config")
    parser.add_argument("--frozen_mode", default="", help="offline or online for every frozen teacher (recipe)")
    parser.add_argument("--frozen_projector", default="", help="projector of every frozen teacher (recipe)")
    parser.add_argument("--ssl_args", default="", help="trinet_train options of every method (one string)")
    return parser


def _override_names(value: str) -> List[str]:
    """The part names a --target_conf value changes: 'frozen.seed=1' or '{frozen: {seed: 1}}'."""
    if "=" in value:
        return [value.split("=", 1)[0].split(".", 1)[0]]
    parsed = yaml.safe_load(value)
    return list(parsed) if isinstance(parsed, dict) else []


def split_ssl_args(tokens: List[str], config: dict) -> Tuple[List[str], dict, List[str]]:
    """(this method's options, its --target_conf overrides, names of parts it lacks)."""
    kept, target_conf, foreign = [], {}, []
    i = 0
    while i < len(tokens):
        option, value = tokens[i], None
        if option.split("=", 1)[0] in OVERRIDES:
            if "=" in option:
                option, value = option.split("=", 1)
                i += 1
            else:
                value = tokens[i + 1] if i + 1 < len(tokens) else ""
                i += 2
            parts = {str(spec.get("name")) for spec in config.get(OVERRIDES[option], []) or []}
            names = _override_names(value)
            if names and all(name in parts for name in names):
                kept += [option, value]
                if option == "--target_conf":
                    action = NestedDictAction(["--target_conf"], "target_conf")
                    namespace = argparse.Namespace(target_conf=target_conf)
                    action(None, namespace, value)
                    target_conf = namespace.target_conf
            elif any(name in parts for name in names):
                raise ValueError(f"{option} {value} mixes parts of this config with others: split it")
            else:
                foreign += names
            continue
        kept.append(option)
        i += 1
    return kept, target_conf, foreign


def _default(cls, key):
    return inspect.signature(cls.__init__).parameters[key].default


KMEANS_FEATURES = ("mfcc", "ssl")


def _kmeans_settings(name: str, conf: dict) -> dict:
    """The shell variables of a k-means label source: what the recipe makes its labels from."""
    features = str(conf["features"])
    if features not in KMEANS_FEATURES:
        raise ValueError(f"target '{name}': features must be one of {KMEANS_FEATURES}, got '{features}'")
    method, layer = conf.get("feature_method") or "", conf.get("feature_layer") or ""
    if features == "ssl" and not (method and layer):
        raise ValueError(
            f"target '{name}': features ssl needs feature_method (the method whose pretrained encoder makes "
            "the features, e.g. data2vec) and feature_layer (its block, e.g. 6)"
        )
    if conf.get("num_classes") is None:
        raise ValueError(f"target '{name}': k-means labels need num_classes (the clusters, e.g. 100)")
    prefix = f"method_labels_{name}_"
    return {
        f"{prefix}features": features,
        f"{prefix}num_classes": int(conf["num_classes"]),
        f"{prefix}data_key": conf.get("data_key", "labels"),
        f"{prefix}feature_method": method if features == "ssl" else "",
        f"{prefix}feature_layer": layer if features == "ssl" else "",
    }


def _kmeans_label(name: str, conf: dict) -> str:
    """'k-means 100 of MFCC' or 'k-means 500 of data2vec block 6', for RESULTS.md."""
    if conf["features"] == "ssl":
        return f"k-means {conf['num_classes']} of {conf.get('feature_method')} block {conf.get('feature_layer')}"
    return f"k-means {conf['num_classes']} of {str(conf['features']).upper()}"


# The student view's augmentation parts that read a list of files: part -> its list's key.
AUGMENTATION_LISTS = {"reverb": "rir_scp", "background_noise": "noise_scp"}


def _augmentation_lists(config: dict) -> dict:
    """method_needs_rir / method_needs_noise: the lists the recipe must give the view."""
    augmentation = ((config.get("view_conf") or {}).get("augmentation") or {})
    needs = {}
    for part, key in AUGMENTATION_LISTS.items():
        conf = augmentation.get(part)
        needs[f"method_needs_{key.split('_')[0]}"] = "true" if conf is not None and not conf.get(key) else "false"
    return needs


def method_info(config: dict, ssl_args: str = "", frozen_mode: str = "", frozen_projector: str = "") -> dict:
    """{shell variable: value} for one method (see the module docstring)."""
    args, target_conf, foreign = split_ssl_args(shlex.split(ssl_args), config)
    specs = resolved_specs(config.get("targets", []), target_conf, "target")
    recipe_opts, frozen, labels, label_sources, per_source = [], [], [], [], {}
    for spec in specs:
        cls = TARGET_TYPES.get(spec["type"])
        if cls is None:
            raise ValueError(f"target '{spec['name']}': type '{spec['type']}' is not one of {sorted(TARGET_TYPES)}")
        if spec["type"] == "frame_labels" and spec["conf"].get("features"):
            label_sources.append(spec["name"])
            labels.append(_kmeans_label(spec["name"], spec["conf"]))
            per_source.update(_kmeans_settings(spec["name"], spec["conf"]))
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
        # What the dump must be made with (dump_frozen_targets --source_conf), defaults included,
        # so that a dump option that disagrees is caught even where the config is silent.
        dump_conf = {k: conf.get(k, _default(cls, k)) for k in ("projector", "num_classes", "seed", "temperature")}
        per_source[f"method_frozen_{name}_conf"] = yaml.safe_dump(dump_conf, default_flow_style=True).strip()
    return dict(
        method_needs_teacher="true" if frozen else "false",
        method_label="; ".join(labels),
        method_frozen_sources=" ".join(frozen),
        method_label_sources=" ".join(label_sources),
        method_args=" ".join(shlex.quote(token) for token in shlex.split(" ".join(recipe_opts)) + args),
        method_foreign_names=" ".join(dict.fromkeys(foreign)),
        **_augmentation_lists(config),
        **per_source,
    )


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        info = method_info(config, args.ssl_args, args.frozen_mode, args.frozen_projector)
    except (OSError, ValueError) as err:
        print(f"ssl_method_info: {args.config}: {err}", file=sys.stderr)
        return 1
    for key, value in info.items():
        print(f"{key}={shlex.quote(str(value))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
