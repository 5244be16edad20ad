"""Declare, then register: every detector declares its id, family, inputs and settings.

The registry, the CLI (``riskgraph detectors``), the API and the docs are all built from these
declarations. Built-in detectors live in ``engine/detectors/`` and register themselves through the
same decorator a third-party plugin would use.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class NoSettings:
...     pass
>>> @detector("demo.example", title_zh="示例", title_en="Example", requires=(), settings=NoSettings,
...           register=False)
... def run(ctx, settings):
...     return []
>>> run.spec.id
'demo.example'
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.flags import Flag

__all__ = ["REGISTRY", "DetectorSpec", "all_detectors", "detector", "get_detector", "load_builtin"]


@dataclass(frozen=True)
class DetectorSpec:
    """A detector's declaration.

    ``requires`` names node labels / relationship types that must be non-empty for the detector to
    run (otherwise it is reported as skipped, with what is missing). ``subject`` is the subject
    type its flags carry. ``doc`` is the function docstring (logic and the rule it comes from).
    """

    id: str
    family: str
    title_zh: str
    title_en: str
    subject: str
    requires: tuple[str, ...]
    settings: type
    run: Callable[[Any, Any], Iterable[Flag]]
    doc: str
    order: int = 100

    def default_settings(self) -> Any:
        return self.settings()


REGISTRY: dict[str, DetectorSpec] = {}


def detector(
    id: str,
    *,
    title_zh: str,
    title_en: str,
    requires: Iterable[str],
    settings: type,
    subject: str = "",
    order: int = 100,
    register: bool = True,
) -> Callable[[Callable[..., Iterable[Flag]]], Callable[..., Iterable[Flag]]]:
    """Register ``fn(ctx, settings) -> Iterable[Flag]`` under ``id``.

    ``order`` lets a detector whose results others reuse (``ownership.control``) run first.
    """

    def wrap(fn: Callable[..., Iterable[Flag]]) -> Callable[..., Iterable[Flag]]:
        spec = DetectorSpec(
            id=id,
            family=id.split(".", 1)[0],
            title_zh=title_zh,
            title_en=title_en,
            subject=subject,
            requires=tuple(requires),
            settings=settings,
            run=fn,
            doc=(fn.__doc__ or "").strip(),
            order=order,
        )
        if register:
            if id in REGISTRY and REGISTRY[id].run is not fn:
                raise ValueError(f"detector id {id!r} registered twice")
            REGISTRY[id] = spec
        fn.spec = spec  # type: ignore[attr-defined]
        return fn

    return wrap


_loaded = False


def load_builtin() -> None:
    """Import every module of ``engine.detectors`` (each registers its detectors)."""
    global _loaded
    if _loaded:
        return
    import engine.detectors as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"engine.detectors.{mod.name}")
    _loaded = True


def all_detectors() -> list[DetectorSpec]:
    """Every registered detector, in run order."""
    load_builtin()
    return sorted(REGISTRY.values(), key=lambda s: (s.order, s.id))


def get_detector(detector_id: str) -> DetectorSpec:
    load_builtin()
    try:
        return REGISTRY[detector_id]
    except KeyError:
        raise KeyError(f"unknown detector {detector_id!r}; known: {sorted(REGISTRY)}") from None
