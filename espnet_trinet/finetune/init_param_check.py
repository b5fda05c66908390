"""Does a fine-tuning config fit the checkpoint its ``--init_param`` loads?

ESPnet's ``load_pretrained_model`` (espnet2 202511) fails on a parameter of another
shape or a block the fine-tuning model lacks, but only once the trainer is being set
up, with a long list of tensor names and no fix; it says nothing when the checkpoint
has *fewer* blocks than the fine-tuning encoder (the missing blocks silently stay
random), nor when a setting changes what the weights mean without changing their
shapes (frame shift, mel bins, sampling rate, normalisation, positional encoding,
...). This module finds all of that before training, from the fine-tuning model and
the pretraining experiment's ``config.yaml`` next to the checkpoint.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import torch
import yaml

from espnet_trinet.utils.espnet_conf import resolved_conf

# encoder_conf entries that regularise training or pick a kernel, not what the weights mean.
TRAINING_ONLY = {
    "dropout_rate", "positional_dropout_rate", "attention_dropout_rate", "stochastic_depth_rate",
    "layer_drop_rate", "interctc_layer_idx", "interctc_use_conditioning", "ctc_trim", "max_pos_emb_len",
    "use_flash_attn",
}
MAX_LISTED = 3  # tensor names listed per kind of problem; the rest are counted


@dataclass
class InitParam:
    """One ``--init_param <path>:<src_key>:<dst_key>:<exclude_keys>`` (ESPnet's syntax)."""

    path: Path
    src_key: Optional[str]
    dst_key: Optional[str]
    excludes: Optional[str]

    @classmethod
    def parse(cls, spec: str) -> "InitParam":
        parts = spec.split(":", 4) + [None] * 3
        path, src_key, dst_key, excludes = parts[:4]
        return cls(Path(path), src_key or None, dst_key or None, excludes)

    @property
    def loads_encoder(self) -> bool:
        return self.dst_key is None or self.dst_key.split(".")[0] == "encoder"


def source_state(init: InitParam) -> Dict[str, torch.Tensor]:
    """The checkpoint's tensors as ``load_pretrained_model`` would offer them to ``dst_key``."""
    if not init.path.is_file():
        raise FileNotFoundError(f"--init_param: {init.path} does not exist")
    state = torch.load(init.path, map_location="cpu", weights_only=False)
    if "module" in state:
        state = state["module"]
    if init.excludes is not None:
        for prefix in init.excludes.split(","):
            state = {k: v for k, v in state.items() if not k.startswith(prefix)}
    if init.src_key is not None:
        state = {k[len(init.src_key) + 1 :]: v for k, v in state.items() if k.startswith(init.src_key)}
    return state


def _block_count(keys) -> Optional[int]:
    indices = [int(m.group(1)) for m in (re.match(r"(?:.*\.)?encoders\.(\d+)\.", k) for k in keys) if m]
    return max(indices) + 1 if indices else None


def _listed(names: List[str]) -> str:
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more


def compare_state(src: Dict[str, torch.Tensor], dst: Dict[str, torch.Tensor], prefix: str) -> List[str]:
    """Problems loading ``src`` into a module whose state is ``dst`` (names shown with ``prefix``)."""
    problems = []
    missing = [k for k in dst if k not in src]
    unexpected = [k for k in src if k not in dst]
    src_blocks, dst_blocks = _block_count(src), _block_count(dst)
    if src_blocks is not None and dst_blocks is not None and src_blocks != dst_blocks:
        low, high = min(src_blocks, dst_blocks), max(src_blocks, dst_blocks) - 1
        blocks = f"block {low}" if low == high else f"blocks {low}-{high}"
        if src_blocks < dst_blocks:
            effect = f"{blocks} of the fine-tuning encoder would stay random"
        else:
            effect = f"{blocks} of the checkpoint would not be loaded"
        problems.append(
            f"the checkpoint has {src_blocks} encoder blocks, the fine-tuning encoder {dst_blocks} "
            f"(encoder_conf.num_blocks): {effect}"
        )
        in_extra_block = re.compile(rf"(?:.*\.)?encoders\.({'|'.join(map(str, range(low, high + 1)))})\.")
        missing = [k for k in missing if not in_extra_block.match(k)]
        unexpected = [k for k in unexpected if not in_extra_block.match(k)]
    if missing:
        problems.append(f"{len(missing)} tensors not in the checkpoint, would stay random: "
                        + _listed([prefix + k for k in missing]))
    if unexpected:
        problems.append(f"{len(unexpected)} tensors in the checkpoint but not in the fine-tuning model: "
                        + _listed([prefix + k for k in unexpected]))
    shapes = [
        f"{prefix}{k} {tuple(src[k].shape)} in the checkpoint, {tuple(dst[k].shape)} in the fine-tuning model"
        for k in dst
        if k in src and src[k].shape != dst[k].shape
    ]
    if shapes:
        problems.append(f"{len(shapes)} tensors of other shapes: " + _listed(shapes))
    return problems


def _settings(config: dict, choices, prefix: str, ignore=frozenset()) -> Dict[str, object]:
    """{'encoder': 'conformer', 'encoder_conf.num_blocks': 12, ...} with the class defaults filled in."""
    name = config.get(prefix)
    settings = {prefix: name}
    if name is None:
        return settings
    try:
        cls = choices.get_class(name)
    except ValueError:
        cls = None  # a class the ASR task does not know: compare the conf as written
    for key, value in resolved_conf(cls, config.get(f"{prefix}_conf")).items():
        if key not in ignore and key != "input_size":
            settings[f"{prefix}_conf.{key}"] = value
    return settings


def meaning_settings(config: dict) -> Dict[str, object]:
    """The settings that decide what a pretrained encoder's weights mean."""
    from espnet2.tasks.asr import encoder_choices, frontend_choices, preencoder_choices

    settings = {"input_size": config.get("input_size")}
    settings.update(_settings(config, frontend_choices, "frontend"))
    # The type only: pretraining and fine-tuning statistics come from different sets by design.
    settings["normalize"] = config.get("normalize")
    settings.update(_settings(config, preencoder_choices, "preencoder"))
    settings.update(_settings(config, encoder_choices, "encoder", ignore=TRAINING_ONLY))
    return settings


def compare_configs(pretrained: dict, finetune: dict) -> List[Dict[str, object]]:
    """[{setting, pretrained, finetune}] for every meaning setting the two configs disagree on."""
    old, new = meaning_settings(pretrained), meaning_settings(finetune)
    # Another part altogether (a preencoder added, another encoder type) is one difference, not one per setting.
    other_part = {key for key in set(old) | set(new) if "." not in key and old.get(key) != new.get(key)}
    return [
        dict(setting=key, pretrained=old.get(key), finetune=new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key) and key.split("_conf.")[0] not in other_part - {key}
    ]


def check_init_param(spec: str, model: torch.nn.Module, finetune_config: dict, finetune_name: str) -> List[str]:
    """Every reason why ``--init_param spec`` would not initialise ``model`` as pretrained.

    Args:
        spec: ``<path>:<src_key>:<dst_key>[:<excludes>]``.
        model: the fine-tuning model, built from ``finetune_config``.
        finetune_config: the fine-tuning settings (``vars(args)`` of asr_train).
        finetune_name: how to call them in messages (the config file).
    Returns:
        One line per problem (empty: it fits).
    """
    init = InitParam.parse(spec)
    target = model
    for attr in (init.dst_key or "").split("."):
        if attr:
            target = getattr(target, attr)
    prefix = f"{init.dst_key}." if init.dst_key else ""
    problems = compare_state(source_state(init), target.state_dict(), prefix)
    pretrained_config = init.path.parent / "config.yaml"
    if init.loads_encoder and pretrained_config.is_file():
        pretrained = yaml.safe_load(pretrained_config.read_text(encoding="utf-8"))
        for diff in compare_configs(pretrained, finetune_config):
            problems.append(
                f"{diff['setting']}: {diff['pretrained']!r} in {pretrained_config}, "
                f"{diff['finetune']!r} in {finetune_name}"
            )
    elif init.loads_encoder:
        logging.warning(f"no {pretrained_config}: frontend and encoder settings of {init.path} not compared")
    return problems
