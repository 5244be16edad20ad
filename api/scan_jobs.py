"""Scan jobs started by ``POST /scans``: one at a time, in a background thread.

A job runs ``api.pipeline.scan_dataset`` (load the dataset into the app's store, run the
detectors, write the outputs into ``WORKSPACE/scans/<id>``) holding the store's write lock, so
requests wait rather than read a half-loaded graph; then it imports the flags into the state DB
and drops the cached region and ownership indexes.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from api.state.audit import append_audit
from api.state.db import StateDB
from api.state.flag_import import import_flags
from api.state.models import Scan, utcnow
from graph_models.errors import DataError

if TYPE_CHECKING:
    from api.graph_access import GraphAccess

__all__ = ["ScanRunner"]

log = logging.getLogger("riskgraph.api.scans")


class ScanRunner:
    """Runs scan jobs one after another on a single worker thread."""

    def __init__(self, db: StateDB, graph: GraphAccess) -> None:
        self.db = db
        self.graph = graph
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskgraph-scan")

    def submit(self, scan_id: int) -> Future[None]:
        return self._pool.submit(self._run, scan_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _run(self, scan_id: int) -> None:
        from api.pipeline import scan_dataset

        with self.db.write() as session:
            scan = session.get(Scan, scan_id)
            assert scan is not None
            scan.status, scan.started_at = "running", utcnow()
            dataset, out = scan.dataset_dir, Path(scan.out_dir)
            options = dict(scan.options or {})
        try:
            as_of = dt.date.fromisoformat(options["as_of"]) if options.get("as_of") else None
            with self.graph.lock.writing():
                try:
                    outcome = scan_dataset(
                        self.graph.store, out, dataset, only=options.get("only") or None,
                        as_of=as_of,
                    )  # fmt: skip
                    self.graph.store.flush()
                finally:
                    self.graph.invalidate()
            self.graph.warm()  # rebuild the caches now, not in the next request
            with self.db.write() as session:
                created, updated = import_flags(session, outcome.result.flags, scan_id)
                scan = session.get(Scan, scan_id)
                assert scan is not None
                scan.status, scan.finished_at = "succeeded", utcnow()
                scan.flags_imported = created + updated
                scan.summary = {
                    "flags": outcome.summary.get("flags"),
                    "skipped": outcome.summary.get("skipped"),
                    "load": outcome.summary.get("load"),
                }
                append_audit(
                    session, actor=scan.requested_by, role="admin", action="scan_finished",
                    resource=f"scan {scan_id}", detail={"created": created, "updated": updated},
                )  # fmt: skip
        except Exception as e:
            message = e.message if isinstance(e, DataError) else f"{type(e).__name__}: {e}"
            if not isinstance(e, DataError):
                log.exception("scan %s failed", scan_id)
            with self.db.write() as session:
                scan = session.get(Scan, scan_id)
                assert scan is not None
                scan.status, scan.finished_at, scan.error = "failed", utcnow(), message[:2000]
                append_audit(
                    session, actor=scan.requested_by, role="admin", action="scan_failed",
                    resource=f"scan {scan_id}", detail={"error": message[:500]},
                )  # fmt: skip
