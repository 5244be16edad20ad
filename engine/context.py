"""What a detector sees: the store, the run's reference date, and memoised shared results.

Shared results (e.g. ownership control, used by four detectors) are computed once per run through
``ctx.memo(key, fn)``; frames read from the store are cached per run with ``ctx.nodes`` /
``ctx.relationships`` so ten detectors reading ``Payment`` read it once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from graph_models.store import GraphStore

__all__ = ["DetectorContext"]


class DetectorContext:
    """Per-run state shared by detectors.

    Parameters
    ----------
    store : GraphStore
    as_of : datetime.date, optional
        Reference date for open intervals (an unfinished prison term, an active payroll record).
        Defaults to today; pass a fixed date for reproducible runs.
    settings : dict, optional
        Detector id -> settings instance (defaults where absent).

    Examples
    --------
    >>> from graph_models.memory_store import MemoryStore
    >>> ctx = DetectorContext(MemoryStore(), as_of=dt.date(2024, 1, 1))
    >>> ctx.memo("answer", lambda: 42)
    42
    >>> len(ctx.nodes("Person"))
    0
    """

    def __init__(
        self,
        store: GraphStore,
        as_of: dt.date | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.as_of = as_of or dt.date.today()
        self.settings = settings or {}
        self._memo: dict[str, Any] = {}

    def memo(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def nodes(self, label: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        frame = self.memo(f"nodes:{label}", lambda: self.store.nodes(label))
        if columns is None:
            return frame
        return frame.reindex(columns=list(columns))

    def relationships(self, rtype: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        frame = self.memo(f"rels:{rtype}", lambda: self.store.relationships(rtype))
        if columns is None:
            return frame
        return frame.reindex(columns=list(columns))

    def settings_for(self, spec: Any) -> Any:
        return self.settings.get(spec.id) or spec.default_settings()
