"""What the load's staging workers and the scan's detector workers share: how many there may be,
and ending with the process that started them.

Examples
--------
>>> import os
>>> _ = os.environ.pop("RISKGRAPH_EXAMPLE_WORKERS", None)
>>> workers_setting("RISKGRAPH_EXAMPLE_WORKERS", most=4) is None  # unset: the caller decides
True
>>> os.environ["RISKGRAPH_EXAMPLE_WORKERS"] = "8"
>>> workers_setting("RISKGRAPH_EXAMPLE_WORKERS", most=4)
4
>>> del os.environ["RISKGRAPH_EXAMPLE_WORKERS"]
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

from graph_models.errors import DataError

__all__ = ["cpus", "end_with_parent", "worker_count", "workers_setting"]

_PR_SET_PDEATHSIG = 1  # prctl(2)


def workers_setting(variable: str, most: int) -> int | None:
    """The number of workers environment variable ``variable`` sets (at least 1, at most
    ``most``), or None when it is not set."""
    env = os.environ.get(variable, "").strip()
    if not env:
        return None
    try:
        wanted = int(env)
    except ValueError as exc:
        raise DataError("bad_setting", f"{variable} must be a whole number, not {env!r}") from exc
    return max(1, min(wanted, most))


def worker_count(
    variable: str, rows: int, min_rows: int, most: int, cpus_: int | None = None
) -> int:
    """How many workers share ``rows`` rows of work split into ``most`` parts: what
    ``variable`` sets, else one per CPU (``cpus_``, default :func:`cpus`) and at most one per
    part, and 1 below ``min_rows`` rows (a worker's start is not worth it)."""
    wanted = workers_setting(variable, most=most)
    if wanted is not None:
        return wanted
    if rows < min_rows:
        return 1
    return max(1, min(cpus_ or cpus(), most))


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def end_with_parent(parent: int) -> None:
    """In a worker: end when process ``parent`` ends (Linux: ``PR_SET_PDEATHSIG``; killed, it
    would leave its workers running), and at once if it has ended already."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)
