"""The ``targets`` and ``objectives`` lists of a method's config: validation and command-line overrides.

Kept free of torch and ESPnet imports, so that the recipe can read a method's config in a
fraction of a second (``bin/ssl_method_info``) with the same rules as the task.
"""

import argparse
import copy
from typing import List

import yaml


def yaml_list(text: str) -> list:
    """``--targets``/``--objectives`` on the command line: a YAML list."""
    value = yaml.safe_load(text)
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"expected a YAML list of {{name, type, conf}}, got {text!r}")
    return value


def resolved_specs(specs: list, overrides: dict, what: str) -> List[dict]:
    """Validated copies of the config's entries with ``--<what>_conf <name>.<key>=<value>`` merged in.

    Args:
        specs: the config's list of ``{name, type, conf}``.
        overrides: {name: {key: value}}.
        what: "target" or "objective", for the messages.
    """
    resolved, names = [], []
    for spec in specs or []:
        if not isinstance(spec, dict) or set(spec) - {"name", "type", "conf"} or not {"name", "type"} <= set(spec):
            raise ValueError(f"each {what} must be {{name: ..., type: ..., conf: {{...}}}}, got {spec}")
        name = str(spec["name"])
        if not name.isidentifier():
            raise ValueError(f"{what} name '{name}' must be a word (letters, digits, _): it names logs and options")
        if name in names:
            raise ValueError(f"two {what}s are named '{name}'")
        names.append(name)
        conf = copy.deepcopy(spec.get("conf") or {})
        conf.update(copy.deepcopy((overrides or {}).get(name, {})))
        resolved.append(dict(name=name, type=spec["type"], conf=conf))
    unknown = set(overrides or {}) - set(names)
    if unknown:
        raise ValueError(f"--{what}_conf names {sorted(unknown)}, but the config's {what}s are {names}")
    return resolved
