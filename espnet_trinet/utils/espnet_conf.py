"""The settings an ESPnet part really runs with: its ``*_conf`` over its class defaults.

Two configs can spell the same part differently (one omits ``n_fft: 512``, the other
writes it; ``fs: 16k`` or ``fs: 16000``), so configs are compared after resolution.
"""

import inspect
from typing import Any, Dict, Optional

import humanfriendly


def class_defaults(cls: type) -> Dict[str, Any]:
    """Keyword defaults of ``cls.__init__`` (parameters without a default are left out)."""
    params = inspect.signature(cls.__init__).parameters
    return {
        name: p.default
        for name, p in params.items()
        if name != "self" and p.default is not inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    }


def resolved_conf(cls: Optional[type], conf: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """``conf`` completed with ``cls``'s defaults; ``fs`` strings such as "16k" become ints."""
    resolved = dict(class_defaults(cls)) if cls is not None else {}
    resolved.update(conf or {})
    if isinstance(resolved.get("fs"), str):
        resolved["fs"] = int(humanfriendly.parse_size(resolved["fs"]))
    return resolved
