"""Scan jobs started by ``POST /scans``: one at a time, in a background thread; and following
the scans other worker processes ran.

A job runs ``api.scan.pipeline.scan_dataset`` (load the dataset into the app's store, on top of
what it holds; run the detectors; write the outputs into ``WORKSPACE/scans/<id>``) holding the
store's write lock, so requests wait rather than read a half-loaded graph; then it imports the
flags into the state DB and rebuilds the cached region and ownership indexes. On a store that
keeps workspace generations (the embedded one) the flush writes a new generation holding the
graph and the scan's flags, made current in one rename; a process that dies before importing
them leaves a generation whose flags :func:`recover_committed_scan` imports when the next server
starts (or the next scan begins).

The graph a process serves has a *generation*: the id of the last API scan that succeeded
(:func:`latest_graph_scan`). With several worker processes (``riskgraph serve --workers N``)
a scan runs in one of them; :class:`ScanFollower` notices within a second that the state DB is
ahead of its own process and reloads the graph (``GraphAccess.refresh``). A scan first brings
its own process up to date, so it never writes its dataset over a stale graph.

A process killed while a scan is queued or running (SIGKILL, out of memory, a power cut) cannot
mark it failed. The scan row names its owner (host, pid and the process's start time, so a
reused pid is not taken for the owner); a process on the same host that finds the owner gone
marks the scan failed at once. The process running a job also writes its heartbeat every
:data:`HEARTBEAT_SECONDS`; a queued or running scan without one for
:data:`STALE_AFTER_SECONDS` is marked failed whatever host it ran on
(:func:`reap_abandoned_scans`, run before a scan starts and when scans are read), so one dead
process does not refuse every later scan with 409.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from api.server.state.audit import append_audit, lock_chain
from api.server.state.db import StateDB
from api.server.state.flag_import import import_flags
from api.server.state.models import Scan, utcnow
from graph_models.errors import DataError

if TYPE_CHECKING:
    from api.server.graph.access import GraphAccess

__all__ = [
    "API_SCAN_KEY",
    "HEARTBEAT_SECONDS",
    "STALE_AFTER_SECONDS",
    "ScanFollower",
    "ScanRunner",
    "latest_graph_scan",
    "owner_alive",
    "process_identity",
    "reap_abandoned_scans",
    "recover_committed_scan",
]

log = logging.getLogger("riskgraph.api.scans")

#: key of a workspace generation's metadata naming the API scan that committed it
API_SCAN_KEY = "api_scan"


def recover_committed_scan(db: StateDB, store: Any) -> int | None:
    """Import the flags of an API scan whose generation became current but whose process died
    before importing them (the graph and its flags are committed together; the state DB is
    brought level with them here). Returns the scan's id, or None when there was nothing to do.

    Run when the server starts and before every scan, so a restarted server never serves a
    new graph beside the old flags.
    """
    from api.server.state.flag_import import detectors_run_by, read_scan_dir
    from graph_models.generations import current

    root = store.generations_root()
    gen = current(root) if root is not None else None
    if gen is None:
        return None
    scan_id = gen.meta.get(API_SCAN_KEY)
    if not isinstance(scan_id, int) or not (gen.path / "scan" / "flags.jsonl").is_file():
        return None
    with db.write() as session:
        scan = session.get(Scan, scan_id)
        if scan is None or scan.status == "succeeded":
            return None
        flags, summary = read_scan_dir(gen.path / "scan")
        imported = import_flags(session, flags, scan_id, detectors_run_by(summary))
        was = scan.status
        scan.status, scan.finished_at, scan.error = "succeeded", utcnow(), None
        scan.flags_imported = imported.total
        append_audit(
            session, actor=scan.requested_by, role="admin", action="scan_recovered",
            resource=f"scan {scan_id}",
            detail={"generation": gen.id, "status_before": was, "created": imported.created,
                    "updated": imported.updated, "reopened": imported.reopened,
                    "unsupported": imported.unsupported},
        )  # fmt: skip
    log.warning(
        "scan %s committed generation %s but its flags were not imported (its process ended "
        "first): imported them now", scan_id, gen.id,
    )  # fmt: skip
    return scan_id


#: how often the process running a scan job writes its heartbeat
HEARTBEAT_SECONDS = 20.0
#: a queued or running scan without a heartbeat for this long was abandoned
STALE_AFTER_SECONDS = 120.0
ACTIVE = ("queued", "running")


def _abandoned(stale_after: float) -> Any:
    """Active scans with no sign of life (heartbeat, else start, else creation) for that long."""
    last_seen = func.coalesce(Scan.heartbeat_at, Scan.started_at, Scan.created_at)
    return and_(Scan.status.in_(ACTIVE), last_seen < utcnow() - dt.timedelta(seconds=stale_after))


def _start_token(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), which
    tells a process from a later one that reused its pid; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def process_identity() -> tuple[str, int, str | None]:
    """``(host, pid, start token)`` of this process, as a scan's owner records it."""
    pid = os.getpid()
    return socket.gethostname(), pid, _start_token(pid)


def owner_alive(host: str | None, pid: int | None, started: str | None) -> bool | None:
    """Whether a scan's owner process still runs: None when this host cannot tell (another
    host, or no owner recorded), else True or False."""
    if not host or pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    if started:
        now = _start_token(pid)
        return now is None or now == started
    return True


def _interrupt(session: Session, scan: Scan, why: str, detail: dict[str, Any]) -> None:
    scan.status, scan.finished_at = "failed", utcnow()
    scan.error = f"interrupted: {why}"
    append_audit(
        session, actor=scan.requested_by, role="admin", action="scan_interrupted",
        resource=f"scan {scan.id}", detail=detail,
    )  # fmt: skip


def reap_abandoned_scans(session: Session, stale_after: float = STALE_AFTER_SECONDS) -> list[int]:
    """Mark failed the queued or running scans whose owner process is gone (on this host) or
    stopped writing heartbeats (on any host).

    Runs in the caller's write transaction (take :func:`~api.server.state.audit.lock_chain` first when
    the caller then checks for active scans); returns the ids marked, each with an audit row.

    Examples
    --------
    >>> import tempfile
    >>> db = StateDB(f"sqlite:///{tempfile.mkdtemp()}/s.sqlite")
    >>> with db.write() as session:
    ...     reap_abandoned_scans(session)
    []
    """
    reaped = []
    stale = {s.id for s in session.scalars(select(Scan).where(_abandoned(stale_after)))}
    for scan in session.scalars(select(Scan).where(Scan.status.in_(ACTIVE))).all():
        seen = scan.heartbeat_at or scan.started_at or scan.created_at
        if owner_alive(scan.owner_host, scan.owner_pid, scan.owner_started) is False:
            _interrupt(
                session, scan,
                f"its server process (pid {scan.owner_pid} on {scan.owner_host}) is gone",
                {"owner_pid": scan.owner_pid, "owner_host": scan.owner_host,
                 "last_sign_of_life": seen.isoformat()},
            )  # fmt: skip
        elif scan.id in stale:
            _interrupt(
                session, scan,
                f"the server process running this scan stopped (last sign of life "
                f"{seen.isoformat(timespec='seconds')})",
                {"last_sign_of_life": seen.isoformat()},
            )  # fmt: skip
        else:
            continue
        reaped.append(scan.id)
    return reaped


def latest_graph_scan(db: StateDB) -> int:
    """Id of the last scan run through the API that succeeded, 0 when none.

    Only API scans rewrite the served graph (an imported scan directory brings flags only).

    Examples
    --------
    >>> import tempfile
    >>> latest_graph_scan(StateDB(f"sqlite:///{tempfile.mkdtemp()}/s.sqlite"))
    0
    """
    with db.read() as session:
        latest = session.scalar(
            select(func.max(Scan.id)).where(Scan.source == "api", Scan.status == "succeeded")
        )
    return int(latest or 0)


class ScanRunner:
    """Runs scan jobs one after another on a single worker thread.

    Parameters
    ----------
    db, graph
        The state DB and the graph the scans load into.
    heartbeat_seconds, stale_after
        How often a running job's heartbeat is written, and after how long without one a
        queued or running scan counts as abandoned (:func:`reap_abandoned_scans`).
    """

    def __init__(
        self,
        db: StateDB,
        graph: GraphAccess,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.db = db
        self.graph = graph
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_after = stale_after
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskgraph-scan")

    def submit(self, scan_id: int) -> Future[None]:
        return self._pool.submit(self._run, scan_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def reap(self) -> list[int]:
        """:func:`reap_abandoned_scans` in a transaction of its own, when there is any to reap
        (one indexed read otherwise)."""
        with self.db.read() as session:
            active = session.execute(
                select(Scan.id, Scan.owner_host, Scan.owner_pid, Scan.owner_started).where(
                    Scan.status.in_(ACTIVE)
                )
            ).all()
            if not active:
                return []
            any_stale = session.scalar(select(Scan.id).where(_abandoned(self.stale_after)).limit(1))
        gone = any(owner_alive(h, p, st) is False for _id, h, p, st in active)
        if any_stale is None and not gone:
            return []
        with self.db.write() as session:
            lock_chain(session)
            return reap_abandoned_scans(session, self.stale_after)

    def _beat(self, scan_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_seconds):
            try:
                with self.db.write() as session:
                    session.execute(
                        update(Scan)
                        .where(Scan.id == scan_id, Scan.status == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a DB hiccup: the next beat tries again
                log.exception("writing the heartbeat of scan %s failed", scan_id)

    def _run(self, scan_id: int) -> None:
        with self.db.write() as session:
            scan = session.get(Scan, scan_id)
            assert scan is not None
            scan.status, scan.started_at = "running", utcnow()  # counts as the first beat
            scan.owner_host, scan.owner_pid, scan.owner_started = process_identity()
            dataset, out = scan.dataset_dir, Path(scan.out_dir)
            options = dict(scan.options or {})
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(scan_id, stop), name=f"riskgraph-scan-{scan_id}-beat",
            daemon=True,
        )  # fmt: skip
        beat.start()
        try:
            self._run_job(scan_id, dataset, out, options)
        finally:
            stop.set()
            beat.join()

    def _run_job(self, scan_id: int, dataset: str | None, out: Path, options: dict) -> None:
        try:
            as_of = dt.date.fromisoformat(options["as_of"]) if options.get("as_of") else None
            with self.graph.updating:
                # a scan whose process died after committing its generation: its flags first
                recover_committed_scan(self.db, self.graph.store)
                # another worker's scan may not have reached this process yet: load on top of
                # the latest graph, never over a stale one (its flush would undo that scan)
                self.graph.refresh(latest_graph_scan(self.db))
                self._scan(scan_id, dataset, out, options, as_of)
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

    def _scan(
        self, scan_id: int, dataset: str | None, out: Path, options: dict, as_of: dt.date | None
    ) -> None:
        from api.scan.pipeline import scan_dataset

        progress = _ProgressWriter(self.db, scan_id, options.get("only") or None)
        store = self.graph.store
        with self.graph.lock.writing():
            try:
                # the dataset is added to the graph being served (an API scan adds a dataset;
                # it does not replace the workspace's others)
                outcome = scan_dataset(
                    store, out, dataset, only=options.get("only") or None, as_of=as_of,
                    load_progress=progress.load, detector_progress=progress.detector,
                    flush_load=False,
                )  # fmt: skip
                # all or nothing: on a store that keeps generations the new one holds the graph
                # and this scan's flags and becomes current in one rename; a process that dies
                # before importing them leaves them for recover_committed_scan
                attach = {n: out / n for n in ("flags.jsonl", "summary.json") if (out / n).exists()}
                store.flush(meta={API_SCAN_KEY: scan_id}, attach=attach)
            finally:
                self.graph.invalidate()
        progress.stage("import")
        self.graph.warm()  # rebuild the caches now, not in the next request
        # this process holds the new graph: its follower must not reload it
        self.graph.generation = scan_id
        with self.db.write() as session:
            ran = sorted(set(outcome.result.digests) - set(outcome.result.skipped))
            imported = import_flags(session, outcome.result.flags, scan_id, ran)
            created, updated = imported.created, imported.updated
            scan = session.get(Scan, scan_id)
            assert scan is not None
            scan.status, scan.finished_at = "succeeded", utcnow()
            scan.flags_imported = created + updated
            scan.progress = {**progress.state, "stage": "done"}
            scan.summary = {
                "flags": outcome.summary.get("flags"),
                "skipped": outcome.summary.get("skipped"),
                "load": outcome.summary.get("load"),
            }
            append_audit(
                session, actor=scan.requested_by, role="admin", action="scan_finished",
                resource=f"scan {scan_id}",
                detail={"created": created, "updated": updated, "reopened": imported.reopened,
                        "unsupported": imported.unsupported},
            )  # fmt: skip


class _ProgressWriter:
    """Writes a running scan's progress (``scans.progress``) for the web pages: the stage
    (load, detect, import), rows read per table, detectors done of all and the current one; at
    most once a second, so a fast load does not turn into a write per block."""

    def __init__(self, db: StateDB, scan_id: int, only: list[str] | None) -> None:
        from engine.registry import all_detectors

        self.db, self.scan_id = db, scan_id
        total = len(only) if only else len(all_detectors())
        self.state: dict[str, Any] = {
            "stage": "load", "tables": {}, "detectors_done": 0, "detectors_total": total,
            "current": None,
        }  # fmt: skip
        self._last = 0.0

    def _write(self, force: bool = False) -> None:
        import time

        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        try:
            with self.db.write() as session:
                session.execute(
                    update(Scan).where(Scan.id == self.scan_id).values(progress=dict(self.state))
                )
        except Exception:  # progress is a courtesy: never fail a scan over it
            log.exception("writing the progress of scan %s failed", self.scan_id)

    def load(self, table: str, rows: int) -> None:
        tables = self.state["tables"]
        tables[table] = tables.get(table, 0) + rows
        self._write()

    def detector(self, detector_id: str) -> None:
        if self.state["stage"] != "detect":
            self.state["stage"] = "detect"
        elif self.state["current"]:
            self.state["detectors_done"] += 1
        self.state["current"] = detector_id
        self._write(force=True)

    def stage(self, name: str) -> None:
        if self.state["stage"] == "detect":  # skipped detectors report nothing: all are done
            self.state["detectors_done"] = self.state["detectors_total"]
            self.state["current"] = None
        self.state["stage"] = name
        self._write(force=True)


class ScanFollower:
    """Reloads this process's graph when another worker process has finished a scan.

    A daemon thread compares :func:`latest_graph_scan` with the generation of the graph held
    here every ``interval`` seconds (one indexed query) and calls ``GraphAccess.refresh``.
    """

    def __init__(self, db: StateDB, graph: GraphAccess, interval: float = 1.0) -> None:
        self.db = db
        self.graph = graph
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Reload now if the state DB is ahead; True when the graph was replaced."""
        latest = latest_graph_scan(self.db)
        if latest <= self.graph.generation:
            return False
        return self.graph.refresh(latest)

    def _loop(self) -> None:
        # check at once: a worker forked from a parent that loaded the graph before a scan
        # finished must not serve the old graph for longer than it takes to reload
        while True:
            try:
                self.check()
            except Exception:  # a DB hiccup or a failed reload: keep serving, try again
                log.exception("following the latest scan failed; retrying")
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="riskgraph-follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
