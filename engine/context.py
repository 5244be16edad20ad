"""What a detector sees: the frames it declared, the run's reference date, the detectors it uses.

A scan has one :class:`RunContext`: the store, the reference date, the settings, and what
detectors share within the run -- each frame read from the store once (ten detectors reading
``Payment`` read it once), memoised shared computations, and every detector's result.

Each detector gets its own :class:`DetectorContext` over the run, bound to its declaration
(``reads`` and ``uses`` in :func:`engine.registry.detector`). The context refuses what the
detector did not declare: reading a label or relationship type outside ``reads``, or the result
of a detector outside ``uses``, raises :class:`UndeclaredAccess`. A shared computation
(``ctx.memo``) remembers what it read, so a detector that takes it from the memo must have
declared those reads too, whichever detector computed it first.

Examples
--------
>>> from graph_models.memory_store import MemoryStore
>>> run = RunContext(MemoryStore(), as_of=dt.date(2024, 1, 1))
>>> ctx = run.context("demo.example", reads=("Person",))
>>> len(ctx.frame("Person")), ctx.has("Person")
(0, False)
>>> ctx.memo("answer", lambda: 42)
42
>>> ctx.nodes("Payment")
Traceback (most recent call last):
...
engine.context.UndeclaredAccess: demo.example reads Payment, which it does not declare: add it to reads=... in its @detector registration
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

from engine.tables import columns as table_columns
from engine.tables import is_relationship
from graph_models.store import GraphStore

__all__ = ["DetectorContext", "RunContext", "UndeclaredAccess"]


class UndeclaredAccess(RuntimeError):
    """A detector read a table or used a detector that its registration does not declare."""


class RunContext:
    """Per-run state shared by every detector of a scan.

    Parameters
    ----------
    store : GraphStore
    as_of : datetime.date, optional
        Reference date for open intervals (an unfinished prison term, an active payroll record).
        Defaults to today; pass a fixed date for reproducible runs.
    settings : dict, optional
        Detector id -> settings instance (defaults where absent).
    engine : engine.spark.engine.SparkEngine, optional
        Where the register SQL runs (None: the embedded engine, DuckDB over the store's frames).

    Examples
    --------
    >>> from graph_models.memory_store import MemoryStore
    >>> run = RunContext(MemoryStore())
    >>> run.present("Household")
    False
    """

    def __init__(
        self,
        store: GraphStore,
        as_of: dt.date | None = None,
        settings: dict[str, Any] | None = None,
        engine: Any = None,
    ) -> None:
        self._store = store
        self.engine = engine
        self.as_of = as_of or dt.date.today()
        self.settings = settings or {}
        self._counts: dict[str, int] | None = None
        self._frames: dict[str, pd.DataFrame] = {}
        self._arrows: dict[str, pa.Table | None] = {}
        self._memo: dict[str, tuple[Any, frozenset[str]]] = {}
        self._results: dict[str, Any] = {}
        self._recording: list[set[str]] = []

    def settings_for(self, spec: Any) -> Any:
        """The settings of a detector in this run (its defaults unless the run sets them)."""
        return self.settings.get(spec.id) or spec.default_settings()

    def present(self, name: str) -> bool:
        """Whether label or relationship type ``name`` has at least one row in the store."""
        if self._counts is None:
            counts = self._store.counts()
            self._counts = {**counts["nodes"], **counts["relationships"]}
        return self._counts.get(name, 0) > 0

    def rows(self, name: str) -> int:
        """How many rows label or relationship type ``name`` has in the store."""
        self.present(name)
        assert self._counts is not None
        return self._counts.get(name, 0)

    def preload(self, name: str) -> None:
        """Read ``name`` from the store now (as Arrow), for every later reader of this run (and
        every process forked from it) to share."""
        self._arrow(name)

    def context(
        self, detector_id: str, reads: Iterable[str] = (), uses: Iterable[str] = ()
    ) -> DetectorContext:
        """A context for one detector that may read ``reads`` and use ``uses``."""
        return DetectorContext(self, detector_id, reads, uses)

    def context_for(self, spec: Any) -> DetectorContext:
        """The context for a registered detector (:class:`engine.registry.DetectorSpec`)."""
        return DetectorContext(self, spec.id, spec.reads, spec.uses)

    def set_result(self, detector_id: str, value: Any) -> None:
        """Record what a detector produced, for the detectors that use it."""
        self._results[detector_id] = value

    def has_result(self, detector_id: str) -> bool:
        """Whether ``detector_id`` has run (or been skipped) in this run."""
        return detector_id in self._results

    def _arrow(self, name: str) -> pa.Table | None:
        if name in self._frames:  # read as pandas already: that frame serves
            return None
        if name not in self._arrows:
            self._arrows[name] = self._store.arrow(name)
        return self._arrows[name]

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            read = self._store.relationships if is_relationship(name) else self._store.nodes
            self._frames[name] = read(name)
        return self._frames[name]


class DetectorContext:
    """The run as one detector may see it: only what its registration declares.

    Parameters
    ----------
    run : RunContext
    detector_id : str
    reads : iterable of str
        Node labels and relationship types the detector may read.
    uses : iterable of str
        Detector ids whose results the detector may read (``ctx.result``).

    Examples
    --------
    >>> from graph_models.memory_store import MemoryStore
    >>> ctx = RunContext(MemoryStore()).context("demo.example", reads=("Loan",))
    >>> ctx.frame("Loan").columns[:3].tolist(), ctx.has("Loan")
    (['id', 'borrower_id', 'lender_id'], False)
    >>> ctx.result("ownership.control")
    Traceback (most recent call last):
    ...
    engine.context.UndeclaredAccess: demo.example uses ownership.control, which it does not declare: add it to uses=... in its @detector registration
    """

    def __init__(
        self, run: RunContext, detector_id: str, reads: Iterable[str], uses: Iterable[str] = ()
    ) -> None:
        self.run = run
        self.detector_id = detector_id
        self.reads = frozenset(reads)
        self.uses = frozenset(uses)

    @property
    def as_of(self) -> dt.date:
        """The run's reference date."""
        return self.run.as_of

    # -- reading ------------------------------------------------------------------------------

    def check_reads(self, names: Iterable[str]) -> None:
        """Raise :class:`UndeclaredAccess` unless every name is declared in ``reads``."""
        names = list(names)
        missing = sorted(set(names) - self.reads)
        if missing:
            raise UndeclaredAccess(
                f"{self.detector_id} reads {', '.join(missing)}, which it does not declare: "
                "add it to reads=... in its @detector registration"
            )
        for recording in self.run._recording:
            recording.update(names)

    def _read(self, name: str, columns: Sequence[str] | None) -> pd.DataFrame:
        self.check_reads([name])
        frame = self.run._frame(name)
        return frame if columns is None else frame.reindex(columns=list(columns))

    def nodes(self, label: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every node of ``label`` (the run's shared frame: do not modify it in place)."""
        if is_relationship(label):
            raise ValueError(f"{label} is a relationship type: use ctx.relationships")
        return self._read(label, columns)

    def relationships(self, rtype: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every relationship of ``rtype`` (the run's shared frame: do not modify it in place)."""
        if not is_relationship(rtype):
            raise ValueError(f"{rtype} is a node label: use ctx.nodes")
        return self._read(rtype, columns)

    def arrow(self, name: str) -> pa.Table | None:
        """A declared label or relationship type as the store's Arrow table (its stored
        columns, for a SQL engine to scan in place), or None when the store offers none: then
        read it with :meth:`nodes` or :meth:`relationships`."""
        self.check_reads([name])
        return self.run._arrow(name)

    def frame(self, name: str) -> pd.DataFrame:
        """A label or relationship type with the graph model's columns (:mod:`engine.tables`),
        absent columns as missing values, ending with ``_table`` and ``_line``."""
        return self._read(name, table_columns(name))

    def has(self, name: str) -> bool:
        """Whether a declared label or relationship type has at least one row."""
        self.check_reads([name])
        return self.run.present(name)

    # -- sharing within the run ---------------------------------------------------------------

    def memo(self, key: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` computed once per run and shared under ``key`` (the key must say everything
        the value depends on). The tables ``fn`` reads are recorded: a detector taking the value
        from the memo must declare them as well."""
        if key in self.run._memo:
            value, reads = self.run._memo[key]
            self.check_reads(reads)
            return value
        recording: set[str] = set()
        self.run._recording.append(recording)
        try:
            value = fn()
        finally:
            self.run._recording.pop()
        self.run._memo[key] = (value, frozenset(recording))
        return value

    def result(self, detector_id: str) -> Any:
        """What a detector declared in ``uses`` produced in this run: its flags (a tuple,
        empty when it was skipped for missing input), or for a detector registered with
        ``computes=True`` its returned value (None when it was skipped)."""
        if detector_id not in self.uses:
            raise UndeclaredAccess(
                f"{self.detector_id} uses {detector_id}, which it does not declare: "
                "add it to uses=... in its @detector registration"
            )
        if not self.run.has_result(detector_id):
            raise RuntimeError(f"{detector_id} has not run yet (the runner orders by uses)")
        return self.run._results[detector_id]
