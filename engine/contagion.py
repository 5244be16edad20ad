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

Two implementations of the same dynamics:

* :func:`debtrank` -- one run, the straightforward form: a dense distress vector over all
  nodes, one sparse matrix-vector product per round. It is the reference the fast path is
  tested against.
* :meth:`ExposureNetwork.single_shock_runs` (and :func:`single_shock_runs`,
  :func:`debtrank_by_node`) -- many single-node shocks side by side. A run can only ever
  distress nodes reachable from its source along positive impacts, so each batch of runs is
  restricted to the *reachable closure* of its sources (a breadth-first search on the sparse
  impact matrix); the batch's distress lives in a dense ``runs x closure`` block and each round
  is one sparse product ``X @ W`` of the distressed entries (runs x closure, CSR) with the
  closure's impact matrix, whose cost is the out-edges of the nodes distressed in that round.
  Sources are grouped by the weakly connected component of the propagating part of the network
  so that the runs of one batch share most of their closure, and a batch is sized so that
  ``runs x closure`` stays under ``batch_cells``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from engine.node_index import encode_nodes

__all__ = [
    "DebtRankResult",
    "ExposureNetwork",
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


def _node_index(exposures: pd.DataFrame, *more: Mapping[str, float] | pd.Series) -> pd.Index:
    """Sorted ids of every creditor, debtor and key of ``more``."""
    keys = [m.index if isinstance(m, pd.Series) else m for m in more]
    return encode_nodes(exposures["creditor"], exposures["debtor"], *keys)[0]


def _impact(
    n: int, debtor: np.ndarray, creditor: np.ndarray, amount: np.ndarray, equity: np.ndarray
) -> sp.csr_matrix:
    """``W[i, j] = min(1, A_ij / E_j)`` from exposure rows given as node positions."""
    keep = (debtor != creditor) & (amount > 0) & (debtor >= 0) & (creditor >= 0)
    a = sp.coo_matrix((amount[keep], (debtor[keep], creditor[keep])), shape=(n, n)).tocsr()
    a.sum_duplicates()
    ej = equity[a.indices]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(np.isfinite(ej) & (ej > 0), a.data / ej, 1.0)
    a.data = np.minimum(1.0, w)
    return a


def _amounts(exposures: pd.DataFrame) -> np.ndarray:
    return pd.to_numeric(exposures["amount"], errors="coerce").to_numpy(dtype=float)


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
    i = nodes.get_indexer(exposures["debtor"].to_numpy(dtype=object))
    j = nodes.get_indexer(exposures["creditor"].to_numpy(dtype=object))
    e = pd.Series(equity, dtype=float).reindex(nodes).to_numpy()
    return _impact(len(nodes), i, j, _amounts(exposures), e)


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
    """Single-node shocks run side by side.

    Run ``c`` shocked ``sources[c]`` alone with ``shocks[c]``. Every run of the batch can only
    reach the nodes in ``reached`` (positions in ``nodes``, sorted; the reachable closure of the
    batch's sources); ``h[r, c]`` is the final distress ``h(T)`` of node ``nodes[reached[r]]``
    in run ``c``, and every other node's final distress is 0.
    """

    nodes: pd.Index
    sources: list[str]
    shocks: np.ndarray
    reached: np.ndarray
    h: np.ndarray
    value: np.ndarray

    @property
    def R(self) -> np.ndarray:
        """DebtRank of each column's shock: ``sum_j h_j(T) v_j - shock * v_source``."""
        idx = self.nodes.get_indexer(self.sources)
        return self.value[self.reached] @ self.h - self.shocks * self.value[idx]

    def distress(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``nodes`` and final distress of the nodes run ``column`` distressed."""
        h = self.h[:, column]
        hit = np.flatnonzero(h > 0)
        return self.reached[hit], h[hit]


def _closure(w: sp.csr_matrix, seeds: np.ndarray) -> np.ndarray:
    """Sorted positions of every node reachable from ``seeds`` along ``W > 0`` (seeds included)."""
    seen = np.zeros(w.shape[0], dtype=bool)
    seen[seeds] = True
    frontier = np.unique(seeds)
    indptr, indices = w.indptr, w.indices
    while len(frontier):
        starts, ends = indptr[frontier], indptr[frontier + 1]
        counts = ends - starts
        total = int(counts.sum())
        if not total:
            break
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        nxt = indices[offsets]
        nxt = np.unique(nxt[~seen[nxt]])
        seen[nxt] = True
        frontier = nxt
    return np.flatnonzero(seen)


class ExposureNetwork:
    """A credit network ready for many DebtRank runs (nodes, impact matrix, relative values).

    Parameters
    ----------
    exposures, equity, value
        As in :func:`debtrank`.
    extra_nodes : iterable of str
        Ids to include even if no exposure names them (e.g. shocked nodes).

    Examples
    --------
    >>> ex = pd.DataFrame({"creditor": ["a", "b"], "debtor": ["b", "c"], "amount": [5.0, 5.0]})
    >>> net = ExposureNetwork(ex, {"a": 10, "b": 10, "c": 10}, {"a": 1, "b": 1, "c": 1})
    >>> [dict(zip(b.sources, b.R.round(4).tolist())) for b in net.single_shock_runs({"c": 1.0})]
    [{'c': 0.25}]
    """

    def __init__(
        self,
        exposures: pd.DataFrame,
        equity: Mapping[str, float] | pd.Series,
        value: Mapping[str, float] | pd.Series,
        extra_nodes: Iterable[str] = (),
    ) -> None:
        equity = pd.Series(equity, dtype=float)
        value = pd.Series(value, dtype=float)
        self.nodes, (creditor, debtor, eq_at, val_at, _) = encode_nodes(
            exposures["creditor"], exposures["debtor"], equity.index, value.index, extra_nodes
        )
        n = len(self.nodes)
        e = np.full(n, np.nan)
        e[eq_at] = equity.to_numpy()
        self.w = _impact(n, debtor, creditor, _amounts(exposures), e)
        v = np.zeros(n)
        v[val_at] = np.nan_to_num(value.to_numpy(), nan=0.0).clip(min=0.0)
        self.v = v / v.sum() if v.sum() > 0 else v
        self._groups: np.ndarray | None = None

    def first_round_impact(self) -> np.ndarray:
        """``sum_j W_ij v_j`` per node: the value its default distresses in the first round (a
        lower bound of its DebtRank, since ``h_j`` never falls below its first-round value)."""
        return self.w @ self.v

    def _locality(self) -> np.ndarray:
        """Weakly connected component of each node in the propagating network (edges into nodes
        that themselves impact someone): runs from one component share their closure."""
        if self._groups is None:
            w = self.w.tocoo()
            onward = np.diff(self.w.indptr) > 0
            keep = onward[w.col]
            n = self.w.shape[0]
            g = sp.coo_matrix(
                (np.ones(int(keep.sum()), np.int8), (w.row[keep], w.col[keep])), (n, n)
            )
            self._groups = connected_components(g, directed=True, connection="weak")[1]
        return self._groups

    def single_shock_runs(
        self, shocks: Mapping[str, float], *, batch_cells: int = 4_000_000
    ) -> Iterator[ShockBatch]:
        """One DebtRank run per ``shocks`` entry (that node alone distressed), in batches.

        Batches hold at most ``batch_cells`` (runs x reachable nodes) cells of state (9 bytes
        each) unless one run alone reaches more. The order of the sources across batches
        follows the network's components, not the order of ``shocks``.
        """
        ids = list(shocks)
        if not ids:
            return
        src = self.nodes.get_indexer(ids)
        if (src < 0).any():
            missing = [k for k, i in zip(ids, src, strict=True) if i < 0][:5]
            raise KeyError(f"shocked nodes not in the network: {missing}")
        psi = np.clip(np.array([float(shocks[k]) for k in ids]), 0.0, 1.0)
        order = np.lexsort((src, self._locality()[src]))
        start, width = 0, max(1, batch_cells // max(len(self.nodes), 1))
        while start < len(order):
            k = min(width, len(order) - start)
            while True:
                picked = order[start : start + k]
                reached = _closure(self.w, src[picked])
                if k == 1 or len(reached) * k <= batch_cells:
                    break
                k = max(1, min(k // 2, batch_cells // len(reached)))
            h = _run_batch(self.w, reached, src[picked], psi[picked])
            yield ShockBatch(self.nodes, [ids[i] for i in picked], psi[picked], reached, h, self.v)
            start += k
            width = max(k, min(2 * k, batch_cells // max(len(reached), 1)))

    def debtrank_by_node(
        self, sources: Iterable[str], *, shock: float = 1.0, batch_cells: int = 4_000_000
    ) -> pd.Series:
        """DebtRank ``R_i`` of each single-node shock ``h_i(1) = shock``, indexed by source."""
        ids = list(dict.fromkeys(sources))
        out = pd.Series(0.0, index=pd.Index(ids, dtype=object), name="debtrank")
        idx = self.nodes.get_indexer(ids)
        has_impact = np.zeros(len(ids), dtype=bool)
        known = idx >= 0
        has_impact[known] = np.diff(self.w.indptr)[idx[known]] > 0
        active = [k for k, on in zip(ids, has_impact.tolist(), strict=True) if on]
        for batch in self.single_shock_runs(dict.fromkeys(active, shock), batch_cells=batch_cells):
            out[batch.sources] = batch.R
        return out


def _run_batch(
    w: sp.csr_matrix, reached: np.ndarray, sources: np.ndarray, shocks: np.ndarray
) -> np.ndarray:
    """Final distress (``len(reached) x runs``) of single-node runs confined to ``reached``."""
    sub = w[reached][:, reached].tocsr()
    k, m = len(sources), len(reached)
    h = np.zeros((k, m))
    state = np.zeros((k, m), dtype=np.int8)
    runs = np.arange(k)
    local = np.searchsorted(reached, sources)
    h[runs, local] = shocks
    live = shocks > 0
    run_d, node_d = runs[live], local[live]
    state[run_d, node_d] = _D
    while len(run_d):
        # row r of x holds the distress h_i(t-1) of run r's D nodes; x @ W is every run's delta
        x = sp.csr_matrix((h[run_d, node_d], (run_d, node_d)), shape=(k, m))
        delta = (x @ sub).tocoo()
        state[run_d, node_d] = _I
        r, c = delta.row, delta.col
        h[r, c] = np.minimum(1.0, h[r, c] + delta.data)
        fresh = (state[r, c] == _U) & (h[r, c] > 0)
        run_d, node_d = r[fresh], c[fresh]
        state[run_d, node_d] = _D
    return h.T


def single_shock_runs(
    exposures: pd.DataFrame,
    equity: Mapping[str, float] | pd.Series,
    value: Mapping[str, float] | pd.Series,
    shocks: Mapping[str, float],
    *,
    batch_cells: int = 4_000_000,
) -> Iterator[ShockBatch]:
    """Run one DebtRank per ``shocks`` entry (that node alone distressed), in batches.

    See :meth:`ExposureNetwork.single_shock_runs`; nodes with no outgoing impact are run too
    (their ``h`` is just the shock).

    Examples
    --------
    >>> ex = pd.DataFrame({"creditor": ["a"], "debtor": ["b"], "amount": [5.0]})
    >>> b = next(single_shock_runs(ex, {"a": 10, "b": 10}, {"a": 1, "b": 1}, {"b": 1.0}))
    >>> b.nodes[b.reached].tolist(), b.h[:, 0].tolist(), b.R.tolist()
    (['a', 'b'], [0.5, 1.0], [0.25])
    """
    network = ExposureNetwork(exposures, equity, value, extra_nodes=shocks)
    yield from network.single_shock_runs(shocks, batch_cells=batch_cells)


def debtrank_by_node(
    exposures: pd.DataFrame,
    equity: Mapping[str, float] | pd.Series,
    value: Mapping[str, float] | pd.Series,
    sources: Iterable[str] | None = None,
    *,
    shock: float = 1.0,
    batch_cells: int = 4_000_000,
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
        Memory bound for one batch (see :meth:`ExposureNetwork.single_shock_runs`).

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
    ids = None if sources is None else list(dict.fromkeys(sources))
    network = ExposureNetwork(exposures, equity, value, extra_nodes=ids or ())
    wanted = network.nodes if ids is None else ids
    return network.debtrank_by_node(wanted, shock=shock, batch_cells=batch_cells)
