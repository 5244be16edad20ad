"""Peak memory of a process and its children together (a load stages tables in worker
processes, whose memory ``getrusage``/``wait4`` report only as the largest single process).

:class:`TreeRss` samples the resident set of a process and all its descendants (Linux
``/proc``) every ``interval`` seconds in a thread; ``peak_mb`` is the largest sum seen. A
spike shorter than the interval can be missed: read it with ``ru_maxrss`` of the processes.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in task.read_text().split()]
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident MiB of ``pid`` and its descendants now (0 for what has gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
        todo += _children(p)
    return total / 2**20


class TreeRss:
    """Sample the resident memory of ``pid``'s process tree until :meth:`stop`."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb
