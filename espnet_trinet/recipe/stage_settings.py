"""The settings a recipe stage's output was made with, and whether a re-run may reuse it.

A stage records its settings in ``<stem>.settings.yaml`` next to its done marker ``<stem>.done``
(e.g. ``exp/ssl_data2vec/.settings.yaml`` and ``exp/ssl_data2vec/.done``) when it starts, and
copies the record into the marker when it ends. A setting is one of

- ``option``: a value as given (``--ssl_args``, ``fs``, ...), compared as text;
- ``file``: a file's contents (a config, a token list, a checkpoint), compared by sha256;
- ``keys``: some top-level keys of a YAML file (``frontend``, ``frontend_conf``), compared by value,
  for a stage that depends on a config's frontend but not on its learning rate;
- ``data``: a folder made by an earlier stage (a Kaldi data dir, dumped targets): the record in its
  own done marker, if it has one, and the contents of its top-level files (``wav.scp``, ``text``,
  ``targets.scp``, ...), so that a changed upstream stage, or a hand-edited file, counts.

The fingerprint of a stage is the sha256 of its settings' values, so a record made anywhere else
(another folder, another machine) with the same contents has the same fingerprint.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from espnet_trinet.utils.files import file_sha256

KINDS = ("option", "file", "keys", "data")


@dataclass(frozen=True)
class Setting:
    """One setting of a stage.

    Attributes:
        name: what the stage calls it (``config``, ``ssl_args``, ``train_data``).
        kind: one of KINDS.
        source: the value (option) or the path it was read from (file, keys, data).
        value: what is compared: the option's text, a sha256, or the YAML keys' values.
    """

    name: str
    kind: str
    source: str
    value: object

    def shown(self) -> str:
        """The setting in a message: an option as written, a file as ``path (sha256 1a2b3c4d)``."""
        if self.kind == "option":
            return repr(self.source)
        if self.kind == "keys":
            return f"{self.source} = {json.dumps(self.value, sort_keys=True)}"
        return f"{self.source} (sha256 {str(self.value)[:12]})"


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def data_dir_digest(path: Path) -> str:
    """sha256 over a folder's done-marker record and its top-level files.

    Top-level files only, without dot files and logs: for a Kaldi data dir that is ``wav.scp``,
    ``text``, ``utt2spk`` and friends; for dumped targets ``targets.scp`` and ``targets_info.yaml``
    (the ark files they point to are covered by their offsets in the scp and by the record).
    """
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist (the stage that makes it has not run)")
    digest = hashlib.sha256()
    marker = path / ".done"
    if marker.is_file():
        digest.update(b"marker\0" + marker.read_bytes())
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or child.suffix == ".log" or not child.is_file():
            continue
        digest.update(child.name.encode() + b"\0" + file_sha256(child).encode() + b"\0")
    return digest.hexdigest()


def read_setting(name: str, kind: str, source: str) -> Setting:
    """The current value of one setting (reads the file or folder it names)."""
    if kind == "option":
        return Setting(name, kind, source, source)
    if kind == "file":
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{source} does not exist")
        return Setting(name, kind, source, file_sha256(path))
    if kind == "keys":
        path, _, keys = source.rpartition(":")
        if not path or not keys:
            raise ValueError(f"keys setting {name}: want <yaml file>:<key>[,<key>...], got {source!r}")
        with open(path, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
        return Setting(name, kind, source, {key: conf.get(key) for key in keys.split(",")})
    if kind == "data":
        return Setting(name, kind, source, data_dir_digest(Path(source)))
    raise ValueError(f"unknown setting kind {kind!r} (one of {', '.join(KINDS)})")


def fingerprint(settings: Sequence[Setting]) -> str:
    """sha256 of the settings' names and values (not of the paths they were read from)."""
    return hashlib.sha256(_canonical({s.name: [s.kind, s.value] for s in settings}).encode()).hexdigest()


def record(settings: Sequence[Setting], what: str) -> dict:
    """What goes into ``.settings.yaml``: the fingerprint, then every setting, readable."""
    return {
        "what": what,
        "fingerprint": fingerprint(settings),
        "settings": {s.name: {"kind": s.kind, "source": s.source, "value": s.value} for s in settings},
    }


def settings_of(rec: dict) -> Dict[str, Setting]:
    return {
        name: Setting(name, entry["kind"], entry["source"], entry["value"])
        for name, entry in (rec.get("settings") or {}).items()
    }


def differences(old: dict, new: dict) -> List[str]:
    """What changed between two records, a line per setting (``ssl_args: '' -> '--max_epoch 1'``)."""
    before, after = settings_of(old), settings_of(new)
    lines = []
    for name in list(after) + [n for n in before if n not in after]:
        if name not in before:
            lines.append(f"{name}: not recorded before, now {after[name].shown()}")
        elif name not in after:
            lines.append(f"{name}: {before[name].shown()} before, not a setting now")
        elif before[name].value != after[name].value or before[name].kind != after[name].kind:
            lines.append(f"{name}: {before[name].shown()} -> {after[name].shown()}")
    return lines or ["the fingerprint differs (a record written by another version of the recipe)"]


def settings_path(marker: Path) -> Path:
    """``exp/x/.done`` -> ``exp/x/.settings.yaml``; ``data/.stage1.done`` -> ``data/.stage1.settings.yaml``."""
    name = marker.name[: -len(".done")] if marker.name.endswith(".done") else marker.name
    return marker.with_name(f"{name}.settings.yaml")


def load_record(path: Path) -> Optional[dict]:
    """A record, or None when the file is absent, empty or not one (e.g. a plain ``touch``ed marker)."""
    if not path.is_file():
        return None
    try:
        rec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return rec if isinstance(rec, dict) and "fingerprint" in rec else None


def write_record(path: Path, rec: dict) -> None:
    """Writes atomically (a kill leaves the old record or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        "# The settings this stage's output was made with (espnet_trinet.recipe.stage_settings).\n"
        + yaml.safe_dump(rec, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    os.replace(tmp, path)
