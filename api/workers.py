"""Several API worker processes on one listening socket: ``riskgraph serve --workers N``.

One Python process runs one request at a time (the GIL), so on a machine with several cores a
single process is the API's ceiling. :func:`serve_workers` binds the socket, runs ``preload``
once in the parent (for the memory store: load the graph, build its caches, ``gc.freeze()``),
then forks the workers. Each worker builds its own app (state-DB connections, threads) around
what was preloaded and runs uvicorn on the shared socket; the kernel hands each new connection
to one of them.

Forking after the load shares the graph between the workers: the pages stay shared until a
worker writes to them, and ``gc.freeze()`` keeps the garbage collector from touching (and so
copying) them. A worker that dies is replaced by a fresh fork of the parent; a worker that
keeps dying at start stops the whole server. SIGTERM or SIGINT stops every worker gracefully.

What workers share lives in the state DB (sessions, audit trail, flags, scans); a scan run by
one worker reaches the others through ``api.scan_jobs.ScanFollower``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["bind_socket", "serve_workers"]


#: A worker that exits this soon after its start counts as a failed start ...
FAILED_START_SECONDS = 10.0
#: ... and after this many failed starts in a row the server gives up.
MAX_FAILED_STARTS = 5


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket the workers will share (IPv6 when ``host`` is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _run_worker(
    index: int, sock: socket.socket, make_app: Callable[[Any], Any], shared: Any
) -> None:
    """The child's life: its own app and event loop on the shared socket; never returns."""
    import uvicorn

    code = 0
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own while serving
        os.environ["RISKGRAPH_WORKER"] = str(index)
        app = make_app(shared)
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        uvicorn.Server(config).run(sockets=[sock])
    except BaseException:  # report and leave with a status the parent sees
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve_workers(
    make_app: Callable[[Any], Any],
    sock: socket.socket,
    workers: int,
    preload: Callable[[], Any] | None = None,
) -> int:
    """Run ``workers`` forked uvicorn workers on ``sock`` until SIGTERM/SIGINT; the exit status.

    Parameters
    ----------
    make_app : callable
        Called in each worker with what ``preload`` returned; returns the ASGI app.
    sock : socket.socket
        The listening socket (:func:`bind_socket`).
    workers : int
        How many worker processes (at least 1).
    preload : callable, optional
        Run once in the parent before forking. Must not leave threads or open connections
        behind that a forked child would inherit in an unusable state (state-DB pools, Neo4j
        drivers): those belong in ``make_app``.

    Examples
    --------
    A sketch (this blocks until the server is stopped)::

        sock = bind_socket("127.0.0.1", 8000)
        serve_workers(lambda shared: create_app(graph=shared), sock, 2, preload=load_graph)
    """
    shared = preload() if preload is not None else None
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker index, start time)
    stopping = False
    failed_starts = 0

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            _run_worker(index, sock, make_app, shared)
        children[pid] = (index, time.monotonic())

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        for i in range(1, max(1, workers) + 1):
            spawn(i)
        while children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            if pid not in children:
                continue
            index, started = children.pop(pid)
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            quick = time.monotonic() - started < FAILED_START_SECONDS
            failed_starts = failed_starts + 1 if quick else 0
            print(
                f"riskgraph: worker {index} (pid {pid}) exited with status {code}; "
                + ("giving up" if failed_starts >= MAX_FAILED_STARTS else "starting a new one"),
                file=sys.stderr,
                flush=True,
            )
            if failed_starts >= MAX_FAILED_STARTS:
                status = 1
                stop(signal.SIGTERM, None)
                continue
            if quick:
                time.sleep(1.0)
            if not stopping:
                spawn(index)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return status
