"""The scan pipeline shared by the CLI and the API: load -> detect -> write.

Data flows one way: ``loaders`` fill a ``GraphStore``, ``engine`` detectors read it and emit flags,
and this module writes what docs/data-contract.md lists into the output directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.outputs import flag_counts, write_flags, write_summary
from engine.runner import ScanResult, parse_settings, run_detectors
from graph_models.store import GraphStore
from loaders.load import LoadReport, load_dataset

__all__ = ["ScanOutcome", "scan_dataset"]


def _digest(doc: dict[str, Any]) -> str:
    """Digest of the whole settings document (per-detector digests are on each flag)."""
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass
class ScanOutcome:
    out_dir: Path
    load: LoadReport | None
    result: ScanResult
    summary: dict[str, Any] = field(default_factory=dict)


def scan_dataset(
    store: GraphStore,
    out_dir: str | Path,
    dataset_dir: str | Path | None = None,
    settings_doc: dict[str, dict[str, Any]] | None = None,
    only: list[str] | None = None,
    as_of: dt.date | None = None,
    load_progress: Callable[[str, int], None] | None = None,
    detector_progress: Callable[[str], None] | None = None,
    allow_partial: bool = False,
) -> ScanOutcome:
    """Load ``dataset_dir`` (if given) into ``store``, run the detectors, write the outputs.

    Returns the outcome; ``summary.json`` has ``load``, ``flags``, ``settings``, ``digests``,
    ``skipped`` and ``timings`` (seconds per stage and per detector). A load with problems
    (unmapped or unreadable files, a missing referenced table) raises ``LoadFailed`` unless
    ``allow_partial``; the clerks' validation report is in ``out_dir/rejects`` either way.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, Any] = {}
    report = None
    if dataset_dir is not None:
        t0 = time.perf_counter()
        report = load_dataset(
            dataset_dir, store, rejects_dir=out / "rejects", progress=load_progress,
            allow_partial=allow_partial,
        )  # fmt: skip
        timings["load"] = round(time.perf_counter() - t0, 3)
    settings = parse_settings(settings_doc)
    t0 = time.perf_counter()
    result = run_detectors(
        store, settings=settings, only=only, as_of=as_of, progress=detector_progress
    )
    timings["detect"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    write_flags(out, result.flags)
    timings["write"] = round(time.perf_counter() - t0, 3)
    timings["detectors"] = result.timings
    summary: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "as_of": (as_of or dt.date.today()).isoformat(),
        "store": store.name,
        "dataset": str(dataset_dir) if dataset_dir is not None else None,
        "load": report.counts() if report else None,
        "load_detail": report.as_dict() if report else None,
        "graph": store.counts(),
        "flags": flag_counts(result.flags),
        "flags_total": len(result.flags),
        "skipped": result.skipped,
        "settings": result.settings,
        "settings_digest": _digest(result.settings),
        "digests": result.digests,
        "timings": timings,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    write_summary(out, summary)
    return ScanOutcome(out, report, result, summary)
