"""A small closed-loop HTTP/1.1 load generator: ``concurrency`` keep-alive connections, each
sending its next GET as soon as the previous response has been read in full.

Why not httpx: on the 2-core benchmark machine the load generator shares the CPU with the
server, and httpx's ``AsyncClient`` costs 3-5 ms of CPU per request (measured: more than the
server spends on a 2-hop neighbourhood). This client writes the request bytes itself and
reads the response by ``Content-Length`` (or chunked encoding), about a tenth of that, so the
numbers measure the server. It is for benchmarks against our own server only: no TLS, no
redirects, no compression.

Examples
--------
>>> _parse_head(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n")
(200, 2, False, True)
"""

from __future__ import annotations

import asyncio
import random
import time
from urllib.parse import urlsplit

__all__ = ["LoadResult", "run_load"]

_FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class LoadResult:
    """Latencies (ms) of completed requests and counts by status (``"error"`` for failures)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int | str, int] = {}
        self.wall_seconds = 0.0

    def count(self, status: int | str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, content length or None, chunked?, keep-alive?) of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: int | None = None
    chunked = False
    keep_alive = not lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection":
            keep_alive = value != b"close"
    return status, length, chunked, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


async def run_load(
    base_url: str,
    paths: list[str],
    concurrency: int,
    headers: dict[str, str] | None = None,
    think_seconds: float = 0.0,
    seed: int = 0,
) -> LoadResult:
    """GET every path once, ``concurrency`` at a time (closed loop), and time each response.

    ``base_url`` is like ``http://127.0.0.1:8000/api/v1``; paths are appended to it. With
    ``think_seconds`` > 0 each client pauses a random time (exponential, that mean) after each
    response, as a person reading the answer does: ``concurrency`` users then offer about
    ``concurrency / (think_seconds + latency)`` requests per second instead of as many as the
    server can take.
    """
    rng = random.Random(seed)
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    prefix = url.path.rstrip("/")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    result = LoadResult()
    queue = list(reversed(paths))

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port, limit=1 << 22)

    async def send(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> tuple[int, bool]:
        reader, writer = conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status, length, chunked, keep_alive = _parse_head(head[:-4])
        if chunked:
            await _read_chunked(reader)
        elif length:
            await reader.readexactly(length)
        return status, keep_alive

    async def worker() -> None:
        conn = await connect()
        if think_seconds > 0:  # people do not all click at the same instant
            await asyncio.sleep(rng.expovariate(1 / think_seconds))
        try:
            while queue:
                path = queue.pop()
                request = f"GET {prefix}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n"
                t0 = time.perf_counter()
                try:
                    try:
                        status, keep_alive = await send(conn, request.encode())
                    except asyncio.IncompleteReadError:
                        # a keep-alive connection the server closed while it was idle: send
                        # again once on a new one, as browsers do (the time is counted)
                        conn[1].close()
                        conn = await connect()
                        status, keep_alive = await send(conn, request.encode())
                except _FAILURES:
                    result.count("error")
                    conn[1].close()
                    conn = await connect()
                    continue
                result.latencies.append((time.perf_counter() - t0) * 1000)
                result.count(status)
                if not keep_alive:
                    conn[1].close()
                    conn = await connect()
                if think_seconds > 0:
                    await asyncio.sleep(rng.expovariate(1 / think_seconds))
        finally:
            conn[1].close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(paths))))))
    result.wall_seconds = time.perf_counter() - t0
    return result
