"""The debt and guarantee registers that several detectors share (no detector lives here).

* :func:`entity_directory` -- names, regions and balance-sheet figures of every government unit
  and enterprise, read once per run (declare :data:`ENTITIES` to use it);
* :func:`guarantees_in_force` -- GUARANTEES as of the run's reference date, lapsed ones optional;
* :func:`column` / :func:`as_float` -- small frame helpers.

Evidence records and amounts are written with :mod:`engine.evidence`, like every family's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.context import DetectorContext

__all__ = [
    "ENTITIES",
    "EntityDirectory",
    "as_float",
    "column",
    "entity_directory",
    "guarantees_in_force",
]

#: What :func:`entity_directory` reads: the units and enterprises, and the endpoints of the
#: relationships that reveal a government organ no table defines (a USCC starting 11).
ENTITIES = ("GovUnit", "Enterprise", "HOLDS_SHARES", "GUARANTEES", "FUND_FLOW")


@dataclass(frozen=True)
class EntityDirectory:
    """Government units and enterprises by id: ``frame`` has ``label, name, region_code, kind,
    net_assets, total_assets, total_liabilities`` indexed by id."""

    frame: pd.DataFrame
    gov_ids: frozenset[str]
    names: dict[str, str]
    regions: dict[str, str]
    figures: dict[str, dict[str, float]]

    def name(self, entity_id: str) -> str:
        return self.names.get(entity_id) or entity_id

    def region(self, entity_id: str) -> str | None:
        return self.regions.get(entity_id)

    def figure(self, entity_id: str, column: str) -> float:
        return self.figures[column].get(entity_id, float("nan"))

    def is_gov(self, entity_id: str) -> bool:
        return entity_id in self.gov_ids


def _as_dict(values: pd.Series) -> dict:
    return dict(zip(values.index.tolist(), values.tolist(), strict=True))


def _text_dict(values: pd.Series) -> dict[str, str]:
    """Non-empty text values by index (vectorised: 200k rows in milliseconds)."""
    text = values[values.notna()].astype(str)
    return _as_dict(text[text != ""])


def entity_directory(ctx: DetectorContext) -> EntityDirectory:
    """Every GovUnit and Enterprise node, memoised per run (reads :data:`ENTITIES`).

    Examples
    --------
    >>> from graph_models.memory_store import MemoryStore
    >>> from engine.context import RunContext
    >>> ctx = RunContext(MemoryStore()).context("demo.example", reads=ENTITIES)
    >>> entity_directory(ctx).name("91410000MA0000000X")
    '91410000MA0000000X'
    """

    def build() -> EntityDirectory:
        cols = [
            "id",
            "name",
            "region_code",
            "kind",
            "net_assets",
            "total_assets",
            "total_liabilities",
        ]
        gov = ctx.nodes("GovUnit", cols).assign(label="GovUnit")
        ent = ctx.nodes("Enterprise", cols).assign(label="Enterprise")
        frame = pd.concat([gov, ent], ignore_index=True).drop_duplicates("id", keep="first")
        for col in ("net_assets", "total_assets", "total_liabilities"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        gov_ids = set(gov["id"].astype(str))
        # a referenced USCC starting 11 is a government organ even if no table defines it
        for rtype in ("HOLDS_SHARES", "GUARANTEES", "FUND_FLOW"):
            rel = ctx.relationships(rtype, ["src", "src_label", "dst", "dst_label"])
            gov_ids |= set(rel.loc[rel["src_label"] == "GovUnit", "src"].astype(str))
            gov_ids |= set(rel.loc[rel["dst_label"] == "GovUnit", "dst"].astype(str))
        frame = frame.set_index("id")
        figures = {
            col: _as_dict(frame[col].dropna().astype(float))
            for col in ("net_assets", "total_assets", "total_liabilities")
        }
        names, regions = _text_dict(frame["name"]), _text_dict(frame["region_code"])
        return EntityDirectory(frame, frozenset(gov_ids), names, regions, figures)

    return ctx.memo("debt.entity_directory", build)


def guarantees_in_force(ctx: DetectorContext, include_lapsed: bool) -> pd.DataFrame:
    """GUARANTEES rows (``amount`` numeric) as of ``ctx.as_of``.

    A guarantee that starts after the reference date is never included (it was not given yet
    as of that date). One whose ``end_date`` is before the reference date has *lapsed*: it no
    longer binds the guarantor, so it is included only when ``include_lapsed`` (a detector
    that reports past violations wants it; one that measures live exposure does not). Missing
    start or end dates count as open.

    Examples
    --------
    >>> import datetime as dt
    >>> from graph_models.memory_store import MemoryStore
    >>> store = MemoryStore()
    >>> _ = store.upsert_relationships("GUARANTEES", pd.DataFrame({
    ...     "id": ["live", "lapsed", "future"], "src": ["a"] * 3, "src_label": ["Enterprise"] * 3,
    ...     "dst": ["b"] * 3, "dst_label": ["Enterprise"] * 3, "amount": [1.0] * 3,
    ...     "start_date": ["2020-01-01", "2019-01-01", "2025-01-01"],
    ...     "end_date": ["2026-01-01", "2023-12-31", "2028-01-01"]}))
    >>> from engine.context import RunContext
    >>> ctx = RunContext(store, as_of=dt.date(2024, 6, 30)).context("demo.example", reads=["GUARANTEES"])
    >>> guarantees_in_force(ctx, False)["id"].tolist(), guarantees_in_force(ctx, True)["id"].tolist()
    (['live'], ['live', 'lapsed'])
    """
    g = ctx.frame("GUARANTEES")
    if g.empty:
        return g
    g["amount"] = pd.to_numeric(g.get("amount"), errors="coerce").fillna(0.0)
    today = ctx.as_of.isoformat()
    start = column(g, "start_date").astype(object)
    keep = start.isna() | (start.astype(str) <= today)
    if not include_lapsed:
        end = column(g, "end_date").astype(object)
        keep = keep & (end.isna() | (end.astype(str) >= today))
    return g[keep.to_numpy(dtype=bool)].reset_index(drop=True)


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as object Series (all None when absent).

    Examples
    --------
    >>> column(pd.DataFrame({"a": [1]}), "b").tolist()
    [None]
    """
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def as_float(values: pd.Series) -> np.ndarray:
    """Numbers of a column as floats (NaN where not a number).

    Examples
    --------
    >>> as_float(pd.Series(["1.5", "x"])).tolist()
    [1.5, nan]
    """
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
