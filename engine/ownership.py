"""Ownership and control: integrated cash-flow rights, control rights, ultimate controllers.

Definitions
-----------
Let ``A[i, j]`` be the fraction of company ``j`` held directly by ``i`` (several rows for one
pair are added up; a company's holding of itself -- treasury shares -- is dropped; a company
whose registered holdings add up to more than 100 % is scaled down to 100 %).

**Cash-flow rights** are the *integrated ownership* of Vitali, Glattfelder & Battiston (2011,
"The network of global corporate control", PLoS ONE 6(10):e25995, SI eq. for
``Ã = (I - A)^-1 A``), the same quantity as Brioschi, Buzzacchi & Colombo's (1989) integrated
ownership: the sum over every directed walk from holder to company of the product of the
shares along it, ``Ã = A + A² + A³ + ...``. With cross-holdings the walks revisit the cycle
and the series converges to ``(I - A)^-1 A`` (solved exactly, not summed). Its normalisation:

* for an **ultimate owner** (a holder nobody holds: a person, a government unit, an
  unregistered outside holder), ``Ã`` is its final claim on the company's cash flows after the
  cross-held shares are passed on through the cycle, so the ultimate owners' cash-flow rights
  in a company whose holdings add up to 100 % sum to exactly 100 % (tested);
* for an **intermediate company** ``i`` inside a cycle, ``Ã[i, j]`` also counts walks that
  pass through ``i`` again (its indirect stake in itself compounds its stake in ``j``), as in
  Vitali et al.; the diagonal ``Ã[i, i]`` (a company's indirect stake in itself) is not
  reported. A set of companies held *entirely* by one another, with no outside holder, has no
  finite integrated ownership; their internal shares are scaled by ``1 - 1e-6`` to keep the
  system solvable (documented limitation: such a closed group is a data error or a shell).

The system is solved per strongly connected component of the ownership graph in reverse
topological order (each level one sparse product; each cross-holding component one sparse LU
solve), so it is exact and scales with the number of (holder, company) pairs.

**Control rights** follow La Porta, Lopez-de-Silanes & Shleifer (1999, "Corporate Ownership
Around the World", J. Finance 54(2)) and Claessens, Djankov & Lang (2000, "The separation of
ownership and control in East Asian corporations", J. Fin. Econ. 58): the control a holder has
over a company along one chain is its *weakest link*, and control over several chains is
summed. Chains are **simple paths** (no company twice, so cycles never loop) of at most
``max_chain_length`` links (default 10); longer chains are not counted. Links use the voting
percentage where the holdings give one (``voting_pct``), else the share percentage. The sum is
capped at 100 %.

**Ultimate controllers** (configurable test, default as in La Porta et al.'s 50 % / Claessens
et al.'s control threshold): a holder *controls* a company if its control share is
``> majority_pct`` (50 %); if no holder passes, the largest holder controls if its control share
is ``>= plurality_pct`` (25 %). A controller that is itself controlled is replaced by its own
ultimate controller, up the chain, so the result is the top of the control chain.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from engine.cycles import strong_components

__all__ = ["OwnershipGraph", "control_shares", "ultimate_controllers"]

_CLOSED_GROUP_SCALE = 1.0 - 1e-6
_EPS = 1e-12


def _clean_holdings(holdings: pd.DataFrame) -> pd.DataFrame:
    cols = ["holder_id", "company_id", "share_pct"]
    h = holdings.reindex(columns=[*cols, "voting_pct"]).copy()
    h = h.dropna(subset=cols)
    h["share_pct"] = pd.to_numeric(h["share_pct"], errors="coerce")
    h["voting_pct"] = pd.to_numeric(h["voting_pct"], errors="coerce").fillna(h["share_pct"])
    h = h[(h["share_pct"] > 0) & (h["holder_id"] != h["company_id"])]
    h = h.astype({"holder_id": str, "company_id": str})
    g = h.groupby(["holder_id", "company_id"], as_index=False, sort=True)[
        ["share_pct", "voting_pct"]
    ].sum()
    for col in ("share_pct", "voting_pct"):
        total = g.groupby("company_id")[col].transform("sum")
        g[col] = np.where(total > 100.0, g[col] * 100.0 / total, g[col])
    return g


def _levels(n_comp: int, comp_src: np.ndarray, comp_dst: np.ndarray) -> np.ndarray:
    """Longest distance to a sink in the condensation DAG (sinks are level 0)."""
    outdeg = np.bincount(comp_src, minlength=n_comp)
    rev = sp.csr_matrix(
        (np.ones(len(comp_src), dtype=np.int64), (comp_dst, comp_src)), shape=(n_comp, n_comp)
    )
    level = np.full(n_comp, -1, dtype=np.int64)
    frontier = np.flatnonzero(outdeg == 0)
    depth = 0
    while len(frontier):
        level[frontier] = depth
        sub = rev[frontier]
        preds = sub.indices
        np.subtract.at(outdeg, preds, sub.data)
        cand = np.unique(preds)
        frontier = cand[outdeg[cand] == 0]
        depth += 1
    return level


def _integrated_ownership(
    n: int, src: np.ndarray, dst: np.ndarray, frac: np.ndarray
) -> sp.csr_matrix:
    """``(I - A)^-1 A`` for ``A[src, dst] = frac``, solved component by component."""
    a = sp.csr_matrix((frac, (src, dst)), shape=(n, n))
    labels = strong_components(n, src, dst)
    n_comp = int(labels.max()) + 1 if n else 0
    cs, cd = labels[src], labels[dst]
    between = cs != cd
    pairs = np.unique(np.stack([cs[between], cd[between]], axis=1), axis=0)
    level = _levels(n_comp, pairs[:, 0], pairs[:, 1])
    node_level = level[labels]
    comp_size = np.bincount(labels, minlength=n_comp)
    result = sp.csr_matrix((n, n))
    for lvl in range(int(level.max()) + 1 if n else 0):
        rows = np.flatnonzero(node_level == lvl)
        a_rows = a[rows]
        if a_rows.nnz == 0:
            continue
        block = (a_rows + a_rows @ result).tocsr()
        cyclic = rows[comp_size[labels[rows]] > 1]
        if len(cyclic):
            block = _solve_cycles(a, rows, cyclic, labels, block)
        embed = sp.csr_matrix(
            (np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(n, len(rows))
        )
        result = (result + embed @ block).tocsr()
    result.data[result.data < _EPS] = 0.0
    result.eliminate_zeros()
    return result


def _solve_cycles(
    a: sp.csr_matrix, rows: np.ndarray, cyclic: np.ndarray, labels: np.ndarray, block: sp.csr_matrix
) -> sp.csr_matrix:
    """Replace the rows of cross-holding components by ``(I - A_SS)^-1`` times their right side."""
    position = {int(r): i for i, r in enumerate(rows)}
    block = block.tolil()
    for comp in np.unique(labels[cyclic]):
        members = cyclic[labels[cyclic] == comp]
        local = [position[int(m)] for m in members]
        inner = a[members][:, members].tocsc()
        col_sums = np.asarray(inner.sum(axis=0)).ravel()
        if col_sums.max() >= 1.0:
            inner = inner * _CLOSED_GROUP_SCALE
        rhs = block[local].tocsr()
        cols = np.unique(rhs.indices)
        dense = rhs[:, cols].toarray()
        lu = splu((sp.identity(len(members), format="csc") - inner).tocsc())
        solved = lu.solve(dense)
        solved[np.abs(solved) < _EPS] = 0.0
        for k, row in enumerate(local):
            block[row] = sp.csr_matrix(
                (solved[k], (np.zeros(len(cols), int), cols)), shape=(1, block.shape[1])
            )
    return block.tocsr()


@dataclass
class _Chains:
    """Control chains: per (holder, company) key, summed weakest links and the best chain."""

    keys: np.ndarray  # holder * n + company, sorted
    control: np.ndarray  # summed weakest links (fraction)
    best_weak: np.ndarray
    best_step: np.ndarray
    best_row: np.ndarray
    step_paths: list[np.ndarray] = field(default_factory=list)
    truncated: bool = False

    def path(self, key: int) -> list[int] | None:
        i = np.searchsorted(self.keys, key)
        if i >= len(self.keys) or self.keys[i] != key:
            return None
        return self.step_paths[self.best_step[i]][self.best_row[i]].tolist()


def _control_chains(
    n: int, src: np.ndarray, dst: np.ndarray, vote: np.ndarray, max_len: int, max_paths: int
) -> _Chains:
    order = np.lexsort((dst, src))
    src, dst, vote = src[order], dst[order], vote[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    paths = np.stack([src, dst], axis=1)
    weak = vote.copy()
    per_step: list[pd.DataFrame] = []
    step_paths: list[np.ndarray] = []
    truncated = False
    for step in range(max_len):
        if not len(paths):
            break
        key = paths[:, 0] * n + paths[:, -1]
        srt = np.lexsort((-weak, key))
        key_s = key[srt]
        first = np.ones(len(key_s), dtype=bool)
        first[1:] = key_s[1:] != key_s[:-1]
        uniq = key_s[first]
        sums = np.add.reduceat(weak[srt], np.flatnonzero(first))
        best_rows = srt[first]
        step_paths.append(paths[best_rows])
        per_step.append(
            pd.DataFrame(
                {
                    "key": uniq,
                    "control": sums,
                    "best_weak": weak[best_rows],
                    "best_step": step,
                    "best_row": np.arange(len(uniq)),
                }
            )
        )
        if step + 1 == max_len:
            break
        last = paths[:, -1]
        deg = indptr[last + 1] - indptr[last]
        total = int(deg.sum())
        if total > max_paths:
            truncated = True
            break
        rep = np.repeat(np.arange(len(paths)), deg)
        offset = np.arange(total) - np.repeat(np.cumsum(deg) - deg, deg)
        pos = indptr[last][rep] + offset
        nxt = dst[pos]
        base = paths[rep]
        simple = ~(base == nxt[:, None]).any(axis=1)
        paths = np.concatenate([base[simple], nxt[simple][:, None]], axis=1)
        weak = np.minimum(weak[rep][simple], vote[pos][simple])
    if not per_step:
        empty = np.zeros(0, dtype=np.int64)
        return _Chains(empty, np.zeros(0), np.zeros(0), empty, empty, [], truncated)
    allsteps = pd.concat(per_step, ignore_index=True)
    allsteps = allsteps.sort_values(
        ["key", "best_weak", "best_step"], ascending=[True, False, True]
    )
    total_control = allsteps.groupby("key", sort=True)["control"].sum()
    best = allsteps.drop_duplicates("key", keep="first").set_index("key").loc[total_control.index]
    return _Chains(
        keys=total_control.index.to_numpy(dtype=np.int64),
        control=np.minimum(1.0, total_control.to_numpy()),
        best_weak=best["best_weak"].to_numpy(),
        best_step=best["best_step"].to_numpy(dtype=np.int64),
        best_row=best["best_row"].to_numpy(dtype=np.int64),
        step_paths=step_paths,
        truncated=truncated,
    )


class OwnershipGraph:
    """Cash-flow and control rights of every (holder, company) pair; see the module docstring.

    Parameters
    ----------
    holdings : DataFrame
        ``holder_id, company_id, share_pct`` (pct in (0, 100]); optional ``voting_pct``.
    max_chain_length : int
        Longest control chain counted, in links.
    max_paths : int
        If one more link would create more chains than this, the chain search stops at the
        current length and ``chains_truncated`` is set (the cash-flow rights are unaffected).

    Examples
    --------
    >>> h = pd.DataFrame({"holder_id": ["G", "A"], "company_id": ["A", "B"], "share_pct": [60, 40]})
    >>> og = OwnershipGraph(h)
    >>> row = og.shares.set_index(["holder_id", "company_id"]).loc[("G", "B")]
    >>> round(float(row.cash_flow_pct), 2), float(row.control_pct)
    (24.0, 40.0)
    >>> og.chain("G", "B")
    (['G', 'A', 'B'], [60.0, 40.0])
    """

    def __init__(
        self, holdings: pd.DataFrame, max_chain_length: int = 10, max_paths: int = 20_000_000
    ) -> None:
        clean = _clean_holdings(holdings)
        self.holdings = clean
        self.max_chain_length = max_chain_length
        self.nodes = pd.Index(
            sorted(set(clean["holder_id"].tolist()) | set(clean["company_id"].tolist())),
            dtype=object,
        )
        n = len(self.nodes)
        self._n = n
        src = self.nodes.get_indexer(clean["holder_id"]).astype(np.int64)
        dst = self.nodes.get_indexer(clean["company_id"]).astype(np.int64)
        self._links = dict(
            zip(
                zip(src.tolist(), dst.tolist(), strict=True),
                clean["voting_pct"].tolist(),
                strict=True,
            )
        )
        cash = _integrated_ownership(n, src, dst, clean["share_pct"].to_numpy() / 100.0).tocoo()
        off = cash.row != cash.col
        cash_keys = cash.row[off].astype(np.int64) * n + cash.col[off]
        self._chains = _control_chains(
            n, src, dst, clean["voting_pct"].to_numpy() / 100.0, max_chain_length, max_paths
        )
        keys = np.union1d(cash_keys, self._chains.keys)
        cash_pct = np.zeros(len(keys))
        cash_pct[np.searchsorted(keys, cash_keys)] = cash.data[off] * 100.0
        control_pct = np.zeros(len(keys))
        control_pct[np.searchsorted(keys, self._chains.keys)] = self._chains.control * 100.0
        names = self.nodes.to_numpy(dtype=object)
        self.shares = pd.DataFrame(
            {
                "holder_id": names[keys // max(n, 1)],
                "company_id": names[keys % max(n, 1)],
                "cash_flow_pct": cash_pct,
                "control_pct": control_pct,
            }
        )
        self.shares.attrs["max_chain_length"] = max_chain_length
        self.shares.attrs["chains_truncated"] = self._chains.truncated

    @property
    def chains_truncated(self) -> bool:
        return self._chains.truncated

    def chain(self, holder: str, company: str) -> tuple[list[str], list[float]] | None:
        """The chain with the strongest weakest link from ``holder`` to ``company`` (ids, link %)."""
        i, j = self.nodes.get_indexer([holder, company])
        if i < 0 or j < 0:
            return None
        path = self._chains.path(int(i) * self._n + int(j))
        if path is None:
            return None
        links = [float(self._links[(a, b)]) for a, b in itertools.pairwise(path)]
        return [str(self.nodes[k]) for k in path], links

    def controllers(
        self, gov_ids: Iterable[str] = (), majority_pct: float = 50.0, plurality_pct: float = 25.0
    ) -> pd.DataFrame:
        """Ultimate controller(s) of every company; see :func:`ultimate_controllers`."""
        gov = set(gov_ids)
        s = self.shares[self.shares["control_pct"] > 0]
        top = s.groupby("company_id")["control_pct"].transform("max")
        majority = s["control_pct"] > majority_pct
        has_majority = majority.groupby(s["company_id"]).transform("any")
        plurality = (
            ~has_majority & (s["control_pct"] >= plurality_pct) & (s["control_pct"] >= top - 1e-9)
        )
        picked = s[majority | plurality].assign(
            test=np.where(majority[majority | plurality], "majority", "plurality")
        )
        immediate: dict[str, list[str]] = {}
        test_of: dict[str, str] = {}
        for company, holder, test in zip(
            picked["company_id"].tolist(),
            picked["holder_id"].tolist(),
            picked["test"].tolist(),
            strict=True,
        ):
            immediate.setdefault(company, []).append(holder)
            test_of[company] = test

        resolved: dict[str, tuple[str, ...]] = {}

        def resolve(company: str, seen: frozenset[str]) -> tuple[str, ...]:
            if company in resolved:
                return resolved[company]
            out: list[str] = []
            for holder in immediate[company]:
                if holder in immediate and holder not in seen:
                    out.extend(resolve(holder, seen | {holder}))
                else:
                    out.append(holder)
            result = tuple(dict.fromkeys(u for u in out if u != company)) or tuple(
                immediate[company]
            )
            resolved[company] = result
            return result

        pairs = [(c, u) for c in sorted(immediate) for u in resolve(c, frozenset([c]))]
        out = pd.DataFrame(pairs, columns=["company_id", "controller_id"])
        out["test"] = out["company_id"].map(test_of)
        out = out.merge(
            self.shares.rename(columns={"holder_id": "controller_id"}),
            on=["controller_id", "company_id"],
            how="left",
        )
        chains = self._chains_for(out["controller_id"], out["company_id"])
        stitched = [
            found if found is not None else self._stitched_chain(u, c, immediate)
            for found, u, c in zip(
                chains, out["controller_id"].tolist(), out["company_id"].tolist(), strict=True
            )
        ]
        out["chain"] = [c[0] for c in stitched]
        out["chain_pcts"] = [c[1] for c in stitched]
        out["gov_linked"] = out["controller_id"].isin(gov)
        return out[
            [
                "company_id",
                "controller_id",
                "test",
                "control_pct",
                "cash_flow_pct",
                "chain",
                "chain_pcts",
                "gov_linked",
            ]
        ]

    def _chains_for(
        self, holders: pd.Series, companies: pd.Series
    ) -> list[tuple[list[str], list[float]] | None]:
        """Best chains for many pairs at once (None where no chain within the cap)."""
        i = self.nodes.get_indexer(holders)
        j = self.nodes.get_indexer(companies)
        keys = i.astype(np.int64) * self._n + j
        ch = self._chains
        pos = np.minimum(np.searchsorted(ch.keys, keys), max(len(ch.keys) - 1, 0))
        hit = (i >= 0) & (j >= 0) & (len(ch.keys) > 0)
        if len(ch.keys):
            hit &= ch.keys[pos] == keys
        names = self.nodes.to_numpy(dtype=object)
        out: list[tuple[list[str], list[float]] | None] = []
        for ok, p in zip(hit.tolist(), pos.tolist(), strict=True):
            if not ok:
                out.append(None)
                continue
            path = ch.step_paths[ch.best_step[p]][ch.best_row[p]].tolist()
            links = [float(self._links[(a, b)]) for a, b in itertools.pairwise(path)]
            out.append(([str(names[k]) for k in path], links))
        return out

    def _stitched_chain(
        self, ctrl: str, company: str, immediate: dict[str, list[str]]
    ) -> tuple[list[str], list[float]]:
        """Chain through the immediate controllers when the direct pair is beyond the cap."""
        chain, links = [company], []
        current = company
        while current != ctrl and current in immediate and len(chain) <= 10 * self.max_chain_length:
            holder = immediate[current][0]
            part = self.chain(holder, current)
            if part is None:
                break
            chain = part[0][:-1] + chain
            links = part[1] + links
            current = holder
        return chain, links


def control_shares(holdings: pd.DataFrame, max_chain_length: int = 10) -> pd.DataFrame:
    """Cash-flow and control rights of every (holder, company) pair connected by ownership.

    Parameters
    ----------
    holdings : DataFrame
        ``holder_id, company_id, share_pct`` (pct in (0, 100]); optional ``voting_pct``.
    max_chain_length : int
        Longest control chain counted (links).

    Returns
    -------
    DataFrame
        ``holder_id, company_id, cash_flow_pct, control_pct``: integrated ownership
        ``(I - A)^-1 A`` in percent, and the sum over simple chains of their weakest link,
        capped at 100 %. See the module docstring for the exact definitions.

    Examples
    --------
    Claessens, Djankov & Lang's (2000) example: a family owns 11 % of firm A, which owns 21 %
    of firm B; the family has about 2 % of B's cash flows but controls 11 % of it:

    >>> h = pd.DataFrame({"holder_id": ["F", "A"], "company_id": ["A", "B"], "share_pct": [11, 21]})
    >>> r = control_shares(h).set_index(["holder_id", "company_id"]).loc[("F", "B")]
    >>> round(float(r.cash_flow_pct), 2), float(r.control_pct)
    (2.31, 11.0)
    """
    return OwnershipGraph(holdings, max_chain_length=max_chain_length).shares


def ultimate_controllers(
    holdings: pd.DataFrame,
    gov_ids: Iterable[str] = (),
    majority_pct: float = 50.0,
    plurality_pct: float = 25.0,
    max_chain_length: int = 10,
    graph: OwnershipGraph | None = None,
) -> pd.DataFrame:
    """Ultimate controller(s) of every company, with the control chain as evidence.

    Parameters
    ----------
    holdings : DataFrame
        As for :func:`control_shares` (ignored when ``graph`` is given).
    gov_ids : iterable of str
        Ids of government units; a company is ``gov_linked`` if an ultimate controller is one.
    majority_pct, plurality_pct : float
        Control test: control share ``> majority_pct``; if nobody passes, the largest holder
        if its control share ``>= plurality_pct``.
    max_chain_length : int
        Longest control chain counted.
    graph : OwnershipGraph, optional
        A precomputed graph to reuse.

    Returns
    -------
    DataFrame
        One row per (company, ultimate controller): ``company_id, controller_id, test``
        (majority/plurality), ``control_pct, cash_flow_pct`` (controller over company),
        ``chain`` (ids from controller to company), ``chain_pcts`` (link percentages) and
        ``gov_linked``. Companies nobody controls have no row.

    Examples
    --------
    >>> h = pd.DataFrame({"holder_id": ["G", "A", "P"], "company_id": ["A", "B", "B"],
    ...                   "share_pct": [60, 40, 30]})
    >>> r = ultimate_controllers(h, gov_ids={"G"})
    >>> r[r.company_id == "B"][["controller_id", "test", "gov_linked"]].to_dict("records")
    [{'controller_id': 'G', 'test': 'plurality', 'gov_linked': True}]
    """
    og = graph or OwnershipGraph(holdings, max_chain_length=max_chain_length)
    return og.controllers(gov_ids, majority_pct=majority_pct, plurality_pct=plurality_pct)
