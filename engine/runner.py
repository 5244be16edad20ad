"""Run the registered detectors over a store and collect their flags.

Examples
--------
>>> from graph_models.memory_store import MemoryStore
>>> result = run_detectors(MemoryStore(), only=["aid.deceased_recipient"])
>>> result.flags
[]
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.context import DetectorContext
from engine.flags import Flag
from engine.registry import DetectorSpec, all_detectors
from engine.settings import settings_digest, settings_from_dict, settings_to_dict
from graph_models.store import GraphStore

__all__ = ["ScanResult", "parse_settings", "run_detectors"]

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    flags: list[Flag] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)


def parse_settings(doc: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """Settings document ``{detector_id: {name: value}}`` -> ``{detector_id: dataclass}``."""
    specs = {s.id: s for s in all_detectors()}
    out = {}
    for det_id, values in (doc or {}).items():
        if det_id not in specs:
            raise ValueError(f"settings for unknown detector {det_id!r}")
        out[det_id] = settings_from_dict(specs[det_id].settings, values)
    return out


def _missing_inputs(store_counts: dict[str, dict[str, int]], spec: DetectorSpec) -> list[str]:
    present = set(store_counts["nodes"]) | set(store_counts["relationships"])
    return [r for r in spec.requires if r not in present]


def run_detectors(
    store: GraphStore,
    settings: dict[str, Any] | None = None,
    only: Iterable[str] | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Run every registered detector (or ``only`` these ids) and return flags, timings, skips.

    A detector whose required inputs are absent is skipped with the reason. Flags are sorted by
    detector, then score (descending), then flag id, so output files are reproducible.
    """
    ctx = DetectorContext(store, as_of=as_of, settings=settings)
    wanted = set(only) if only else None
    counts = store.counts()
    result = ScanResult()
    for spec in all_detectors():
        if wanted is not None and spec.id not in wanted:
            continue
        s = ctx.settings_for(spec)
        digest = settings_digest(s)
        result.settings[spec.id] = settings_to_dict(s)
        result.digests[spec.id] = digest
        missing = _missing_inputs(counts, spec)
        if missing:
            result.skipped[spec.id] = "missing input: " + ", ".join(missing)
            continue
        if progress:
            progress(spec.id)
        t0 = time.perf_counter()
        flags = list(spec.run(ctx, s) or [])
        for f in flags:
            f.settings_digest = digest
        result.timings[spec.id] = round(time.perf_counter() - t0, 4)
        result.flags.extend(flags)
        log.info("%s: %d flags in %.2fs", spec.id, len(flags), result.timings[spec.id])
    result.flags.sort(key=lambda f: (f.detector, -f.score, f.flag_id))
    return result
