"""The scan pipeline shared by the CLI and the API: load -> detect -> write.

Data flows one way: ``loaders`` fill a ``GraphStore``, ``engine`` detectors read it and emit flags,
and this module writes what docs/data-contract.md lists into the output directory.

Two ways in:

- :func:`scan_workspace` (the embedded store, what ``riskgraph scan`` runs): the dataset is
  brought into a workspace (:mod:`loaders.workspace`: only new or changed files are read), the
  detectors run on the new generation's graph, and the generation is made current together with
  its flags (``W/current/scan/``). Each flag says whether it is new since the previous scan of
  the workspace (``new_since_previous_scan``), and ``summary.json`` counts them.
- :func:`scan_dataset`: load into any store (Neo4j, an in-memory store), detect, write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.outputs import flag_counts, write_flags, write_summary
from engine.reuse import PreviousFlags
from engine.runner import ScanResult, parse_settings, run_detectors
from graph_models import generations
from graph_models.store import GraphStore
from loaders.load import LoadReport, load_dataset
from loaders.workspace import link_file

__all__ = [
    "PreviousScan",
    "ScanOutcome",
    "copy_tree",
    "last_scan_dir",
    "previous_flags",
    "previous_scan",
    "scan_dataset",
    "scan_workspace",
]

#: where a generation keeps the flags of the scan that made it, and of the last scan before it
SCAN_DIR = "scan"
LAST_SCAN_DIR = "last-scan"


_FLAG_ID = re.compile(r'\{"flag_id": ?"(F[0-9a-f]{20})", ?')


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
    generation: generations.Generation | None = None  # the workspace generation it made current


@dataclass
class PreviousScan:
    """The flags of a workspace's previous scan (what "new since the previous scan" compares
    against)."""

    generation: int
    at: str | None
    flag_ids: set[str]


def last_scan_dir(workspace: str | os.PathLike[str]) -> tuple[generations.Generation, Path] | None:
    """Where the workspace's previous scan is: the current generation's ``scan/``, or the
    ``last-scan/`` a later load carried over; None when the workspace was never scanned."""
    gen = generations.current(workspace)
    if gen is None:
        return None
    for name in (SCAN_DIR, LAST_SCAN_DIR):
        if (gen.path / name / "flags.jsonl").exists():
            return gen, gen.path / name
    return None


def previous_scan(workspace: str | os.PathLike[str]) -> PreviousScan | None:
    """The flag ids of the workspace's previous scan (:func:`last_scan_dir`); None when the
    workspace was never scanned."""
    found = last_scan_dir(workspace)
    if found is None:
        return None
    gen, scan = found
    meta: dict[str, Any] = {}
    if (scan / "summary.json").exists():
        meta = json.loads((scan / "summary.json").read_text("utf-8"))
    ids = set()
    with open(scan / "flags.jsonl", encoding="utf-8") as f:
        for line in f:
            # flags.jsonl lines start with the flag id (engine.flags.Flag.to_dict); a line
            # written otherwise is parsed whole
            m = _FLAG_ID.match(line)
            if m:
                ids.add(m.group(1))
            elif line.strip():
                ids.add(json.loads(line)["flag_id"])
    scanned = (meta.get("workspace") or {}).get("generation", gen.id)
    return PreviousScan(int(scanned), meta.get("generated_at"), ids)


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
    *,
    load_report: LoadReport | None = None,
    previous: PreviousScan | None = None,
    compare: bool = False,
    detector_done: Callable[..., None] | None = None,
    timings: dict[str, Any] | None = None,
    engine: str = "embedded",
    spark_master: str | None = None,
    spark_graph: str | None = None,
    flush_load: bool = True,
    reuse: PreviousFlags | None = None,
    detect_workers: int | None = 1,
) -> ScanOutcome:
    """Load ``dataset_dir`` (if given) into ``store``, run the detectors, write the outputs.

    ``engine="spark"`` runs the detectors on Apache Spark over the workspace's Parquet tables
    (``spark_graph``, default the store's persisted ``graph`` directory) instead of the store's
    frames; the outputs are the same files (docs/spark.md).

    Returns the outcome; ``summary.json`` has ``load``, ``flags``, ``settings``, ``digests``,
    ``skipped`` and ``timings`` (seconds per stage and per detector). A load with problems
    (unmapped or unreadable files, a missing referenced table) raises ``LoadFailed`` unless
    ``allow_partial``; the clerks' validation report is in ``out_dir/rejects`` either way.

    ``load_report`` is the report of a load done before (a workspace's). With ``compare`` (or
    a ``previous`` scan), every flag carries ``new_since_previous_scan`` (all new when there was
    no previous scan) and ``summary.json`` counts them per detector.
    ``detector_done(detector, seconds, flags)`` is called after each detector.

    ``reuse`` (the previous scan's flags and detector keys) takes the flags of every detector
    whose inputs, settings and code are unchanged from it instead of running the detector
    (:mod:`engine.reuse`); ``summary.json`` lists them under ``reused``.

    ``detect_workers`` is how many processes run the detectors side by side
    (:mod:`engine.detector_workers`; None: one per CPU when there is enough work).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings = dict(timings or {})
    report = load_report
    if dataset_dir is not None:
        t0 = time.perf_counter()
        report = load_dataset(
            dataset_dir, store, rejects_dir=out / "rejects", progress=load_progress,
            allow_partial=allow_partial, flush=flush_load,
        )  # fmt: skip
        timings["load"] = round(time.perf_counter() - t0, 3)
    settings = parse_settings(settings_doc)
    t0 = time.perf_counter()
    if engine == "spark":
        from engine.spark.run import spark_engine

        with spark_engine(store, spark_master, spark_graph) as (distributed, started):
            timings["spark_start"] = started
            t0 = time.perf_counter()
            result = run_detectors(
                store, settings=settings, only=only, as_of=as_of, progress=detector_progress,
                done=detector_done, engine=distributed,
            )  # fmt: skip
            timings["spark"] = distributed.timings
    elif engine == "embedded":
        result = run_detectors(
            store, settings=settings, only=only, as_of=as_of, progress=detector_progress,
            done=detector_done, previous=reuse, workers=detect_workers,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown engine {engine!r}: embedded or spark")
    timings["detect"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    compare = compare or previous is not None
    seen = previous.flag_ids if previous is not None else set()
    new = (lambda f: f.flag_id not in seen) if compare else None
    write_flags(out, result.flags, new=new)
    timings["write"] = round(time.perf_counter() - t0, 3)
    timings["detectors"] = result.timings
    summary: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "as_of": (as_of or dt.date.today()).isoformat(),
        "store": store.name,
        "engine": engine,
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
        "detector_keys": result.keys,
        "reused": result.reused,
        "timings": timings,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    if compare:
        now = {f.flag_id for f in result.flags}
        by_detector: dict[str, int] = {}
        for f in result.flags:
            if f.flag_id not in seen:
                by_detector[f.detector] = by_detector.get(f.detector, 0) + 1
        summary["new_since_previous_scan"] = {
            "previous_scan": None if previous is None
            else {"generation": previous.generation, "at": previous.at,
                  "flags": len(previous.flag_ids)},
            "new": sum(by_detector.values()),
            "by_detector": dict(sorted(by_detector.items())),
            "no_longer_flagged": len(seen - now),
        }  # fmt: skip
    write_summary(out, summary)
    return ScanOutcome(out, report, result, summary)


def previous_flags(workspace: str | os.PathLike[str]) -> PreviousFlags | None:
    """The flags and detector keys of the workspace's previous scan (:func:`last_scan_dir`),
    for reusing what has not changed; None when there is none or it recorded no keys."""
    found = last_scan_dir(workspace)
    return None if found is None else PreviousFlags.from_scan_dir(found[1], found[0].id)


def copy_tree(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of ``src`` (hard links where the file system allows)."""
    if dst.exists():
        shutil.rmtree(dst)
    if not src.is_dir():
        return
    for p in sorted(src.rglob("*")):
        target = dst / p.relative_to(src)
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        link_file(p, target)


def scan_workspace(
    workspace: str | os.PathLike[str],
    dataset_dir: str | Path,
    out_dir: str | Path,
    settings_doc: dict[str, dict[str, Any]] | None = None,
    only: list[str] | None = None,
    as_of: dt.date | None = None,
    allow_partial: bool = False,
    load_progress: Callable[[str, int], None] | None = None,
    detector_progress: Callable[[str], None] | None = None,
    detector_done: Callable[..., None] | None = None,
    report_lang: str = "zh",
    engine: str = "embedded",
    spark_master: str | None = None,
    spark_graph: str | None = None,
    meta: dict[str, Any] | None = None,
    reuse: bool = True,
    detect_workers: int | None = 1,
) -> ScanOutcome:
    """Bring ``workspace`` up to date with ``dataset_dir`` (unchanged files are not read), run
    the detectors on its graph, write the outputs into ``out_dir`` and make the new generation
    current with its flags (see the module docstring).

    A detector whose inputs, settings, reference date and code are unchanged since the previous
    scan is not run again: its flags are taken from that scan (:mod:`engine.reuse`), unless
    ``reuse`` is false. ``detect_workers``: as for :func:`scan_dataset`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d, w, o = (pathlib.Path(tempfile.mkdtemp()) for _ in range(3))
    >>> _ = (d / "deaths.csv").write_text("person_id,death_date\\n11010519491231002X,2021-03-02\\n")
    >>> first = scan_workspace(w, d, o, only=["aid.deceased_recipient"])
    >>> again = scan_workspace(w, d, o, only=["aid.deceased_recipient"])
    >>> again.summary["workspace"]["loaded_files"], again.generation.id
    ([], 2)
    """
    from loaders.workspace import Workspace

    ws = Workspace(workspace)
    out = Path(out_dir)
    t0 = time.perf_counter()
    with ws.load(dataset_dir, always=True, progress=load_progress, allow_partial=allow_partial,
                 report_lang=report_lang, kind="scan") as build:  # fmt: skip
        load_seconds = round(time.perf_counter() - t0, 3)
        assert build.path is not None
        copy_tree(build.path / "rejects", out / "rejects")
        outcome = scan_dataset(
            build.store, out, None, settings_doc=settings_doc, only=only, as_of=as_of,
            detector_progress=detector_progress, detector_done=detector_done,
            engine=engine, spark_master=spark_master, spark_graph=spark_graph,
            load_report=build.report, previous=previous_scan(workspace), compare=True,
            timings={"load": load_seconds, "load_stages": build.timings},
            reuse=previous_flags(workspace) if reuse and engine == "embedded" else None,
            detect_workers=detect_workers,
        )  # fmt: skip
        outcome.summary["dataset"] = str(dataset_dir)
        outcome.summary["workspace"] = {
            "path": str(Path(workspace).resolve()),
            "generation": build.writer.id if build.writer is not None else None,
            "loaded_files": build.loaded_files,
            "reused_files": len(build.reused_files),
            "graph_changed": build.changed,
        }
        write_summary(out, outcome.summary)
        scan = build.path / SCAN_DIR
        scan.mkdir(parents=True, exist_ok=True)
        # the flags (hundreds of MB for a province) are linked, not copied, when the output
        # directory is on the workspace's file system: scans replace flags.jsonl, never
        # rewrite it (engine.outputs.write_flags)
        link_file(out / "flags.jsonl", scan / "flags.jsonl")
        shutil.copyfile(out / "summary.json", scan / "summary.json")
        outcome.generation = build.commit(
            {"flags_total": outcome.summary["flags_total"], **(meta or {})}
        )
    return outcome
