"""Run the registered detectors over a store and collect their flags.

The runner takes each detector's declaration (:mod:`engine.registry`) at its word: it runs
detectors after those they use, skips one whose required inputs are missing or empty (with the
reason, never running it against nothing), gives each a context that refuses undeclared reads
(:mod:`engine.context`), and turns what it yields into flags -- stamping the detector id, the
subject type and the settings digest from the registration. A detector that yields anything but
:class:`engine.flags.Finding`, a subject type it did not declare, an explanation without both
languages, or two findings about one subject fails the run with a message naming it.

Examples
--------
>>> from graph_models.memory_store import MemoryStore
>>> result = run_detectors(MemoryStore(), only=["aid.deceased_recipient"])
>>> result.flags, result.skipped
([], {'aid.deceased_recipient': 'missing input: Payment, DeathRecord'})
"""

from __future__ import annotations

import datetime as dt
import gc
import inspect
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.context import RunContext
from engine.detector_workers import can_fork, detect_workers, run_units, units_of
from engine.evidence import plain_codes
from engine.flags import SEVERITIES, Finding, Flag, evidence_fingerprint, jsonable
from engine.registry import DetectorSpec, all_detectors, run_order
from engine.reuse import PreviousFlags, detector_key
from engine.settings import settings_digest, settings_from_dict, settings_to_dict
from graph_models.store import GraphStore

__all__ = ["DetectorOutputError", "ScanResult", "parse_settings", "run_detectors", "stamp"]

log = logging.getLogger(__name__)


class DetectorOutputError(TypeError):
    """A detector produced something other than what its registration promises."""


@dataclass
class ScanResult:
    flags: list[Flag] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    #: each detector's key (:func:`engine.reuse.detector_key`), for the next scan to compare
    keys: dict[str, str] = field(default_factory=dict)
    #: detectors whose flags were taken from the previous scan: {id: {"flags": n, "seconds": s}}
    #: (``seconds``: what computing them took last time)
    reused: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_settings(doc: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """Settings document ``{detector_id: {name: value}}`` -> ``{detector_id: dataclass}``.

    Examples
    --------
    >>> parse_settings({"aid.deceased_recipient": {"grace_days": 60}})["aid.deceased_recipient"].grace_days
    60
    """
    specs = {s.id: s for s in all_detectors()}
    out = {}
    for det_id, values in (doc or {}).items():
        if det_id not in specs:
            raise ValueError(f"settings for unknown detector {det_id!r}")
        out[det_id] = settings_from_dict(specs[det_id].settings, values)
    return out


def stamp(spec: DetectorSpec, finding: Any, digest: str = "", as_of: dt.date | None = None) -> Flag:
    """Turn one yielded :class:`Finding` into a :class:`Flag` of detector ``spec``.

    Examples
    --------
    >>> from engine.registry import get_detector
    >>> spec = get_detector("aid.paid_in_prison")
    >>> flag = stamp(spec, Finding(subject_id="X1", severity="high", score=1.0,
    ...                            explanation={"zh": "示例", "en": "example"}))
    >>> flag.detector, flag.subject_type
    ('aid.paid_in_prison', 'person_id')
    >>> stamp(spec, flag)
    Traceback (most recent call last):
    ...
    engine.runner.DetectorOutputError: aid.paid_in_prison yielded a Flag; a detector yields engine.flags.Finding (the runner adds the detector id and subject type)
    """
    if not isinstance(finding, Finding):
        raise DetectorOutputError(
            f"{spec.id} yielded a {type(finding).__name__}; a detector yields "
            "engine.flags.Finding (the runner adds the detector id and subject type)"
        )
    subject_type = finding.subject_type or spec.subject
    if subject_type not in spec.subjects:
        raise DetectorOutputError(
            f"{spec.id} yielded a finding about a {subject_type!r}; its registration declares "
            f"subject={spec.subjects}"
        )
    if not isinstance(finding.subject_id, str) or not finding.subject_id:
        raise DetectorOutputError(f"{spec.id} yielded a finding without a subject id")
    if finding.severity not in SEVERITIES:
        raise DetectorOutputError(
            f"{spec.id}: severity {finding.severity!r} of {finding.subject_id} is not one of "
            f"{SEVERITIES}"
        )
    text = finding.explanation
    if not (isinstance(text, dict) and text.get("zh") and text.get("en")):
        raise DetectorOutputError(
            f"{spec.id}: the finding about {finding.subject_id} needs an explanation in zh and en"
        )
    evidence = jsonable(finding.evidence)  # once: what is written and what is fingerprinted
    return Flag(
        detector=spec.id,
        subject_type=subject_type,
        subject_id=finding.subject_id,
        severity=finding.severity,
        score=finding.score,
        entities=finding.entities,
        region_code=finding.region_code,
        evidence=evidence,
        explanation={
            **text,
            "zh": plain_codes(text["zh"], "zh"),
            "en": plain_codes(text["en"], "en"),
        },
        settings_digest=digest,
        fingerprint=evidence_fingerprint(evidence, finding.entities, as_of, plain=True),
        evidence_plain=True,
    )


def _flags(
    spec: DetectorSpec, output: Any, digest: str, as_of: dt.date | None = None
) -> list[Flag]:
    if output is None:
        return []
    if isinstance(output, (str, bytes, dict)) or not isinstance(output, Iterable):
        raise DetectorOutputError(
            f"{spec.id} returned a {type(output).__name__}; a detector yields Finding objects"
        )
    flags, seen = [], set()
    for item in output:
        flag = stamp(spec, item, digest, as_of)
        if flag.flag_id in seen:
            raise DetectorOutputError(
                f"{spec.id} yielded two findings about {flag.subject_type} {flag.subject_id}: "
                "one flag per subject"
            )
        seen.add(flag.flag_id)
        flags.append(flag)
    return flags


def _closure(wanted: set[str], specs: dict[str, DetectorSpec]) -> set[str]:
    needed, todo = set(), list(wanted)
    while todo:
        i = todo.pop()
        if i not in needed:
            needed.add(i)
            todo.extend(specs[i].uses)
    return needed


def run_detectors(
    store: GraphStore,
    settings: dict[str, Any] | None = None,
    only: Iterable[str] | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    detectors: Iterable[DetectorSpec] | None = None,
    done: Callable[..., None] | None = None,
    engine: Any = None,
    previous: PreviousFlags | None = None,
    workers: int | None = 1,
) -> ScanResult:
    """Run every registered detector (or ``only`` these ids) and return flags, timings, skips.

    A detector used by a wanted one runs too (its flags are not reported unless it is wanted
    as well). A detector whose required inputs are missing or empty is skipped with the reason.
    Flags are sorted by detector, then score as written (descending), then flag id, so output
    files are reproducible. ``detectors`` replaces the registry (e.g. a detector registered with
    ``register=False`` in a test). ``progress(detector)`` is called as each wanted detector
    starts and ``done(detector, seconds, flags)`` as it ends. ``engine`` (a Spark engine) runs
    the detectors that declare a partition there.

    With ``previous`` (the flags and keys of the workspace's previous scan), a wanted detector
    whose key (:mod:`engine.reuse`: its tables, settings, reference date, code and used
    detectors) is unchanged is not run: its previous flags are taken as they are, and
    ``done(detector, 0.0, flags, reused=True)`` is called for each of them before any detector
    runs. A detector used by one that runs
    again runs again too, and one used only by reused detectors is not run at all, so the flags
    are those of a full run. (Not on Spark: there every detector runs.)

    Examples
    --------
    >>> from graph_models.memory_store import MemoryStore
    >>> run_detectors(MemoryStore(), only=["debt.region_risk"]).skipped
    {'debt.region_risk': 'missing input: Region'}
    """
    specs = {s.id: s for s in (all_detectors() if detectors is None else detectors)}
    wanted = set(only) if only else set(specs)
    unknown = sorted(wanted - set(specs))
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {sorted(specs)}")
    spark = engine is not None and getattr(engine, "name", None) == "spark"
    run = RunContext(
        engine.graph if spark else store, as_of=as_of, settings=settings, engine=engine
    )
    result = ScanResult()
    order = run_order(specs[i] for i in _closure(wanted, specs))
    keys = {} if spark else _keys(order, run, store)
    reuse, idle = _reusable(order, keys, wanted, previous) if previous else ({}, set())
    gc.freeze()  # the previous flags live until the end (see the end of the loop below)
    try:
        if done:  # reused ones first: what is left to run (and its time) is then known
            for spec in order:
                if spec.id in wanted and (
                    spec.id in reuse or (spec.id in idle and not spec.missing(run.present))
                ):
                    done(spec.id, 0.0, len(reuse.get(spec.id, ())), reused=True)
        component_done = False
        to_run: list[tuple[DetectorSpec, Any, str]] = []  # what this run computes, in run order
        for spec in order:
            s = run.settings_for(spec)
            digest = settings_digest(s)
            if spec.id in wanted:
                result.settings[spec.id] = settings_to_dict(s)
                result.digests[spec.id] = digest
            if spec.id in reuse:
                flags = reuse[spec.id]
                run.set_result(spec.id, tuple(flags))
                result.reused[spec.id] = _reused(previous, spec.id, len(flags))
                result.keys[spec.id] = keys[spec.id]
                result.flags.extend(flags)
                log.info("%s: %d flags reused from the previous scan", spec.id, len(flags))
                continue
            missing = spec.missing(run.present)
            if spark and not missing and spec.partition is None:
                missing = ["cannot run on Spark yet (its registration declares no partition=)"]
            if spark and not missing and spec.partition == "component":
                if not component_done:
                    _run_components(engine, run, order, wanted, result, done)
                    component_done = True
                continue
            if missing and missing[0].startswith("cannot run on Spark"):
                run.set_result(spec.id, None if spec.computes else ())
                if spec.id in wanted:
                    result.skipped[spec.id] = missing[0]
                continue
            if missing:
                run.set_result(spec.id, None if spec.computes else ())
                if spec.id in wanted:
                    result.skipped[spec.id] = "missing input: " + ", ".join(missing)
                continue
            if spec.id in idle:  # used only by detectors whose flags were reused
                run.set_result(spec.id, None if spec.computes else ())
                if spec.id in wanted:
                    result.reused[spec.id] = _reused(previous, spec.id, 0)
                continue
            to_run.append((spec, s, digest))
        if to_run:
            _run(to_run, run, wanted, keys, result, progress, done,
                 1 if spark else workers, store, previous)  # fmt: skip
    finally:
        gc.unfreeze()
    result.flags.sort(key=_order)
    return result


def _run_one(
    spec: DetectorSpec,
    s: Any,
    digest: str,
    run: RunContext,
    wanted: set[str],
    started: Callable[[str], None] | None,
) -> tuple[list[Flag], float]:
    """Run one detector; its flags (none for one that computes) and seconds."""
    if started and spec.id in wanted:
        started(spec.id)
    t0 = time.perf_counter()
    output = spec.run(run.context_for(spec), s)
    if spec.computes:
        if inspect.isgenerator(output):
            raise DetectorOutputError(
                f"{spec.id} is registered with computes=True but yields: it must return its result"
            )
        run.set_result(spec.id, output)
        flags: list[Flag] = []
    else:
        # kept as their flags.jsonl lines: at a million households the evidence as Python
        # objects takes GBs (and a worker process sends the lines, not the objects)
        flags = [f.pack() for f in _flags(spec, output, digest, run.as_of)]
        run.set_result(spec.id, tuple(flags))
    seconds = round(time.perf_counter() - t0, 4)
    log.info("%s: %d flags in %.2fs", spec.id, len(flags), seconds)
    # the flags so far live until the scan ends: the cyclic garbage collector need not look at
    # them again (at a million households, tens of millions of objects, which every full
    # collection in the later detectors would walk)
    gc.freeze()
    return flags, seconds


def _run(
    to_run: list[tuple[DetectorSpec, Any, str]],
    run: RunContext,
    wanted: set[str],
    keys: dict[str, str | None],
    result: ScanResult,
    progress: Callable[[str], None] | None,
    done: Callable[..., None] | None,
    workers: int | None,
    store: GraphStore,
    previous: PreviousFlags | None,
) -> None:
    """Run the detectors of ``to_run`` (in run order): here, or side by side in forked
    processes (:mod:`engine.detector_workers`) when the store lives in this process and there
    is enough work."""
    by_id = {spec.id: (spec, s, digest) for spec, s, digest in to_run}
    units = units_of(list(by_id), lambda i: by_id[i][0].uses)
    reads = {i: set(by_id[i][0].reads) for i in by_id}
    n = 1
    if store.in_process and len(units) > 1 and workers != 1 and can_fork():
        if workers is None:
            n = detect_workers(sum(run.rows(t) for t in set().union(*reads.values())), len(units))
        else:
            n = min(workers, len(units))

    def finished(det: str, flags: list[Flag], seconds: float, announce: bool = True) -> None:
        result.timings[det] = seconds
        if det in wanted:
            if not by_id[det][0].computes and keys.get(det):
                result.keys[det] = keys[det]  # type: ignore[assignment]
            result.flags.extend(flags)
            if done and announce:
                done(det, seconds, len(flags))

    if n <= 1:
        for spec, s, digest in to_run:
            flags, seconds = _run_one(spec, s, digest, run, wanted, progress)
            finished(spec.id, flags, seconds)
        return

    # longest first: by last scan's times when every detector has one, else by rows read
    last = previous.seconds if previous is not None else {}
    if all(last.get(i) is not None for i in by_id):
        cost = {i: float(last[i]) for i in by_id}
    else:
        cost = {i: float(sum(run.rows(name) for name in reads[i])) for i in by_id}
    units.sort(key=lambda u: -sum(cost[i] for i in u))
    # tables more than one unit reads are read here once, and the workers share them
    shared = [t for t in sorted(set().union(*reads.values()))
              if sum(any(t in reads[i] for i in u) for u in units) > 1]  # fmt: skip
    for name in shared:
        run.preload(name)
    log.info("detectors: %d units in %d worker processes", len(units), n)

    def run_unit(unit: list[str], send: Callable[..., None]) -> list[tuple[str, list[Flag], float]]:
        out = []
        for det in unit:
            spec, s, digest = by_id[det]
            flags, seconds = _run_one(spec, s, digest, run, wanted, lambda d: send("started", d))
            if det in wanted:
                send("done", det, seconds, len(flags))
            out.append((det, flags if det in wanted else [], seconds))
        return out

    def relay(kind: str, det: str, *rest: Any) -> None:
        if kind == "started" and progress:
            progress(det)
        elif kind == "done" and done:
            done(det, *rest)

    got: dict[str, tuple[list[Flag], float]] = {}
    for unit_result in run_units(units, run_unit, n, relay):
        for det, flags, seconds in unit_result:
            got[det] = (flags, seconds)
    for det in by_id:  # in run order, as a run in one process records them (each was
        finished(det, *got[det], announce=False)  # announced by its worker as it ended)


def _keys(order: list[DetectorSpec], run: RunContext, store: GraphStore) -> dict[str, str | None]:
    """Each detector's key in this run (None: an input the store cannot vouch for, or missing
    inputs)."""
    keys: dict[str, str | None] = {}
    tokens: dict[str, str | None] = {}
    as_of = run.as_of.isoformat()
    for spec in order:
        if spec.missing(run.present):
            keys[spec.id] = None
            continue
        for name in spec.reads:
            if name not in tokens:
                tokens[name] = store.table_token(name)
        keys[spec.id] = detector_key(
            spec.id, settings_digest(run.settings_for(spec)), as_of, "embedded",
            {r: tokens[r] for r in spec.reads}, {u: keys.get(u) for u in spec.uses},
        )  # fmt: skip
    return keys


def _reused(previous: PreviousFlags | None, detector: str, flags: int) -> dict[str, Any]:
    """What ``summary.json`` says of a detector whose previous flags were taken."""
    assert previous is not None
    return {
        "flags": flags,
        "seconds": previous.seconds.get(detector),
        "generation": previous.generation,
    }


def _reusable(
    order: list[DetectorSpec],
    keys: dict[str, str | None],
    wanted: set[str],
    previous: PreviousFlags,
) -> tuple[dict[str, list[Flag]], set[str]]:
    """The previous flags of the detectors that need not run, and the detectors that need not
    run because only those use them.

    A wanted detector whose key equals the one the previous scan recorded is reused, unless a
    detector that runs again uses it (then it runs again too, so what the user reads is what a
    full run gives). A detector that is not wanted or yields no flags runs only when a detector
    that runs uses it.
    """
    by_id = {s.id: s for s in order}
    candidates = [
        s.id for s in order
        if s.id in wanted and not s.computes and keys.get(s.id)
        and previous.keys.get(s.id) == keys[s.id]
    ]  # fmt: skip
    if not candidates:
        return {}, set()
    loaded = previous.flags_of(candidates)
    runs = [s.id for s in order if s.id in wanted and not s.computes and s.id not in loaded]
    needed, todo = set(runs), list(runs)
    while todo:
        for used in by_id[todo.pop()].uses:
            if used not in needed:
                needed.add(used)
                todo.append(used)
    reuse = {d: flags for d, flags in loaded.items() if d not in needed}
    idle = {s.id for s in order if s.id not in needed and s.id not in reuse}
    return reuse, idle


def _order(flag: Flag) -> tuple[str, float, str]:
    """Detector, then the score as written (6 decimals, :func:`engine.flags.jsonable`) from
    high to low, then flag id: two engines whose sums differ in the last bits write one order."""
    written = jsonable(flag.score)
    return (flag.detector, -written if written is not None else math.inf, flag.flag_id)


def _run_components(
    engine: Any,
    run: RunContext,
    order: list[DetectorSpec],
    wanted: set[str],
    result: ScanResult,
    done: Callable[[str, float, int], None] | None = None,
) -> None:
    """Run every ``component`` detector of the scan at once, per connected component, on Spark."""
    group = [s for s in order if s.partition == "component" and not s.missing(run.present)]
    for s in group:
        foreign = [u for u in s.uses if u not in {g.id for g in group}]
        if foreign:
            raise ValueError(f"{s.id} runs per component but uses {foreign}, which do not")
    reads = sorted({r for s in group for r in s.reads})
    settings = {s.id: run.settings_for(s) for s in group}
    flags, seconds = engine.run_components([s.id for s in group], reads, settings, run.as_of)
    for s in group:
        if s.computes:
            run.set_result(s.id, None)
            continue
        got = sorted((Flag.from_dict(d) for d in flags.get(s.id, [])), key=lambda f: f.flag_id)
        run.set_result(s.id, tuple(got))
        result.timings[s.id] = round(seconds.get(s.id, 0.0), 4)
        if s.id in wanted:
            result.flags.extend(got)
            if done:
                done(s.id, result.timings[s.id], len(got))
        log.info("%s: %d flags (per component, on Spark)", s.id, len(got))
