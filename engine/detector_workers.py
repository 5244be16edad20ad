"""Run a scan's detectors in forked worker processes, several detectors at once.

Detectors are Python, pandas and DuckDB work that mostly keeps one core busy, and most of them
do not depend on each other. So when the store lives in this process (an embedded store, whose
tables a forked process shares page by page instead of copying them), the detectors that must
run are cut into **units** -- a detector together with the detectors it uses and those that use
it, so a unit never waits on another -- and ``workers`` processes forked from the scanning
process take the units one at a time, longest expected first, each asking for the next when it
is done. Each unit runs exactly as it would in one process; its flags come back to the scanning
process, which sorts every flag as a scan in one process does (the same files, byte for byte:
tests/engine/test_detector_workers.py compares them).

A detector that fails in a worker fails the scan with its own exception (the worker's traceback
is added as a note); a worker that dies (killed, out of memory) fails the scan naming the
detector it was running. Workers end with the scanning process (Linux: ``PR_SET_PDEATHSIG``).
``RISKGRAPH_DETECT_WORKERS`` sets the number of workers (1: every detector in the scanning
process).

Examples
--------
>>> detect_workers(rows=10_000, units=5, cpus=2)  # too little work to be worth a fork
1
>>> detect_workers(rows=25_000_000, units=5, cpus=2)
2
>>> detect_workers(rows=25_000_000, units=1, cpus=2)  # one unit: nothing to run side by side
1
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import traceback
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from loaders.worker_processes import end_with_parent, worker_count

__all__ = ["MIN_ROWS", "can_fork", "detect_workers", "run_units", "units_of"]

#: below this many rows read by the detectors, one process runs them all (detection then takes
#: seconds, and a worker's share of it is less than what forking and gathering flags cost)
MIN_ROWS = 1_000_000


def detect_workers(rows: int, units: int, cpus: int | None = None) -> int:
    """How many processes run ``units`` units of detectors that read ``rows`` rows in all.

    ``RISKGRAPH_DETECT_WORKERS`` sets the number (1: every detector in the scanning process);
    otherwise one per CPU, at most one per unit, and 1 below :data:`MIN_ROWS` rows.
    """
    return worker_count("RISKGRAPH_DETECT_WORKERS", rows, MIN_ROWS, units, cpus)


def can_fork() -> bool:
    """Whether this platform can fork worker processes (not Windows): without it every detector
    runs in the scanning process."""
    return "fork" in mp.get_all_start_methods()


def units_of(ids: Sequence[str], uses: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """``ids`` (in run order) cut into units: the groups linked by ``uses`` (either way), each
    in run order, in the order of their first detector.

    Examples
    --------
    >>> deps = {"b": ["a"], "d": ["b", "c"]}
    >>> units_of(["a", "b", "c", "d", "e"], lambda i: deps.get(i, []))
    [['a', 'b', 'c', 'd'], ['e']]
    """
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in ids:
        for u in uses(i):
            if u in parent:
                parent[root(u)] = root(i)
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def run_units(
    units: Sequence[Any],
    run_unit: Callable[[Any, Callable[..., None]], Any],
    workers: int,
    relay: Callable[..., None],
) -> list[Any]:
    """Run every unit in ``workers`` forked processes; returns each unit's result, in order.

    ``run_unit(unit, send)`` runs in a worker (forked: it sees this process as it is now) and
    returns something picklable; ``send(*message)`` hands a message to ``relay(*message)``,
    which this process calls as the messages come. Units are handed out in the given order
    (put the longest first), one at a time, to whichever worker is free.
    """
    ctx = mp.get_context("fork")
    results: list[Any] = [None] * len(units)
    todo = list(range(len(units)))
    procs: dict[Connection, Any] = {}  # a worker's connection -> its process
    running: dict[Connection, int | None] = {}  # a worker's connection -> the unit it runs
    names: dict[Connection, str] = {}  # what the worker said it is running
    parent = os.getpid()
    finished = False
    try:
        for _ in range(min(workers, len(units))):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(there, units, run_unit, parent), daemon=True)
            proc.start()
            there.close()
            procs[here] = proc
            running[here] = None
            _hand_out(here, todo, running)
        while any(u is not None for u in running.values()):
            for conn in wait([c for c, u in running.items() if u is not None]):
                assert isinstance(conn, Connection)
                try:
                    kind, *body = conn.recv()
                except EOFError:
                    proc = procs[conn]
                    proc.join(5)
                    raise RuntimeError(
                        f"a detector worker process ended (exit code {proc.exitcode}) while "
                        f"running {names.get(conn) or 'its detectors'}; "
                        "RISKGRAPH_DETECT_WORKERS=1 runs every detector in the scanning process"
                    ) from None
                if kind == "message":
                    if body[0] == "started":
                        names[conn] = body[1]
                    relay(*body)
                elif kind == "result":
                    results[body[0]] = body[1]
                    _hand_out(conn, todo, running)
                else:  # "error"
                    raise _error(*body)
        finished = True
    finally:
        for conn in running:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        for proc in procs.values():
            proc.join(5 if finished else 0)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return results


def _hand_out(conn: Connection, todo: list[int], running: dict[Connection, int | None]) -> None:
    running[conn] = todo.pop(0) if todo else None
    if running[conn] is not None:
        conn.send(running[conn])


def _serve(
    conn: Connection, units: Sequence[Any], run_unit: Callable[..., Any], parent: int
) -> None:
    """A worker: run the units the scanning process hands out until it says stop."""
    end_with_parent(parent)

    def send(*message: Any) -> None:
        conn.send(("message", *message))

    while True:
        try:
            index = conn.recv()
        except EOFError:
            break
        if index is None:
            break
        try:
            conn.send(("result", index, run_unit(units[index], send)))
        except BaseException as exc:  # every failure goes back to the scan
            text = traceback.format_exc()
            try:
                payload = pickle.dumps(exc)
            except Exception:  # one that cannot travel goes as text
                payload = None
            conn.send(("error", payload, text))
            break
    conn.close()
    # no interpreter teardown: the objects forked from the scanning process (its DuckDB
    # sessions, Arrow pools) belong to it
    os._exit(0)


def _error(payload: bytes | None, text: str) -> BaseException:
    """The exception a worker sent, with the worker's traceback as a note."""
    exc: BaseException | None = None
    if payload is not None:
        with contextlib.suppress(Exception):
            exc = pickle.loads(payload)
    if exc is None:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        exc = RuntimeError(f"a detector worker process failed: {last}")
    exc.add_note("in a detector worker process:\n" + text.rstrip())
    return exc
