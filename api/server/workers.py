"""Several API worker processes behind one port: ``riskgraph serve --workers N``.

One Python process runs one request at a time (the GIL), so on a machine with several cores a
single process is the API's ceiling. :func:`serve_workers` binds the socket, runs ``preload``
once in the parent (for the memory store: load the graph, build its caches, ``gc.freeze()``),
then forks the workers. Each worker builds its own app (state-DB connections, threads) around
what was preloaded and runs uvicorn.

Forking after the load shares the graph between the workers: the pages stay shared until a
worker writes to them, and ``gc.freeze()`` keeps the garbage collector from touching (and so
copying) them. A worker that dies is replaced by a fresh fork of the parent; a worker that
keeps dying at start stops the whole server. SIGTERM or SIGINT stops every worker gracefully.

**Who gets a connection.** The parent accepts every connection and hands it to the worker with
the fewest open connections (ties in turn), passing the socket over a Unix socket pair
(``SCM_RIGHTS``); the worker adopts it into its event loop. Letting the workers accept from a
shared socket themselves is simpler but does not spread the load: the worker that wakes first
accepts every connection waiting, so a burst of keep-alive connections (a reverse proxy's
upstream pool, or 50 clients starting together) measured 50 to 0 on two workers, and the second
worker sat idle. Each worker counts the connections it has closed in shared memory; the parent
counts what it handed out, so it knows every worker's open connections without asking.

What workers share lives in the state DB (sessions, audit trail, flags, scans); a scan run by
one worker reaches the others through ``api.server.scan_jobs.ScanFollower``.

**uvicorn internals.** A worker serves sockets it did not accept, which uvicorn has no public
way to do, so :func:`_adopting_server` uses its internals: ``Server.startup(sockets=[])`` and
``shutdown(sockets=...)``, ``Server.server_state``, ``Server.lifespan.state``,
``Server.should_exit``, ``Config.load()`` / ``Config.http_protocol_class`` and the HTTP
protocol classes' ``(config, server_state, app_state)`` constructor. ``pyproject.toml`` pins
uvicorn to the minor version (0.55) they were read from.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["ConnectionDispatcher", "bind_socket", "serve_workers"]


#: A worker that exits this soon after its start counts as a failed start ...
FAILED_START_SECONDS = 10.0
#: ... and after this many failed starts in a row the server gives up.
MAX_FAILED_STARTS = 5
#: A connection no worker could take (all restarting) is closed after waiting this long.
WAITING_SECONDS = 30.0
_WAITING_POLL_SECONDS = 0.05
#: The parent's signals, blocked while it forks.
_PARENT_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket for the parent to accept on (IPv6 when ``host`` is IPv6)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


class ConnectionDispatcher:
    """The parent's side of the hand-over: one channel per worker, least open connections wins.

    ``closed`` is shared memory that worker ``i`` (slot ``i - 1``) counts its closed connections
    in; ``handed`` counts what the parent gave it. Their difference is the worker's open
    connections. Ties go round the workers in turn.

    Examples
    --------
    >>> d = ConnectionDispatcher(2)
    >>> a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    >>> c, e = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    >>> d.attach(1, a); d.attach(2, c)
    >>> conn, peer = socket.socketpair()
    >>> [d.hand_over(conn) for _ in range(3)]  # round the workers, then the emptier one
    [1, 2, 1]
    >>> d.closed[0] = 2  # worker 1 closed two of its connections
    >>> d.open_connections()
    [0, 1]
    >>> for s in (a, b, c, e, conn, peer): s.close()
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.closed = multiprocessing.RawArray("q", workers)  # written by the workers only
        self.handed = [0] * workers
        self.channels: list[socket.socket | None] = [None] * workers
        self._next = 0

    def attach(self, index: int, channel: socket.socket) -> None:
        """A (new) worker ``index`` listens on ``channel``; its counts start again at zero."""
        self.detach(index)
        channel.setblocking(False)
        self.channels[index - 1] = channel
        self.handed[index - 1] = 0
        self.closed[index - 1] = 0

    def detach(self, index: int) -> None:
        """Worker ``index`` is gone: hand it nothing more."""
        old, self.channels[index - 1] = self.channels[index - 1], None
        if old is not None:
            old.close()

    def open_connections(self) -> list[int]:
        return [self.handed[i] - self.closed[i] for i in range(self.workers)]

    def hand_over(self, conn: socket.socket) -> int | None:
        """Send ``conn`` to a worker; its index, or None when no worker could take it."""
        load = self.open_connections()
        order = sorted(
            range(self.workers), key=lambda i: (load[i], (i - self._next) % self.workers)
        )
        for i in order:
            channel = self.channels[i]
            if channel is None:
                continue
            try:
                socket.send_fds(channel, [b"c"], [conn.fileno()])
            except OSError:  # full (a stalled worker) or closed (a dead one): the next one
                continue
            self.handed[i] += 1
            self._next = (i + 1) % self.workers
            return i + 1
        return None

    def close(self) -> None:
        for i in range(1, self.workers + 1):
            self.detach(i)


def _adopting_server(config: Any, channel: socket.socket, closed: Any, slot: int) -> Any:
    """A uvicorn server with no listening socket: it serves the connections the parent sends."""
    import uvicorn

    config.load()
    base = config.http_protocol_class

    class CountingProtocol(base):  # type: ignore[misc, valid-type]
        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            closed[slot] += 1

    config.http_protocol_class = CountingProtocol

    class AdoptingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=[])
            loop = asyncio.get_running_loop()
            channel.setblocking(False)
            loop.add_reader(channel.fileno(), self._receive, loop)

        def _protocol(self) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
            while True:
                try:
                    msg, fds, flags, _addr = socket.recv_fds(channel, 1, 1)
                except BlockingIOError:
                    return
                except OSError:
                    msg, fds, flags = b"", [], 0
                if not msg and not fds:  # the parent is gone: finish what is open and stop
                    loop.remove_reader(channel.fileno())
                    self.should_exit = True
                    return
                if flags & socket.MSG_CTRUNC and not fds:  # out of fds: the kernel dropped it
                    closed[slot] += 1
                for fd in fds:
                    loop.create_task(self._adopt(loop, socket.socket(fileno=fd)))

        async def _adopt(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
            try:
                await loop.connect_accepted_socket(self._protocol, conn)
            except OSError:  # the client left while the connection was on its way
                conn.close()
                closed[slot] += 1

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(channel.fileno())
            channel.close()  # the parent's next hand-over to this worker fails over to another
            await super().shutdown(sockets=sockets)

    return AdoptingServer(config)


def _run_worker(
    index: int,
    channel: socket.socket,
    closed: Any,
    make_app: Callable[[Any], Any],
    shared: Any,
    signal_mask: set[signal.Signals],
) -> None:
    """The child's life: its own app and event loop, fed connections on ``channel``; never
    returns."""
    import uvicorn

    code = 0
    try:
        for sig in _PARENT_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own while serving
        signal.set_wakeup_fd(-1)
        signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)  # blocked around the fork
        os.environ["RISKGRAPH_WORKER"] = str(index)
        app = make_app(shared)
        # no WebSocket upgrades (the API has none): an upgraded connection changes protocol
        # object and its close would not be counted
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
        _adopting_server(config, channel, closed, index - 1).run()
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
    """Run ``workers`` forked uvicorn workers behind ``sock`` until SIGTERM/SIGINT; the exit
    status.

    The calling process accepts on ``sock`` and hands each connection to the worker with the
    fewest open connections (see the module's docstring).

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
    n = max(1, workers)
    dispatcher = ConnectionDispatcher(n)
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker index, start time)
    respawn_at: dict[int, float] = {}  # worker index -> when to start it again
    stopping = False
    failed_starts = 0
    status = 0
    wake_r, wake_w = os.pipe()  # signals wake the parent's select() through this pipe

    def spawn(index: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # no signal between the fork and the child's own handlers, nor before the parent has
        # recorded the child (a SIGTERM then would miss it): they wait until this is done
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _PARENT_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                ours.close()
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                dispatcher.close()  # the other workers' channels are not this worker's business
                _run_worker(index, theirs, dispatcher.closed, make_app, shared, mask)
            children[pid] = (index, time.monotonic())
        finally:
            theirs.close()
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        dispatcher.attach(index, ours)

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def reap() -> None:
        nonlocal failed_starts, status
        while children:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                return
            if pid == 0:
                return
            if pid not in children:
                continue
            index, started = children.pop(pid)
            dispatcher.detach(index)
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            quick = time.monotonic() - started < FAILED_START_SECONDS
            failed_starts = failed_starts + 1 if quick else 0
            giving_up = failed_starts >= MAX_FAILED_STARTS
            print(
                f"riskgraph: worker {index} (pid {pid}) exited with status {code}; "
                + ("giving up" if giving_up else "starting a new one"),
                file=sys.stderr,
                flush=True,
            )
            if giving_up:
                status = 1
                stop(signal.SIGTERM, None)
            else:
                respawn_at[index] = time.monotonic() + (1.0 if quick else 0.0)

    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "signal")
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select
    previous_wakeup = signal.set_wakeup_fd(wake_w)
    listening = True  # the socket is open
    polling = True  # and registered with the selector
    # accepted connections no worker could take yet (all starting, restarting or stalled):
    # handed over as soon as one can; meanwhile new ones wait in the kernel's backlog
    waiting: collections.deque[tuple[socket.socket, float]] = collections.deque()
    try:
        for i in range(1, n + 1):
            if stopping:
                break
            spawn(i)
        while children or (respawn_at and not stopping):
            if stopping and listening:  # stop taking connections; the workers finish theirs
                if polling:
                    selector.unregister(sock)
                sock.close()
                listening = polling = False
                while waiting:
                    waiting.popleft()[0].close()
            _hand_over_waiting(waiting, dispatcher)
            if listening and polling == bool(waiting):  # poll the socket only if none waits
                if waiting:
                    selector.unregister(sock)
                else:
                    selector.register(sock, selectors.EVENT_READ, "accept")
                polling = not waiting
            now = time.monotonic()
            waits = [when - now for when in respawn_at.values()]
            if waiting:
                waits.append(_WAITING_POLL_SECONDS)
            timeout = max(0.0, min(waits)) if waits else None
            for key, _ in selector.select(timeout):
                if key.data == "signal":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 512):
                            pass
                elif polling and not stopping:
                    _accept_all(sock, dispatcher, waiting)
            reap()
            now = time.monotonic()
            for index, when in list(respawn_at.items()):
                if stopping:
                    respawn_at.clear()
                elif when <= now:
                    del respawn_at[index]
                    spawn(index)
    finally:
        signal.set_wakeup_fd(previous_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        selector.close()
        os.close(wake_r)
        os.close(wake_w)
        for conn, _since in waiting:
            conn.close()
        dispatcher.close()
        sock.close()
    return status


def _accept_all(
    sock: socket.socket,
    dispatcher: ConnectionDispatcher,
    waiting: collections.deque[tuple[socket.socket, float]],
) -> None:
    """Accept every connection waiting in the backlog and hand each to a worker; one that no
    worker can take now goes to ``waiting``, and the rest stay in the backlog."""
    while True:
        try:
            conn, _addr = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionAbortedError:  # that client is gone; the others are still there
            continue
        except OSError:  # out of file descriptors, say: pause rather than spin on the socket
            time.sleep(0.05)
            return
        if dispatcher.hand_over(conn) is None:
            waiting.append((conn, time.monotonic()))
            return
        conn.close()


def _hand_over_waiting(
    waiting: collections.deque[tuple[socket.socket, float]], dispatcher: ConnectionDispatcher
) -> None:
    """Hand over the connections that waited for a worker, oldest first; close those that
    waited longer than ``WAITING_SECONDS``."""
    while waiting:
        conn, since = waiting[0]
        if dispatcher.hand_over(conn) is None and time.monotonic() - since < WAITING_SECONDS:
            return
        waiting.popleft()
        conn.close()
