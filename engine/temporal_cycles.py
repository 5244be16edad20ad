"""Temporal cycles in dated, amount-weighted flows: money that leaves a node and comes back.

A temporal cycle from a start node ``s`` is a sequence of flows ``s -> x1 -> ... -> s`` where

* the nodes ``x1 ...`` are distinct and differ from ``s`` (an elementary cycle),
* the dates do not decrease along the sequence (same-day pass-through counts: that is the
  typical 资金空转 pattern), and the last flow is at most ``window_days`` after the first,
* every flow's amount is within ``amount_tolerance`` of the first flow's amount
  (``|a_k - a_1| <= amount_tolerance * a_1``), so the same money plausibly travels round,
* it has at most ``max_length`` flows.

The search is a depth-first walk from each outgoing flow of each start node over the flows
sorted by date per payer, so each step only scans flows inside the remaining time window.
Each cycle occurrence is reported once: from its first flow. A step budget per start node
(``max_steps_per_start``) bounds the work on dense flow graphs; starts that run out are listed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

import pandas as pd

__all__ = ["TemporalCycle", "temporal_cycles"]


@dataclass(frozen=True)
class TemporalCycle:
    """One occurrence: ``nodes[k] -> nodes[k+1]`` by ``flow_ids[k]`` (the last returns to nodes[0])."""

    nodes: tuple[str, ...]
    flow_ids: tuple[str, ...]
    dates: tuple[str, ...]
    amounts: tuple[float, ...]

    @property
    def span_days(self) -> int:
        first = dt.date.fromisoformat(self.dates[0])
        return (dt.date.fromisoformat(self.dates[-1]) - first).days


def temporal_cycles(
    flows: pd.DataFrame,
    starts: Iterable[str],
    max_length: int = 6,
    window_days: int = 180,
    amount_tolerance: float = 0.2,
    max_steps_per_start: int = 1_000_000,
) -> tuple[list[TemporalCycle], list[str]]:
    """Temporal cycles that start and end at one of ``starts``.

    Parameters
    ----------
    flows : DataFrame
        Columns ``id, src, dst, amount, date`` (ISO date strings).
    starts : iterable of str
        Nodes a cycle may start from (e.g. government units).
    max_length : int
        Most flows in a cycle.
    window_days : int
        Most days between the first and the last flow.
    amount_tolerance : float
        Largest relative deviation of any flow's amount from the first flow's amount.
    max_steps_per_start : int
        Search-step budget per start node.

    Returns
    -------
    cycles : list of TemporalCycle
        Sorted by first date, then flow ids.
    truncated_starts : list of str
        Start nodes whose budget ran out (their cycles found so far are included).

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["f1", "f2", "f3"], "src": ["G", "A", "B"], "dst": ["A", "B", "G"],
    ...                   "amount": [100.0, 95.0, 90.0],
    ...                   "date": ["2023-01-01", "2023-01-05", "2023-02-01"]})
    >>> cycles, _ = temporal_cycles(f, ["G"])
    >>> cycles[0].nodes, cycles[0].span_days
    (('G', 'A', 'B'), 31)
    >>> temporal_cycles(f, ["G"], window_days=30)[0]
    []
    """
    f = flows.dropna(subset=["src", "dst", "amount", "date"])
    f = f[(f["src"] != f["dst"]) & (f["amount"].astype(float) > 0)]
    f = f.assign(_ord=pd.to_datetime(f["date"]).map(dt.datetime.toordinal))
    f = f.sort_values(["src", "_ord", "id"], kind="stable")
    by_payer: dict[str, tuple[list[int], list[tuple[int, str, str, float, str]]]] = {}
    # columns converted once, then cut into each payer's run of rows (sorted by payer above):
    # per-group conversions cost more than the search at a hundred thousand payers
    rows = zip(
        f["_ord"].tolist(),
        f["id"].astype(str).tolist(),
        f["dst"].astype(str).tolist(),
        f["amount"].astype(float).tolist(),
        f["date"].astype(str).tolist(),
        strict=True,
    )
    payers = f["src"].astype(str).tolist()
    for src, run in itertools.groupby(zip(payers, rows, strict=True), key=itemgetter(0)):
        payer_rows = [row for _, row in run]
        by_payer[src] = ([r[0] for r in payer_rows], payer_rows)

    found: list[TemporalCycle] = []
    truncated: list[str] = []
    for s in sorted(set(map(str, starts))):
        if s not in by_payer:
            continue
        steps = 0
        exhausted = False
        for first in by_payer[s][1]:
            t0, _, x1, a0, _ = first
            lo, hi = a0 * (1 - amount_tolerance), a0 * (1 + amount_tolerance)
            t_end = t0 + window_days
            path = [first]
            on_path = {s, x1}
            stack = [_candidates(by_payer, x1, t0, t_end)]
            while stack:
                if steps >= max_steps_per_start:
                    exhausted = True
                    break
                advanced = False
                for row in stack[-1]:
                    steps += 1
                    _, _, nxt, amount, _ = row
                    if not lo <= amount <= hi:
                        continue
                    if nxt == s:
                        cyc = [*path, row]
                        found.append(
                            TemporalCycle(
                                nodes=(s, *[r[2] for r in cyc[:-1]]),
                                flow_ids=tuple(r[1] for r in cyc),
                                dates=tuple(r[4] for r in cyc),
                                amounts=tuple(r[3] for r in cyc),
                            )
                        )
                        continue
                    if nxt in on_path or len(path) + 1 >= max_length:
                        continue
                    path.append(row)
                    on_path.add(nxt)
                    stack.append(_candidates(by_payer, nxt, row[0], t_end))
                    advanced = True
                    break
                if not advanced:
                    stack.pop()
                    last = path.pop()
                    on_path.discard(last[2])
            if exhausted:
                truncated.append(s)
                break
    found.sort(key=lambda c: (c.dates[0], c.flow_ids))
    return found, truncated


def _candidates(
    by_payer: dict[str, tuple[list[int], list[tuple[int, str, str, float, str]]]],
    node: str,
    t_from: int,
    t_end: int,
):
    """Iterator over ``node``'s outgoing flows dated in ``[t_from, t_end]``."""
    entry = by_payer.get(node)
    if entry is None:
        return iter(())
    ords, rows = entry
    return iter(rows[bisect_left(ords, t_from) : bisect_right(ords, t_end)])
