"""What a long command shows while it runs, on a terminal and in a log file.

On a terminal: rich progress bars, one per table (rows read of the rows expected, rate, time
left) and one for the detectors (done of all, the one running, time left from the previous
scan's timings when the workspace has them). Not on a terminal (output piped to a file, a
scheduler's log): plain lines with a time stamp, never wrapped or cut: one when a table starts
and ends, one every ``interval`` seconds while it loads, one per detector.

Examples
--------
>>> import io
>>> from rich.console import Console
>>> out = io.StringIO()
>>> with Reporter(Console(file=out, width=40), interval=0) as r:
...     r.expect("households", 3)
...     r.rows("households", 1)
...     r.rows("households", 2)
...     r.detectors(["aid.roster"])
...     r.detector_started("aid.roster")
...     r.detector_done("aid.roster", 0.5, 2)
>>> [line[9:] for line in out.getvalue().splitlines()]  # without the time stamps
['load households: 1 of 3 rows (33%)', 'load households: 3 rows in 0s', 'detect [1/1] aid.roster: 2 flags in 0.5s']
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["Reporter", "duration"]


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


@dataclass
class _Table:
    started: float = 0.0  # when its first rows came
    rows: int = 0
    expected: int | None = None
    last_line: float = 0.0
    done: bool = False
    task: Any = None


class Reporter:
    """Progress of a load and of the detectors (see the module docstring).

    ``rows`` is the loaders' ``progress(table, rows)`` callback; ``expect`` gives a table's
    expected rows (the workspace counts a CSV's lines while it hashes the file);
    ``detector_started`` / ``detector_done`` are the runner's callbacks.
    """

    def __init__(self, console: Console, interval: float = 10.0,
                 terminal: bool | None = None) -> None:  # fmt: skip
        self.console = console
        self.interval = interval
        self.terminal = console.is_terminal if terminal is None else terminal
        self.tables: dict[str, _Table] = {}
        self._current: str | None = None
        self._progress: Progress | None = None
        self._detectors: list[str] = []
        self._expected_seconds: dict[str, float] = {}
        self._done_detectors = 0
        self._finished: set[str] = set()
        self._running: set[str] = set()
        self._side_by_side = 1  # most detectors seen running at once (worker processes)
        self._detect_task: Any = None
        self._detect_started = 0.0
        #: tables load at once (staged by worker processes): a table is done when
        #: :meth:`table_done` says so, not when another table's rows come
        self.concurrent = False
        if self.terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )

    # -- output ---------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        """One plain line with a time stamp (not on a terminal)."""
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.console.print(f"{stamp} {text}", markup=False, highlight=False, soft_wrap=True,
                           crop=False, overflow="ignore")  # fmt: skip

    def __enter__(self) -> Reporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish_tables()
        if self._progress is not None:
            self._progress.stop()

    # -- loading --------------------------------------------------------------------------------
    def _table(self, table: str) -> _Table:
        t = self.tables.get(table)
        if t is None:
            t = self.tables[table] = _Table()
            if self._progress is not None:
                t.task = self._progress.add_task(f"load {table}", total=None, unit="rows")
        return t

    def expect(self, table: str, rows: int | None) -> None:
        """``table`` will have about ``rows`` rows (added up over its files)."""
        if not rows:
            return
        t = self._table(table)
        t.expected = (t.expected or 0) + int(rows)
        if t.task is not None and self._progress is not None:
            self._progress.update(t.task, total=t.expected)

    def __call__(self, table: str, n: int) -> None:
        self.rows(table, n)

    def rows(self, table: str, n: int) -> None:
        """``n`` more rows of ``table`` were read (the loaders' progress callback)."""
        if self._current is not None and self._current != table and not self.concurrent:
            self._finish(self._current)
        self._current = table
        t = self._table(table)
        now = time.monotonic()
        if not t.started:
            t.started = t.last_line = now
        t.rows += n
        if t.task is not None and self._progress is not None:
            total = max(t.expected or 0, t.rows) if t.expected else None
            self._progress.update(t.task, completed=t.rows, total=total)
            return
        if now - t.last_line >= self.interval and (not t.expected or t.rows < t.expected):
            t.last_line = now
            self.line(f"load {table}: {self._so_far(t, now)}")

    def _so_far(self, t: _Table, now: float) -> str:
        elapsed = max(now - t.started, 1e-9)
        rate = t.rows / elapsed
        if not t.expected:
            return f"{t.rows:,} rows, {rate:,.0f} rows/s"
        pct = min(100, int(100 * t.rows / t.expected))
        text = f"{t.rows:,} of {t.expected:,} rows ({pct}%)"
        if t.rows < t.expected and rate > 0 and elapsed >= 1:
            text += f", {rate:,.0f} rows/s, ETA {duration((t.expected - t.rows) / rate)}"
        return text

    def _finish(self, table: str) -> None:
        t = self.tables.get(table)
        if t is None or t.done:
            return
        t.done = True
        if t.task is not None and self._progress is not None:
            self._progress.update(t.task, total=t.rows, completed=t.rows)
            return
        self.line(f"load {table}: {t.rows:,} rows in {duration(time.monotonic() - t.started)}")

    def table_done(self, table: str) -> None:
        """Every row of ``table`` was read (tables staged at once say so one by one)."""
        self._finish(table)

    def finish_tables(self) -> None:
        """Every table read so far is done (the load moved on to resolving and writing)."""
        for table in list(self.tables):
            self._finish(table)
        self._current = None

    def note(self, text: str) -> None:
        """A step without rows (resolving the graph, writing a generation)."""
        if self._progress is not None:
            self._progress.console.print(f"[dim]{text}[/]")
        else:
            self.line(text)

    # -- detectors ------------------------------------------------------------------------------
    def detectors(self, ids: list[str], expected_seconds: dict[str, float] | None = None) -> None:
        """The detectors about to run (and how long each took last time, when known)."""
        self.finish_tables()
        self._detectors = list(ids)
        self._expected_seconds = dict(expected_seconds or {})
        self._done_detectors = 0
        self._detect_started = time.monotonic()
        if self._progress is not None:
            self._detect_task = self._progress.add_task(
                "detect", total=len(self._detectors), unit="detectors"
            )

    def plan_detectors(
        self, ids: list[str], expected_seconds: dict[str, float] | None = None
    ) -> None:
        """The detectors a scan will run, shown when the first one starts."""
        self._planned = (list(ids), dict(expected_seconds or {}))

    _planned: tuple[list[str], dict[str, float]] | None = None

    def _show_planned(self) -> None:
        if self._planned is not None and not self._detectors:
            self.detectors(*self._planned)

    def detector_started(self, detector: str) -> None:
        self._show_planned()
        self._running.add(detector)
        self._side_by_side = max(self._side_by_side, len(self._running))
        if self._progress is not None and self._detect_task is not None:
            self._progress.update(self._detect_task, description=f"detect {detector}")

    def detector_done(
        self, detector: str, seconds: float, flags: int, reused: bool = False
    ) -> None:
        if reused:  # announced before any detector starts
            self._show_planned()
        self._done_detectors += 1
        self._finished.add(detector)
        self._running.discard(detector)
        if self._progress is not None and self._detect_task is not None:
            self._progress.update(self._detect_task, completed=self._done_detectors)
            return
        n = len(self._detectors) or self._done_detectors
        how = "reused from the previous scan (unchanged)" if reused else f"in {seconds:.1f}s"
        text = f"detect [{self._done_detectors}/{n}] {detector}: {flags:,} flags {how}"
        left = [d for d in self._detectors if d not in self._finished]
        if left and all(d in self._expected_seconds for d in left):
            left_seconds = sum(self._expected_seconds[d] for d in left) / self._side_by_side
            text += f", ETA {duration(left_seconds)}"
        self.line(text)
