"""DebtRank: distress propagation on a network of exposures.

Implements Battiston, Puliga, Kaushik, Tasca & Caldarelli (2012), "DebtRank: Too Central to
Fail? Financial Networks, the FED and Systemic Risk", Scientific Reports 2:541, as published:

* ``A_ij`` is the exposure of ``j`` to ``i`` (``j`` loses ``A_ij`` if ``i`` fails) and
  ``W_ij = min(1, A_ij / E_j)`` is the impact of ``i`` on ``j``, with ``E_j`` the equity of ``j``;
* every node has a distress ``h`` in [0, 1] and a state ``s`` in {U, D, I} (undistressed,
  distressed, inactive); at ``t = 1`` the shocked nodes have ``h = shock`` and ``s = D``, all
  others ``h = 0`` and ``s = U``;
* ``h_j(t) = min(1, h_j(t-1) + sum over i with s_i(t-1) = D of W_ij h_i(t-1))``;
  ``s_j(t) = D`` if ``h_j(t) > 0`` and ``s_j(t-1) != I``; ``I`` if ``s_j(t-1) = D``; otherwise
  unchanged. A node therefore propagates its distress exactly once (the paper's answer to
  walks that would loop around cycles); the dynamics stop at ``T`` when no node is D;
* ``R = sum_j h_j(T) v_j - sum_j h_j(1) v_j`` with ``v`` the relative economic value
  (``value`` normalised to sum 1 over all nodes), so the initial shock itself is excluded.

In a credit network a lender is exposed to its borrower for the loan, and a guarantor is
exposed to the debtor for the guaranteed amount: both are ``creditor, debtor, amount`` rows.

The propagation is vectorised with ``scipy.sparse``: each round multiplies the transposed
impact matrix by the distress of the D nodes only. ``debtrank_by_node`` runs many single-node
shocks at once (one column each), so its work is proportional to the edges each shock reaches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "DebtRankResult",
    "ShockBatch",
    "debtrank",
    "debtrank_by_node",
    "impact_matrix",
    "single_shock_runs",
]

_U, _D, _I = 0, 1, 2


@dataclass(frozen=True)
class DebtRankResult:
    """Outcome of one DebtRank run.

    Attributes
    ----------
    h : pandas.Series
        Final distress ``h_j(T)`` per node.
    h_initial : pandas.Series
        Distress at ``t = 1`` (the shock).
    R : float
        The DebtRank of the shock: ``sum h(T) v - sum h(1) v``.
    rounds : int
        ``T``, the round at which no node is distressed any more.
    value : pandas.Series
        The relative values ``v`` used (summing to 1).
    """

    h: pd.Series
    h_initial: pd.Series
    R: float
    rounds: int
    value: pd.Series

    def losses(self, equity: Mapping[str, float]) -> pd.Series:
        """Equity lost per node, ``h_j(T) * E_j`` (the paper's relative loss times equity)."""
        e = pd.Series(equity, dtype=float).reindex(self.h.index).fillna(0.0)
        return (self.h * e.clip(lower=0.0)).rename("equity_loss")


def _node_index(exposures: pd.DataFrame, *mappings: Mapping[str, float] | pd.Series) -> pd.Index:
    ids: set[str] = set(exposures["creditor"]) | set(exposures["debtor"])
    for m in mappings:
        ids |= set(m.keys())
    return pd.Index(sorted(ids))


def impact_matrix(
    exposures: pd.DataFrame, equity: Mapping[str, float] | pd.Series, nodes: pd.Index
) -> sp.csr_matrix:
    """``W`` with ``W[i, j] = min(1, A_ij / E_j)``: the impact of debtor ``i`` on creditor ``j``.

    ``A_ij`` sums every exposure of creditor ``j`` to debtor ``i``. A creditor whose equity is
    zero, negative or unknown has ``W = 1`` on every positive exposure (any loss wipes it out).
    Self-exposures are ignored.

    Examples
    --------
    >>> ex = pd.DataFrame({"creditor": ["b"], "debtor": ["a"], "amount": [5.0]})
    >>> impact_matrix(ex, {"a": 10.0, "b": 20.0}, pd.Index(["a", "b"])).toarray().tolist()
    [[0.0, 0.25], [0.0, 0.0]]
    """
    n = len(nodes)
    ex = exposures[exposures["creditor"] != exposures["debtor"]]
    ex = ex[ex["amount"].astype(float) > 0]
    i = nodes.get_indexer(ex["debtor"])
    j = nodes.get_indexer(ex["creditor"])
    a = sp.csr_matrix((ex["amount"].to_numpy(dtype=float), (i, j)), shape=(n, n))
    a.sum_duplicates()
    e = pd.Series(equity, dtype=float).reindex(nodes).to_numpy()
    coo = a.tocoo()
    ej = e[coo.col]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(np.isfinite(ej) & (ej > 0), coo.data / ej, 1.0)
    w = np.minimum(1.0, w)
    return sp.csr_matrix((w, (coo.row, coo.col)), shape=(n, n))


def _relative_value(value: Mapping[str, float] | pd.Series, nodes: pd.Index) -> np.ndarray:
    v = pd.Series(value, dtype=float).reindex(nodes).fillna(0.0).clip(lower=0.0).to_numpy()
    total = v.sum()
    return v / total if total > 0 else v


def debtrank(
    exposures: pd.DataFrame,
    equity: Mapping[str, float] | pd.Series,
    value: Mapping[str, float] | pd.Series,
    shock: Mapping[str, float] | pd.Series,
) -> DebtRankResult:
    """Run DebtRank (Battiston et al. 2012) from an initial shock.

    Parameters
    ----------
    exposures : DataFrame
        Columns ``creditor, debtor, amount``: the creditor loses ``amount`` if the debtor fails.
    equity : mapping node -> float
        Equity (net assets) ``E``; the impact of ``i`` on ``j`` is ``min(1, A_ij / E_j)``.
    value : mapping node -> float
        Economic value; normalised to relative values ``v`` summing to 1 over all nodes.
    shock : mapping node -> float
        Initial distress ``h(1)`` in (0, 1] of the shocked nodes (1 = default).

    Returns
    -------
    DebtRankResult

    Examples
    --------
    A chain ``c -> b -> a`` of exposures (a lends to b, b lends to c), all values equal:

    >>> ex = pd.DataFrame({"creditor": ["a", "b"], "debtor": ["b", "c"], "amount": [5.0, 5.0]})
    >>> r = debtrank(ex, {"a": 10, "b": 10, "c": 10}, {"a": 1, "b": 1, "c": 1}, {"c": 1.0})
    >>> r.h.round(3).tolist(), round(r.R, 4)
    ([0.25, 0.5, 1.0], 0.25)
    """
    nodes = _node_index(exposures, equity, value, shock)
    w_t = impact_matrix(exposures, equity, nodes).T.tocsr()
    v = _relative_value(value, nodes)
    h0 = pd.Series(shock, dtype=float).reindex(nodes).fillna(0.0).clip(0.0, 1.0).to_numpy()
    h = h0.copy()
    state = np.where(h0 > 0, _D, _U).astype(np.int8)
    rounds = 1
    while (state == _D).any():
        distressed = state == _D
        delta = w_t @ np.where(distressed, h, 0.0)
        h = np.minimum(1.0, h + delta)
        state = np.where(distressed, _I, np.where((state == _U) & (h > 0), _D, state)).astype(
            np.int8
        )
        rounds += 1
    r = float(h @ v - h0 @ v)
    return DebtRankResult(
        h=pd.Series(h, index=nodes, name="h"),
        h_initial=pd.Series(h0, index=nodes, name="h_initial"),
        R=r,
        rounds=rounds,
        value=pd.Series(v, index=nodes, name="v"),
    )


@dataclass(frozen=True)
class ShockBatch:
    """Single-node shocks run side by side: column ``c`` of ``h`` is the final distress ``h(T)``
    of the run that shocked ``sources[c]`` alone with ``shocks[c]``."""

    nodes: pd.Index
    sources: list[str]
    shocks: np.ndarray
    h: np.ndarray
    value: np.ndarray

    @property
    def R(self) -> np.ndarray:
        """DebtRank of each column's shock: ``sum_j h_j(T) v_j - shock * v_source``."""
        idx = self.nodes.get_indexer(self.sources)
        return self.value @ self.h - self.shocks * self.value[idx]


def single_shock_runs(
    exposures: pd.DataFrame,
    equity: Mapping[str, float] | pd.Series,
    value: Mapping[str, float] | pd.Series,
    shocks: Mapping[str, float],
    *,
    batch_cells: int = 20_000_000,
) -> Iterator[ShockBatch]:
    """Run one DebtRank per ``shocks`` entry (that node alone distressed), in batches.

    Each batch holds at most ``batch_cells`` (nodes x runs) cells (9 bytes each); each round
    touches only the distressed entries, so a batch costs the edges its shocks reach. Nodes
    with no outgoing impact are run too (their ``h`` is just the shock).

    Examples
    --------
    >>> ex = pd.DataFrame({"creditor": ["a"], "debtor": ["b"], "amount": [5.0]})
    >>> b = next(single_shock_runs(ex, {"a": 10, "b": 10}, {"a": 1, "b": 1}, {"b": 1.0}))
    >>> b.h[:, 0].tolist(), b.R.tolist()
    ([0.5, 1.0], [0.25])
    """
    nodes = _node_index(exposures, equity, value, shocks)
    n = len(nodes)
    w_t = impact_matrix(exposures, equity, nodes).T.tocsr()
    v = _relative_value(value, nodes)
    ids = list(shocks)
    src_idx = nodes.get_indexer(ids)
    psi = np.array([float(shocks[k]) for k in ids])
    width = max(1, batch_cells // max(n, 1))
    for start in range(0, len(ids), width):
        sl = slice(start, start + width)
        h = _batch_run(w_t, src_idx[sl], psi[sl])
        yield ShockBatch(nodes, ids[sl], psi[sl], h, v)


def debtrank_by_node(
    exposures: pd.DataFrame,
    equity: Mapping[str, float] | pd.Series,
    value: Mapping[str, float] | pd.Series,
    sources: Iterable[str] | None = None,
    *,
    shock: float = 1.0,
    batch_cells: int = 20_000_000,
) -> pd.Series:
    """DebtRank ``R_i`` of each single-node shock ``h_i(1) = shock`` (the paper's node ranking).

    Parameters
    ----------
    exposures, equity, value
        As in :func:`debtrank`.
    sources : iterable of str, optional
        Nodes to shock one at a time (default: every node).
    shock : float
        Initial distress of the shocked node.
    batch_cells : int
        Memory bound for one batch (see :func:`single_shock_runs`).

    Returns
    -------
    pandas.Series
        ``R_i`` indexed by source node.

    Examples
    --------
    >>> ex = pd.DataFrame({"creditor": ["a", "b"], "debtor": ["b", "c"], "amount": [5.0, 5.0]})
    >>> debtrank_by_node(ex, {"a": 10, "b": 10, "c": 10}, {"a": 1, "b": 1, "c": 1}).round(4).tolist()
    [0.0, 0.1667, 0.25]
    """
    ids = (
        list(_node_index(exposures, equity, value))
        if sources is None
        else list(dict.fromkeys(sources))
    )
    nodes = _node_index(exposures, equity, value, dict.fromkeys(ids, shock))
    w = impact_matrix(exposures, equity, nodes)
    has_impact = np.diff(w.indptr)[nodes.get_indexer(ids)] > 0
    out = pd.Series(0.0, index=pd.Index(ids), name="debtrank")
    active = [k for k, on in zip(ids, has_impact, strict=True) if on]
    for batch in single_shock_runs(
        exposures, equity, value, dict.fromkeys(active, shock), batch_cells=batch_cells
    ):
        out[batch.sources] = batch.R
    return out


def _batch_run(w_t: sp.csr_matrix, sources: np.ndarray, shocks: np.ndarray) -> np.ndarray:
    n, k = w_t.shape[0], len(sources)
    h = np.zeros((n, k))
    state = np.zeros((n, k), dtype=np.int8)
    cols = np.arange(k)
    h[sources, cols] = shocks
    live = shocks > 0
    rows_d, cols_d = sources[live], cols[live]
    state[rows_d, cols_d] = _D
    while len(rows_d):
        x = sp.csc_matrix((h[rows_d, cols_d], (rows_d, cols_d)), shape=(n, k))
        delta = (w_t @ x).tocoo()
        state[rows_d, cols_d] = _I
        r, c = delta.row, delta.col
        h[r, c] = np.minimum(1.0, h[r, c] + delta.data)
        fresh = (state[r, c] == _U) & (h[r, c] > 0)
        rows_d, cols_d = r[fresh], c[fresh]
        state[rows_d, cols_d] = _D
    return h
