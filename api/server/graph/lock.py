"""A readers-writer lock: many requests read the graph at once; a scan's rewrite waits for them
and holds new ones back until it is done (a waiting writer stops new readers, so it is never
starved).

Examples
--------
>>> lock = ReadWriteLock()
>>> with lock.reading():
...     lock.acquire_read(blocking=False)  # another reader may join
True
>>> lock.release_read()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers or one writer; a waiting writer stops new readers (no writer starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    def acquire_read(self, blocking: bool = True) -> bool:
        """Become a reader; with ``blocking=False`` return False at once if a writer holds or
        waits for the lock (an event loop tries this before handing the wait to a thread)."""
        with self._cond:
            while self._writer or self._waiting_writers:
                if not blocking:
                    return False
                self._cond.wait()
            self._readers += 1
            return True

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def reading(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
