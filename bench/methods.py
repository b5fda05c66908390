"""The models the benchmarks compare: ONE table, and what the method configs say about them.

Each entry is a model of the quality benchmark's report: a recipe method, i.e. a pretraining
config of egs2/mini_synth/trinet1 (``conf/pretrain_<method>_tiny.yaml``, as the recipe's
``--ssl_methods <method> --ssl_config_suffix _tiny`` reads it; None = no pretraining, the
recipe's scratch baseline), the recipe options that make this variant of it, and the name the
reports give it. Everything else (which models pretrain after a fine-tuned frozen teacher,
the names of their frozen-teacher targets, the throughput benchmark's variants) is read from
the method configs with the recipe's own rules (``espnet_trinet.bin.ssl_method_info``), so no
driver names a method.

Adding a model is one line here, e.g. a TriNet whose frozen teacher runs online:
``BenchModel("trinet_ctc_online", "TriNet (ctc, online)", "trinet", ("--frozen_projector", "ctc",
"--frozen_targets", "online"))``.
"""

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs2" / "mini_synth" / "trinet1"
CONFIG_SUFFIX = "_tiny"  # mini_synth's run.sh: --ssl_config_suffix _tiny
SCRATCH = "scratch"  # the recipe's name of the no-pretraining model (exp/asr_scratch)


@dataclass(frozen=True)
class BenchModel:
    """One model of the benchmarks.

    Attributes:
        key: its name in cells, work dirs and result files (``exp/fsdd/asr_<key>``, ...).
        display: its name in the report tables.
        method: the recipe method (pretraining config), or None for no pretraining.
        recipe_opts: trinet.sh options of this variant (e.g. ``--frozen_projector random``);
            only the options that act on the method's own pretraining belong here, as its cell
            is the only one that gets them.
        pretrain_args: trinet_train options of this variant, appended to every model's
            (e.g. ``--model_conf loss_normalization=reference``).
    """

    key: str
    display: str
    method: Optional[str]
    recipe_opts: Tuple[str, ...] = ()
    pretrain_args: str = ""

    def recipe_option(self, name: str) -> str:
        """The value of ``--<name>`` in ``recipe_opts`` ("" if absent)."""
        opts = list(self.recipe_opts)
        flag = f"--{name}"
        return opts[opts.index(flag) + 1] if flag in opts else ""


# Every model the benchmarks know: no pretraining, each method of the framework, and TriNet with
# its projectors and with the reference code's loss weighting (its preset's
# ``loss_normalization: reference``, with the preset's random projector).
MODEL_TABLE: Tuple[BenchModel, ...] = (
    BenchModel(SCRATCH, "no pretraining", None),
    BenchModel("data2vec", "data2vec", "data2vec"),
    BenchModel("mt4ssl", "MT4SSL", "mt4ssl"),
    BenchModel("dinosr", "DinoSR", "dinosr"),
    BenchModel("data2vec2", "data2vec 2.0", "data2vec2"),
    BenchModel("d2v_aqc", "data2vec-aqc", "d2v_aqc"),
    BenchModel("trinet_ctc", "TriNet (ctc)", "trinet", ("--frozen_projector", "ctc")),
    BenchModel("trinet_random", "TriNet (random)", "trinet", ("--frozen_projector", "random")),
    BenchModel("trinet_reference", "TriNet (random, reference loss weighting)", "trinet",
               ("--frozen_projector", "random"), "--model_conf loss_normalization=reference"),
    BenchModel("trinet_regression", "TriNet (regression)", "trinet", ("--frozen_projector", "regression")),
    BenchModel("trinet2", "TriNet on data2vec 2.0's student (ctc)", "trinet2", ("--frozen_projector", "ctc")),
)
BY_KEY: Dict[str, BenchModel] = {m.key: m for m in MODEL_TABLE}
MODELS: Tuple[str, ...] = tuple(BY_KEY)
MODEL_NAMES: Dict[str, str] = {m.key: m.display for m in MODEL_TABLE}
SSL_MODELS: Tuple[str, ...] = tuple(m.key for m in MODEL_TABLE if m.method is not None)
# The side-by-side comparison's default selection: every method, both TriNet projectors of the
# paper (ctc, random) and the reference weighting (the regression projector is the table's, not
# the comparison's: --models adds it).
COMPARED: Tuple[str, ...] = tuple(k for k in MODELS if k != "trinet_regression")
# The recipe methods of the table, each once, in table order.
METHODS: Tuple[str, ...] = tuple(dict.fromkeys(m.method for m in MODEL_TABLE if m.method is not None))
# The throughput benchmark times every method of the framework against data2vec, in the order
# its tables have always had (the methods with a frozen teacher after their base method).
TIMED_METHODS: Tuple[str, ...] = ("data2vec", "trinet", "mt4ssl", "dinosr", "data2vec2", "trinet2", "d2v_aqc")
assert sorted(TIMED_METHODS) == sorted(METHODS), "every method of the table is timed"


def model(key: str) -> BenchModel:
    try:
        return BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown model '{key}'; the benchmark's models are {list(BY_KEY)}") from None


def method_config(method: str, conf_dir: Path = RECIPE / "conf") -> Path:
    """The method's pretraining config, as the recipe finds it."""
    path = Path(conf_dir) / f"pretrain_{method}{CONFIG_SUFFIX}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"method '{method}' has no pretraining config {path}")
    return path


@functools.lru_cache(maxsize=None)
def _info(method: str, frozen_mode: str, frozen_projector: str) -> Tuple[Tuple[str, str], ...]:
    import yaml

    from espnet_trinet.bin.ssl_method_info import method_info

    config = yaml.safe_load(method_config(method).read_text(encoding="utf-8")) or {}
    return tuple(method_info(config, "", frozen_mode, frozen_projector).items())


def method_info(method: str, frozen_mode: str = "", frozen_projector: str = "") -> Dict[str, str]:
    """What the recipe reads of a method's config (``ssl_method_info``'s shell variables)."""
    return dict(_info(method, frozen_mode, frozen_projector))


def model_info(key: str) -> Dict[str, str]:
    """``method_info`` of a model's method with the model's own recipe options."""
    m = model(key)
    if m.method is None:
        raise ValueError(f"'{key}' has no pretraining method")
    return method_info(m.method, m.recipe_option("frozen_targets"), m.recipe_option("frozen_projector"))


def needs_teacher(key: str) -> bool:
    """Does the model pretrain after a fine-tuned frozen teacher (recipe stages 9-10)?"""
    return model(key).method is not None and model_info(key)["method_needs_teacher"] == "true"


def frozen_sources(method: str) -> List[str]:
    """The names of the method's frozen-teacher targets (e.g. ["frozen"])."""
    return method_info(method)["method_frozen_sources"].split()


def frozen_label(key: str) -> str:
    """"<projector>, <mode>" of each frozen-teacher target of the model ("" without one)."""
    return model_info(key)["method_label"] if model(key).method is not None else ""


def independent(keys: Sequence[str]) -> List[str]:
    """Of ``keys``, the SSL models that pretrain without a frozen teacher (recipe stages 7-8)."""
    return [k for k in keys if model(k).method is not None and not needs_teacher(k)]


def with_teacher(keys: Sequence[str]) -> List[str]:
    """Of ``keys``, the SSL models with a frozen teacher."""
    return [k for k in keys if needs_teacher(k)]


def teacher_model(keys: Sequence[str]) -> Optional[str]:
    """The model whose fine-tuned version is the frozen teacher: the first one without a frozen
    teacher (the recipe's default ``--teacher_method``), None when no model needs one."""
    if not with_teacher(keys):
        return None
    base = independent(keys)
    if not base:
        raise ValueError(f"{with_teacher(keys)} need a fine-tuned frozen teacher, but none of {list(keys)} "
                         "pretrains without one")
    return base[0]


def monitored_tap(method: str) -> str:
    """The tap whose effective rank (and target/prediction spread) the training log reports."""
    import yaml

    config = yaml.safe_load(method_config(method).read_text(encoding="utf-8")) or {}
    objectives = config.get("objectives") or []
    monitor = (config.get("model_conf") or {}).get("monitor") or (objectives[0]["name"] if objectives else None)
    for objective in objectives:
        if objective["name"] == monitor:
            return str((objective.get("conf") or {}).get("tap", "?"))
    return "?"


# Update counts of a config's schedules (targets' conf keys, scheduler_conf keys), and its
# per-update decay factors (the last of a [start, end, factor] list): what a longer run stretches.
TARGET_UPDATE_KEYS = ("anneal_updates", "freeze_teacher_after")
TARGET_DECAY_KEYS = ("temperature",)
SCHEDULER_UPDATE_KEYS = ("warmup_steps", "first_cycle_steps")


def stretched_schedule_args(method: str, scale: float) -> List[str]:
    """trinet_train options that stretch the method config's update-based schedules by ``scale``.

    A run with ``scale`` times the updates then follows the same schedule shape: the EMA decay's
    anneal, DinoSR's teacher freeze, the learning-rate warm-up and cosine cycle end at the same
    fraction of the run, and a per-update decay factor d (the quantiser's temperature) becomes
    d ** (1 / scale). The collapse guard's grace period is a safety margin, not a schedule, and
    stays.

    Returns:
        e.g. ``["--target_conf ema.anneal_updates=1200", "--scheduler_conf warmup_steps=450"]``
        (no spaces inside an option's value: the recipe passes them word-split); [] at scale 1.
    """
    import yaml

    if scale <= 0:
        raise ValueError(f"schedule scale {scale} must be positive")
    if scale == 1:
        return []
    config = yaml.safe_load(method_config(method).read_text(encoding="utf-8")) or {}
    args = []
    for target in config.get("targets") or []:
        conf = target.get("conf") or {}
        for key in TARGET_UPDATE_KEYS:
            if isinstance(conf.get(key), int):
                args.append(f"--target_conf {target['name']}.{key}={round(conf[key] * scale)}")
        for key in TARGET_DECAY_KEYS:
            value = conf.get(key)
            if isinstance(value, list) and len(value) == 3:
                start, end, factor = value
                args.append(f"--target_conf {target['name']}.{key}=[{start},{end},{factor ** (1.0 / scale):.8g}]")
    scheduler = config.get("scheduler_conf") or {}
    for key in SCHEDULER_UPDATE_KEYS:
        if isinstance(scheduler.get(key), int):
            args.append(f"--scheduler_conf {key}={round(scheduler[key] * scale)}")
    return args
