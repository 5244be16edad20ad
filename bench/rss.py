"""Peak memory of a process and its children together (a load stages tables in worker
processes, whose memory ``getrusage``/``wait4`` report only as the largest single process).

:class:`TreeRss` samples the resident set of a process and all its descendants (Linux
``/proc``) every ``interval`` seconds in a thread; ``peak_mb`` is the largest sum seen. A
spike shorter than the interval can be missed: read it with ``ru_maxrss`` of the processes.

Processes forked from one another (the detector workers of a scan) share the pages they have
not written since the fork, and each one's resident set counts them: the sum of resident sets
then counts shared tables once per process. ``peak_pss_mb`` is the largest sum of proportional
set sizes (``Pss`` in ``/proc/PID/smaps_rollup``: each shared page split between the processes
sharing it), which is the memory the tree really holds.
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


def _pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(resident MiB, proportional MiB) of ``pid`` and its descendants now."""
    rss = pss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            rss += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
        pss += _pss(p)
        todo += _children(p)
    return rss / 2**20, pss / 2**20


class TreeRss:
    """Sample the resident memory of ``pid``'s process tree until :meth:`stop`."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak_mb, self.peak_pss_mb = pid, interval, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss = tree_memory_mb(self.pid)
            self.peak_mb, self.peak_pss_mb = max(self.peak_mb, rss), max(self.peak_pss_mb, pss)
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb
