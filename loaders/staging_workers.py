"""Stage a workspace load's tables in worker processes, several tables at once.

Reading, validating and mapping a file is Python and Arrow work on one core; tables do not
depend on each other while they are staged (each table's duplicate check, and the persons'
one-ID-one-person check, stay inside the table). So before the load goes through its files in
order, the tables it must read are handed to ``workers`` processes, largest first. A worker
runs the ordinary load of its table (:func:`loaders.load.load_dataset` with ``tables=[table]``,
``finish=False``; the workspace's ``_stage_table``) into the workspace's parts directory: each
file's part, report, rejects and row hashes are stored as any load stores them. The load then finds those parts stored and
stages them without reading the files again (:meth:`WorkspacePlan.reuse`, which counts them as
read by this load); resolving references and writing the graph follow as before. The result is
the graph, reports and rejects of a load in one process (tests/loaders/test_staging_workers.py
compares them).

A table whose file cannot be read, or a worker that fails, leaves its files unstaged: the load
then reads them itself, in order, and reports what it finds there (a worker's failure is
logged). Workers end with the loading process (Linux: ``PR_SET_PDEATHSIG``): a load that is
killed does not leave them running.

Examples
--------
>>> stage_workers(rows=10_000, tables=3, cpus=2)  # too little to be worth the start-up
1
>>> stage_workers(rows=5_000_000, tables=3, cpus=2)
2
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from loaders.worker_processes import end_with_parent, worker_count

__all__ = ["MIN_ROWS", "report_done", "report_rows", "stage_tables", "stage_workers"]

log = logging.getLogger(__name__)

#: below this many rows to read, one process stages everything (a worker's start-up, about a
#: second of imports, is not worth it)
MIN_ROWS = 500_000

_progress_queue: Any = None  # a worker's end of the progress queue (set by _init)


def stage_workers(rows: int, tables: int, cpus: int | None = None) -> int:
    """How many processes stage ``tables`` tables of ``rows`` rows in all.

    ``RISKGRAPH_LOAD_WORKERS`` sets the number (1: everything in the loading process);
    otherwise one per CPU, at most one per table, and 1 below :data:`MIN_ROWS` rows.
    """
    return worker_count("RISKGRAPH_LOAD_WORKERS", rows, MIN_ROWS, tables, cpus)


def _init(progress_queue: Any, parent: int) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    end_with_parent(parent)


def report_rows(table: str, n: int) -> None:
    """In a worker: ``n`` more rows of ``table`` were read (the loaders' progress callback; the
    loading process shows them)."""
    _progress_queue.put((table, n))


def report_done(table: str) -> None:
    """In a worker: every row of ``table`` was read (sent after its rows, on the same queue, so
    the loading process shows the table done with all its rows)."""
    _progress_queue.put((table, None))


def stage_tables(
    pending: dict[str, int],
    workers: int,
    stage: Callable[..., Any],
    args: tuple[Any, ...],
    progress: Callable[[str, int], None] | None = None,
) -> list[str]:
    """Stage the ``pending`` tables (name -> rows to read) in ``workers`` processes, each by
    ``stage(*args, table)`` (a module-level function: it is called in another process, and
    reports its rows with :func:`report_rows`); returns the tables whose workers finished."""
    ctx = mp.get_context("spawn")  # not fork: the loading process may hold Arrow's threads
    rows: Any = ctx.Queue()
    finished: list[str] = []
    table_done = getattr(progress, "table_done", None)
    concurrent = hasattr(progress, "concurrent")  # the reporter shows tables side by side
    if concurrent:
        progress.concurrent = True  # type: ignore[union-attr]
    order = sorted(pending, key=lambda t: -pending[t])  # largest first: the longest starts first
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                                 initargs=(rows, os.getpid())) as pool:  # fmt: skip
            running = {pool.submit(stage, *args, t): t for t in order}
            while running:
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(rows, progress, table_done)
                for fut in done:
                    table = running.pop(fut)
                    try:
                        fut.result()
                    except Exception as exc:  # the load reads the table itself, says what it finds
                        log.warning("staging %s in a worker process failed (%s): reading it in "
                                    "the loading process", table, exc)  # fmt: skip
                        continue
                    finished.append(table)
        _drain(rows, progress, table_done)  # the workers have ended: every message is in
    finally:
        if concurrent:
            progress.concurrent = False  # type: ignore[union-attr]
    return finished


def _drain(
    rows: Any,
    progress: Callable[[str, int], None] | None,
    table_done: Callable[[str], None] | None,
) -> None:
    while True:
        try:
            table, n = rows.get_nowait()
        except queue.Empty:
            return
        if n is None:
            if table_done is not None:
                table_done(table)
        elif progress is not None:
            progress(table, n)
