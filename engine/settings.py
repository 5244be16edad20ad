"""Detector settings: dataclasses with documented defaults that round-trip to JSON.

Every detector declares a settings dataclass (``@dataclass(frozen=True)``); every field has a
default and a ``metadata={"doc": ...}`` explaining it. The digest of a detector's settings is
recorded on each of its flags, so a result can be reproduced (cf. splink's SettingsCreator).

Examples
--------
>>> from dataclasses import dataclass, field
>>> @dataclass(frozen=True)
... class S:
...     grace_days: int = field(default=31, metadata={"doc": "days after death"})
>>> settings_from_dict(S, settings_to_dict(S())) == S()
True
>>> len(settings_digest(S()))
12
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from typing import Any

__all__ = ["settings_digest", "settings_doc", "settings_from_dict", "settings_to_dict"]


def settings_to_dict(settings: Any) -> dict[str, Any]:
    """Plain-JSON dict of a settings dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(settings), sort_keys=True, default=list))


def settings_from_dict(cls: type, data: dict[str, Any] | None) -> Any:
    """Build ``cls`` from a dict; unknown keys are an error, missing keys take defaults."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(
            f"{cls.__name__}: unknown setting(s) {sorted(unknown)}; known: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        hint = hints.get(name)
        origin = typing.get_origin(hint)
        if origin is tuple and isinstance(value, list):
            value = tuple(value)
        elif hint is float and isinstance(value, int):
            value = float(value)
        kwargs[name] = value
    return cls(**kwargs)


def settings_digest(settings: Any) -> str:
    """12 hex chars of SHA-256 over the canonical JSON of the settings."""
    blob = json.dumps(settings_to_dict(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def settings_doc(cls: type) -> list[dict[str, Any]]:
    """``[{"name", "default", "doc"}]`` for documentation and the CLI."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append({"name": f.name, "default": default, "doc": f.metadata.get("doc", "")})
    return out
