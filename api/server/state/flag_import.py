"""Import a scan's ``flags.jsonl`` into the state DB, idempotently by flag id.

Flag ids are stable across re-runs (``engine.flags.flag_id``), so importing a newer scan of the
same data updates the flags in place while their review state (``flag_states``), decisions and
case links stay attached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.server.state.models import FlagRecord, FlagState, Scan, utcnow
from engine.flags import Flag
from engine.outputs import read_flags
from graph_models.errors import DataError

__all__ = ["ImportResult", "import_flags", "import_scan_dir"]

_BATCH = 1000


@dataclass
class ImportResult:
    scan_id: int
    created: int
    updated: int

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
        "scan_id": scan_id,
        "imported_at": utcnow(),
    }


def import_flags(session: Session, flags: Iterable[Flag], scan_id: int) -> tuple[int, int]:
    """Upsert flags by id inside the caller's write transaction; returns (created, updated)."""
    rows = {}
    for f in flags:
        rows[f.flag_id] = _row(f, scan_id)  # a later duplicate id wins, as in the file
    created = updated = 0
    ids = list(rows)
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        existing = set(
            session.scalars(select(FlagRecord.flag_id).where(FlagRecord.flag_id.in_(chunk)))
        )
        fresh = [rows[i] for i in chunk if i not in existing]
        if fresh:
            session.execute(FlagRecord.__table__.insert(), fresh)
            session.execute(
                FlagState.__table__.insert(),
                [{"flag_id": r["flag_id"], "status": "open", "review_count": 0} for r in fresh],
            )
        if existing:
            session.execute(update(FlagRecord), [rows[i] for i in chunk if i in existing])
        created += len(fresh)
        updated += len(existing)
    return created, updated


def import_scan_dir(session: Session, scan_dir: str | Path, requested_by: str) -> ImportResult:
    """Record an ``import`` scan for ``scan_dir`` and import its ``flags.jsonl``."""
    scan_dir = Path(scan_dir)
    path = scan_dir / "flags.jsonl"
    if not path.is_file():
        raise DataError("missing_flags", f"{scan_dir}: no flags.jsonl (run 'riskgraph scan' first)")
    try:
        flags = read_flags(path)
    except (ValueError, KeyError, TypeError) as e:
        raise DataError("bad_flags", f"{path}: not a flags.jsonl written by riskgraph ({e})") from e
    now = utcnow()
    scan = Scan(
        source="import", status="succeeded", dataset_dir=None, out_dir=str(scan_dir.resolve()),
        options={}, requested_by=requested_by, created_at=now, started_at=now, finished_at=now,
    )  # fmt: skip
    session.add(scan)
    session.flush()
    created, updated = import_flags(session, flags, scan.id)
    scan.flags_imported = created + updated
    return ImportResult(scan.id, created, updated)
