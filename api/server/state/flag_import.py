"""Import a scan's ``flags.jsonl`` into the state DB, by flag id; decisions follow the data.

Flag ids are stable across re-runs (``engine.flags.flag_id``: detector + subject), so importing
a newer scan of the same data updates the flags in place while their review state
(``flag_states``), decisions and case links stay attached. What a decision was made on is the
flag's material evidence, which its fingerprint (``engine.flags.evidence_fingerprint``) sums
up. On import:

* a flag whose fingerprint changed gets a ``flag_changes`` row with the differences
  (:func:`evidence_differences`: figures before and after, records added and removed); if it
  had been decided (confirmed, dismissed, needs_field_check) it is **reopened**: status
  ``open``, the decision kept as ``prior_status`` until the next one;
* a flag of a detector the scan ran that the scan no longer raises becomes ``unsupported`` (数据
  已不再支持, "no longer supported by the data"): out of the active queue, its decision kept as
  ``prior_status``, its history and evidence kept. Detectors the scan did not run (``--only``,
  skipped for a missing table) leave their flags alone; so does an import that does not say
  which detectors ran (a scan directory without ``summary.json``);
* an unsupported flag raised again comes back with its old status when its evidence is the same,
  reopened when it is not.

Examples
--------
>>> evidence_differences({"figures": {"amount": 600}, "payments": [{"id": "P1"}]},
...                      {"figures": {"amount": 1300}, "payments": [{"id": "P1"}, {"id": "P2"}]})
{'changed': [{'path': 'figures.amount', 'before': 600, 'after': 1300}], 'added': {'payments': [{'id': 'P2'}]}, 'removed': {}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.server.state.models import (
    DECISIONS,
    UNSUPPORTED,
    FlagChange,
    FlagRecord,
    FlagState,
    Scan,
    utcnow,
)
from engine.flags import NOISE_KEYS, Flag
from engine.outputs import read_flags
from graph_models.errors import DataError

__all__ = ["ImportResult", "evidence_differences", "import_flags", "import_scan_dir"]

_BATCH = 1000
#: Differences listed per flag change at most (per kind); the counts are always whole.
DIFFERENCES_LIMIT = 20


@dataclass
class ImportResult:
    scan_id: int
    created: int
    updated: int
    #: decided flags whose evidence changed (reopened), and undecided ones that changed
    reopened: int = 0
    changed: int = 0
    #: flags the scan no longer raises (None: the import could not tell which detectors ran)
    unsupported: int | None = 0
    raised_again: int = 0
    detectors_run: list[str] | None = field(default=None)

    @property
    def total(self) -> int:
        return self.created + self.updated


def _row(flag: Flag, scan_id: int | None) -> dict[str, object]:
    d = flag.to_dict()
    return {
        "flag_id": d["flag_id"],
        "detector": d["detector"],
        "family": flag.family,
        "severity": d["severity"],
        "score": d["score"] if d["score"] is not None else 0.0,
        "region_code": d["region_code"],
        "subject_type": d["subject"]["type"],
        "subject_id": str(d["subject"]["id"]),
        "entities": d["entities"],
        "evidence": d["evidence"],
        "explanation": d["explanation"],
        "settings_digest": d["settings_digest"] or "",
        "fingerprint": flag.fingerprint,
        "scan_id": scan_id,
        "imported_at": utcnow(),
    }


def _plain(record: Any) -> str:
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k not in NOISE_KEYS}
    return json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)


def _flatten(value: Any, path: str, out: dict[str, Any], lists: dict[str, list]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in NOISE_KEYS:
                _flatten(v, f"{path}.{k}" if path else str(k), out, lists)
    elif isinstance(value, list):
        lists[path] = value
    else:
        out[path] = value


def evidence_differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two versions of a flag's evidence: ``changed`` values (by dotted
    path), records (list items) ``added`` and ``removed`` per list, source lines left aside;
    at most :data:`DIFFERENCES_LIMIT` of each, with ``counts`` when there were more."""
    old_values: dict[str, Any] = {}
    new_values: dict[str, Any] = {}
    old_lists: dict[str, list] = {}
    new_lists: dict[str, list] = {}
    _flatten(before or {}, "", old_values, old_lists)
    _flatten(after or {}, "", new_values, new_lists)
    changed = [
        {"path": p, "before": old_values.get(p), "after": new_values.get(p)}
        for p in sorted(set(old_values) | set(new_values))
        if old_values.get(p) != new_values.get(p)
    ]
    added: dict[str, list] = {}
    removed: dict[str, list] = {}
    counts: dict[str, int] = {}
    for path in sorted(set(old_lists) | set(new_lists)):
        old = {_plain(r): r for r in old_lists.get(path, [])}
        new = {_plain(r): r for r in new_lists.get(path, [])}
        plus = [r for k, r in new.items() if k not in old]
        minus = [r for k, r in old.items() if k not in new]
        if plus:
            added[path] = plus[:DIFFERENCES_LIMIT]
            if len(plus) > DIFFERENCES_LIMIT:
                counts[f"added.{path}"] = len(plus)
        if minus:
            removed[path] = minus[:DIFFERENCES_LIMIT]
            if len(minus) > DIFFERENCES_LIMIT:
                counts[f"removed.{path}"] = len(minus)
    out: dict[str, Any] = {
        "changed": changed[:DIFFERENCES_LIMIT],
        "added": added,
        "removed": removed,
    }
    if len(changed) > DIFFERENCES_LIMIT:
        counts["changed"] = len(changed)
    if counts:
        out["counts"] = counts
    return out


def import_flags(
    session: Session,
    flags: Iterable[Flag],
    scan_id: int,
    detectors_run: Iterable[str] | None = None,
) -> ImportResult:
    """Upsert flags by id inside the caller's write transaction, reopening decided flags whose
    evidence changed; with ``detectors_run``, the flags of those detectors this scan no longer
    raises become unsupported (see the module docstring)."""
    rows: dict[str, dict[str, Any]] = {}
    for f in flags:
        rows[f.flag_id] = _row(f, scan_id)  # a later duplicate id wins, as in the file
    result = ImportResult(scan_id, 0, 0)
    now = utcnow()
    ids = list(rows)
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        existing = {
            rec.flag_id: (rec, state)
            for rec, state in session.execute(
                select(FlagRecord, FlagState)
                .join(FlagState, FlagState.flag_id == FlagRecord.flag_id)
                .where(FlagRecord.flag_id.in_(chunk))
            )
        }
        fresh = [rows[i] for i in chunk if i not in existing]
        if fresh:
            session.execute(FlagRecord.__table__.insert(), fresh)
            session.execute(
                FlagState.__table__.insert(),
                [{"flag_id": r["flag_id"], "status": "open", "review_count": 0} for r in fresh],
            )
        for flag_id, (rec, state) in existing.items():
            _follow(session, rec, state, rows[flag_id], scan_id, now, result)
        if existing:
            session.execute(update(FlagRecord), [rows[i] for i in chunk if i in existing])
        result.created += len(fresh)
        result.updated += len(existing)
    if detectors_run is None:
        result.unsupported = None
    else:
        result.detectors_run = sorted(set(detectors_run))
        _no_longer_raised(session, result.detectors_run, set(rows), scan_id, now, result)
    session.flush()
    return result


def _change(
    session: Session,
    state: FlagState,
    kind: str,
    status: str,
    scan_id: int,
    now: Any,
    before: str | None,
    after: str | None,
    differences: dict[str, Any],
) -> None:
    session.add(
        FlagChange(
            flag_id=state.flag_id, scan_id=scan_id, at=now, kind=kind,
            status_before=state.status, status_after=status, fingerprint_before=before,
            fingerprint_after=after, differences=differences,
        )
    )  # fmt: skip
    state.status, state.changed_at = status, now


def _follow(
    session: Session,
    rec: FlagRecord,
    state: FlagState,
    new: dict[str, Any],
    scan_id: int,
    now: Any,
    result: ImportResult,
) -> None:
    """One flag the scan raises again: compare its evidence with what was imported before."""
    before, after = rec.fingerprint, new["fingerprint"]
    same = before is None or before == after  # no fingerprint yet: nothing to compare with
    if state.status == UNSUPPORTED:
        result.raised_again += 1
        differences = {} if same else evidence_differences(rec.evidence, new["evidence"])
        prior = state.prior_status
        if same:
            status, state.prior_status = prior or "open", None
        else:
            status = "open"  # the decision stays in prior_status: reopened
        _change(session, state, "raised_again", status, scan_id, now, before, after, differences)
        return
    if same:
        return
    differences = evidence_differences(rec.evidence, new["evidence"])
    if state.status in DECISIONS:
        result.reopened += 1
        state.prior_status = state.status
        status = "open"
    else:
        result.changed += 1
        status = state.status
    _change(session, state, "evidence_changed", status, scan_id, now, before, after, differences)


def _no_longer_raised(
    session: Session,
    detectors: list[str],
    raised: set[str],
    scan_id: int,
    now: Any,
    result: ImportResult,
) -> None:
    if not detectors:
        return
    query = (
        select(FlagState, FlagRecord.fingerprint)
        .join(FlagRecord, FlagRecord.flag_id == FlagState.flag_id)
        .where(FlagRecord.detector.in_(detectors), FlagState.status != UNSUPPORTED)
    )
    for state, fingerprint in session.execute(query).all():
        if state.flag_id in raised:
            continue
        result.unsupported = (result.unsupported or 0) + 1
        state.prior_status = state.status if state.status != "open" else state.prior_status
        _change(session, state, "no_longer_supported", UNSUPPORTED, scan_id, now, fingerprint,
                None, {})  # fmt: skip


def detectors_run_by(summary: dict[str, Any] | None) -> list[str] | None:
    """The detectors a scan ran, from its ``summary.json``: those with settings recorded
    (``digests``: the ones asked for) that were not skipped; None when it does not say."""
    if not summary or not isinstance(summary.get("digests"), dict):
        return None
    skipped = summary.get("skipped") or {}
    return sorted(d for d in summary["digests"] if d not in skipped)


def read_scan_dir(scan_dir: Path) -> tuple[list[Flag], dict[str, Any] | None]:
    """A scan directory's flags (``flags.jsonl``) and its ``summary.json`` (None when absent,
    so which detectors ran is unknown); DataError naming the file when one is unreadable."""
    path = scan_dir / "flags.jsonl"
    if not path.is_file():
        raise DataError("missing_flags", f"{scan_dir}: no flags.jsonl (run 'riskgraph scan' first)")
    try:
        flags = read_flags(path)
    except (ValueError, KeyError, TypeError) as e:
        raise DataError("bad_flags", f"{path}: not a flags.jsonl written by riskgraph ({e})") from e
    summary = None
    if (scan_dir / "summary.json").is_file():
        try:
            summary = json.loads((scan_dir / "summary.json").read_text("utf-8"))
        except ValueError as e:
            raise DataError("bad_summary", f"{scan_dir / 'summary.json'}: not JSON ({e})") from e
    return flags, summary


def import_scan_dir(session: Session, scan_dir: str | Path, requested_by: str) -> ImportResult:
    """Record an ``import`` scan for ``scan_dir`` and import its ``flags.jsonl`` (with its
    ``summary.json``, which says which detectors ran)."""
    scan_dir = Path(scan_dir)
    flags, summary = read_scan_dir(scan_dir)
    now = utcnow()
    scan = Scan(
        source="import", status="succeeded", dataset_dir=None, out_dir=str(scan_dir.resolve()),
        options={}, requested_by=requested_by, created_at=now, started_at=now, finished_at=now,
    )  # fmt: skip
    session.add(scan)
    session.flush()
    result = import_flags(session, flags, scan.id, detectors_run_by(summary))
    scan.flags_imported = result.total
    return result
