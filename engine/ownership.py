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

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from engine.cycles import strong_components
from engine.node_index import encode_nodes

__all__ = ["OwnershipControl", "OwnershipGraph", "control_shares", "ultimate_controllers"]

_CLOSED_GROUP_SCALE = 1.0 - 1e-6
_EPS = 1e-12


@dataclass(frozen=True)
class _Links:
    """Cleaned direct holdings as node positions, one per (holder, company), sorted by both."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    share: np.ndarray
    vote: np.ndarray

    @property
    def keys(self) -> np.ndarray:
        return self.src * self.n + self.dst

    def vote_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Voting % of the direct links ``a -> b`` (every pair must be a link)."""
        return self.vote[np.searchsorted(self.keys, a * self.n + b)]


def _clean_holdings(holdings: pd.DataFrame) -> tuple[pd.Index, _Links]:
    cols = ["holder_id", "company_id", "share_pct"]
    h = holdings.reindex(columns=[*cols, "voting_pct"]).dropna(subset=cols)
    share = pd.to_numeric(h["share_pct"], errors="coerce").to_numpy(dtype=float)
    vote = pd.to_numeric(h["voting_pct"], errors="coerce").to_numpy(dtype=float)
    vote = np.where(np.isnan(vote), share, vote)
    holder, company = h["holder_id"].astype(str), h["company_id"].astype(str)
    keep = (share > 0) & (holder != company).to_numpy(dtype=bool)
    nodes, (src, dst) = encode_nodes(holder[keep], company[keep])
    n = len(nodes)
    keys, inverse = np.unique(src * n + dst, return_inverse=True)
    share = np.bincount(inverse, share[keep], minlength=len(keys))
    vote = np.bincount(inverse, vote[keep], minlength=len(keys))
    src, dst = keys // max(n, 1), keys % max(n, 1)
    for col in (share, vote):
        total = np.bincount(dst, col, minlength=n)[dst]
        col[:] = np.where(total > 100.0, col * 100.0 / np.where(total > 0, total, 1.0), col)
    return nodes, _Links(n, src, dst, share, vote)


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
    """``(I - A)^-1 A`` for ``A[src, dst] = frac``, solved level by level of the condensation
    (rows of a level only need the rows of lower levels: one sparse product per level)."""
    a = sp.csr_matrix((frac, (src, dst)), shape=(n, n))
    if n == 0:
        return a
    labels = strong_components(n, src, dst)
    n_comp = int(labels.max()) + 1
    cs, cd = labels[src], labels[dst]
    between = cs != cd
    pairs = np.unique(np.stack([cs[between], cd[between]], axis=1), axis=0)
    level = _levels(n_comp, pairs[:, 0], pairs[:, 1])
    node_level = level[labels]
    comp_size = np.bincount(labels, minlength=n_comp)
    order = np.argsort(node_level, kind="stable")
    bounds = np.searchsorted(node_level[order], np.arange(int(level.max()) + 2))
    result = sp.csr_matrix((n, n))
    for lvl in range(int(level.max()) + 1):
        rows = order[bounds[lvl] : bounds[lvl + 1]]
        a_rows = a[rows]
        if a_rows.nnz == 0:
            continue
        block = (a_rows + a_rows @ result).tocsr()
        cyclic = rows[comp_size[labels[rows]] > 1]
        if len(cyclic):
            block = _solve_cycles(a, rows, cyclic, labels, block)
        coo = block.tocoo()
        result = (result + sp.csr_matrix((coo.data, (rows[coo.row], coo.col)), (n, n))).tocsr()
    result.data[result.data < _EPS] = 0.0
    result.eliminate_zeros()
    return result


def _solve_cycles(
    a: sp.csr_matrix, rows: np.ndarray, cyclic: np.ndarray, labels: np.ndarray, block: sp.csr_matrix
) -> sp.csr_matrix:
    """Replace the rows of cross-holding components by ``(I - A_SS)^-1`` times their right side.

    ``rows`` is sorted; ``block`` has one row per entry of ``rows``."""
    replaced = np.zeros(len(rows), dtype=bool)
    new_r, new_c, new_v = [], [], []
    for comp in np.unique(labels[cyclic]):
        members = cyclic[labels[cyclic] == comp]
        local = np.searchsorted(rows, members)
        replaced[local] = True
        rhs = block[local]
        cols = np.unique(rhs.indices)
        if not len(cols):
            continue
        inner = a[members][:, members].tocsc()
        if np.asarray(inner.sum(axis=0)).max() >= 1.0:
            inner = inner * _CLOSED_GROUP_SCALE
        lu = splu((sp.identity(len(members), format="csc") - inner).tocsc())
        solved = lu.solve(rhs[:, cols].toarray())
        solved[np.abs(solved) < _EPS] = 0.0
        r, c = np.nonzero(solved)
        new_r.append(local[r])
        new_c.append(cols[c])
        new_v.append(solved[r, c])
    coo = block.tocoo()
    kept = ~replaced[coo.row]
    return sp.csr_matrix(
        (
            np.concatenate([coo.data[kept], *new_v]),
            (np.concatenate([coo.row[kept], *new_r]), np.concatenate([coo.col[kept], *new_c])),
        ),
        shape=block.shape,
    )


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

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position of each key in ``keys`` and whether it is there."""
        if not len(self.keys):
            return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return pos, self.keys[pos] == keys


def _control_chains(
    n: int, src: np.ndarray, dst: np.ndarray, vote: np.ndarray, max_len: int, max_paths: int
) -> _Chains:
    """Every simple chain of at most ``max_len`` links, grown one link per step for all chains
    at once; per (holder, company) the weakest links are summed and the strongest chain kept."""
    order = np.lexsort((dst, src))
    src, dst, vote = src[order], dst[order], vote[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    paths = np.stack([src, dst], axis=1)
    weak = vote.copy()
    keys, sums, best_weak, best_step, best_row = [], [], [], [], []
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
        rows = srt[first]
        keys.append(key_s[first])
        sums.append(np.add.reduceat(weak[srt], np.flatnonzero(first)))
        best_weak.append(weak[rows])
        best_step.append(np.full(len(rows), step, dtype=np.int64))
        best_row.append(np.arange(len(rows), dtype=np.int64))
        step_paths.append(paths[rows])
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
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return _Chains(empty, np.zeros(0), np.zeros(0), empty, empty, [], truncated)
    k, s = np.concatenate(keys), np.concatenate(sums)
    bw, bs, br = np.concatenate(best_weak), np.concatenate(best_step), np.concatenate(best_row)
    # per key: strongest weakest link first, the shorter chain on a tie
    srt = np.lexsort((bs, -bw, k))
    k_s = k[srt]
    first = np.ones(len(k_s), dtype=bool)
    first[1:] = k_s[1:] != k_s[:-1]
    top = srt[first]
    return _Chains(
        keys=k_s[first],
        control=np.minimum(1.0, np.add.reduceat(s[srt], np.flatnonzero(first))),
        best_weak=bw[top],
        best_step=bs[top],
        best_row=br[top],
        step_paths=step_paths,
        truncated=truncated,
    )


def _union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = np.concatenate([a, b])
    both.sort(kind="stable")
    keep = np.ones(len(both), dtype=bool)
    keep[1:] = both[1:] != both[:-1]
    return both[keep]


def _single_roots(
    n: int, company: np.ndarray, holder: np.ndarray, controlled: np.ndarray
) -> np.ndarray:
    """For every company whose controllers lead up to exactly one uncontrolled holder (its only
    ultimate controller), that holder; -1 for every other node.

    ``company``/``holder`` are the immediate-control edges, sorted by company. Resolved level
    by level up the control graph, all companies at once: a company is settled once all its
    immediate controllers are (an uncontrolled controller is its own root). Companies with two
    or more roots, or with a control cycle above them, stay -1 (resolved one by one)."""
    unknown, mixed = -3, -1
    if not len(company):
        return np.full(n, -1, dtype=np.int64)
    root = np.where(controlled, unknown, -1)
    starts = np.flatnonzero(np.r_[True, company[1:] != company[:-1]])
    owners = company[starts]
    while True:
        r = np.where(controlled[holder], root[holder], holder)
        lo = np.minimum.reduceat(np.where(r >= 0, r, n), starts)
        hi = np.maximum.reduceat(r, starts)
        any_unknown = np.maximum.reduceat((r == unknown).astype(np.int8), starts) > 0
        any_mixed = np.maximum.reduceat((r == mixed).astype(np.int8), starts) > 0
        value = np.where(
            any_mixed | ((lo < n) & (lo != hi) & (hi >= 0)),
            mixed,
            np.where(any_unknown, unknown, lo),
        )
        if np.array_equal(root[owners], value):
            break
        root[owners] = value
    return np.where(root >= 0, root, -1)


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
        self.nodes, links = _clean_holdings(holdings)
        self._links = links
        self._names = self.nodes.to_numpy(dtype=object)
        self.max_chain_length = max_chain_length
        n = self._n = len(self.nodes)
        self.holdings = pd.DataFrame(
            {
                "holder_id": self._names[links.src],
                "company_id": self._names[links.dst],
                "share_pct": links.share,
                "voting_pct": links.vote,
            }
        )
        cash = _integrated_ownership(n, links.src, links.dst, links.share / 100.0).tocoo()
        off = cash.row != cash.col
        cash_keys = cash.row[off].astype(np.int64) * n + cash.col[off]
        cash_order = np.argsort(cash_keys, kind="stable")
        cash_keys, cash_vals = cash_keys[cash_order], cash.data[off][cash_order]
        self._chains = _control_chains(
            n, links.src, links.dst, links.vote / 100.0, max_chain_length, max_paths
        )
        keys = _union_sorted(cash_keys, self._chains.keys)
        self._keys = keys
        self._cash_pct = np.zeros(len(keys))
        self._cash_pct[np.searchsorted(keys, cash_keys)] = cash_vals * 100.0
        self._control_pct = np.zeros(len(keys))
        self._control_pct[np.searchsorted(keys, self._chains.keys)] = self._chains.control * 100.0
        width = max(n, 1)
        self.shares = pd.DataFrame(
            {
                "holder_id": self._names[keys // width],
                "company_id": self._names[keys % width],
                "cash_flow_pct": self._cash_pct,
                "control_pct": self._control_pct,
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
        chains, pcts, hit = self._chain_lists(np.array([i]), np.array([j]))
        return (chains[0], pcts[0]) if hit[0] else None

    def _chain_lists(
        self, holders: np.ndarray, companies: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best chains (id lists, link-% lists; object arrays) for many pairs of positions, and
        whether each pair has a chain within the cap."""
        ch = self._chains
        pos, hit = ch.find(holders.astype(np.int64) * self._n + companies)
        chains = np.empty(len(pos), dtype=object)
        pcts = np.empty(len(pos), dtype=object)
        found = np.flatnonzero(hit)
        steps = ch.best_step[pos[found]]
        for step in np.unique(steps):
            sel = found[steps == step]
            paths = ch.step_paths[step][ch.best_row[pos[sel]]]
            names = self._names[paths].tolist()
            links = self._links.vote_between(paths[:, :-1], paths[:, 1:]).tolist()
            for t, ids, link in zip(sel.tolist(), names, links, strict=True):
                chains[t] = ids
                pcts[t] = link
        return chains, pcts, hit

    def controllers(
        self, gov_ids: Iterable[str] = (), majority_pct: float = 50.0, plurality_pct: float = 25.0
    ) -> pd.DataFrame:
        """Ultimate controller(s) of every company; see :func:`ultimate_controllers`."""
        n = self._n
        width = max(n, 1)
        held = self._control_pct > 0
        holder, company = self._keys[held] // width, self._keys[held] % width
        ctl = self._control_pct[held]
        by_company = np.lexsort((holder, company))
        holder, company, ctl = holder[by_company], company[by_company], ctl[by_company]
        top = np.full(n, -np.inf)
        np.maximum.at(top, company, ctl)
        majority = ctl > majority_pct
        has_majority = np.zeros(n, dtype=bool)
        has_majority[company[majority]] = True
        plurality = ~has_majority[company] & (ctl >= plurality_pct) & (ctl >= top[company] - 1e-9)
        picked = majority | plurality
        imm_company, imm_holder = company[picked], holder[picked]
        count = np.bincount(imm_company, minlength=n)
        controlled = count > 0
        root = _single_roots(n, imm_company, imm_holder, controlled)

        fast = np.flatnonzero(controlled & (root >= 0))
        slow = np.flatnonzero(controlled & (root < 0))
        pair_company, pair_ctrl = [fast], [root[fast]]
        if len(slow):
            starts = np.searchsorted(imm_company, np.arange(n + 1))
            immediate = {
                int(c): imm_holder[starts[c] : starts[c + 1]].tolist() for c in slow.tolist()
            }
            resolved = _resolve_controllers(slow.tolist(), immediate, root)
            out = [(c, u) for c in slow.tolist() for u in resolved[c]]
            pair_company.append(np.array([c for c, _ in out], dtype=np.int64))
            pair_ctrl.append(np.array([u for _, u in out], dtype=np.int64))
        comp_pos = np.concatenate(pair_company)
        ctrl_pos = np.concatenate(pair_ctrl)
        order = np.argsort(comp_pos, kind="stable")
        comp_pos, ctrl_pos = comp_pos[order], ctrl_pos[order]

        control_pct = np.full(len(comp_pos), np.nan)
        cash_flow_pct = np.full(len(comp_pos), np.nan)
        if len(self._keys):
            keys = ctrl_pos * width + comp_pos
            at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            known = self._keys[at] == keys
            control_pct[known] = self._control_pct[at[known]]
            cash_flow_pct[known] = self._cash_pct[at[known]]
        chains, pcts, hit = self._chain_lists(ctrl_pos, comp_pos)
        first_holder = np.full(n, -1, dtype=np.int64)
        first_holder[imm_company[::-1]] = imm_holder[::-1]
        for t in np.flatnonzero(~hit).tolist():
            chains[t], pcts[t] = self._stitched_chain(
                int(ctrl_pos[t]), int(comp_pos[t]), first_holder
            )
        gov = np.zeros(n, dtype=bool)
        gov_at = self.nodes.get_indexer(pd.Index(list(gov_ids), dtype=object))
        gov[gov_at[gov_at >= 0]] = True
        return pd.DataFrame(
            {
                "company_id": self._names[comp_pos],
                "controller_id": self._names[ctrl_pos],
                "test": np.where(has_majority[comp_pos], "majority", "plurality").astype(object),
                "control_pct": control_pct,
                "cash_flow_pct": cash_flow_pct,
                "chain": chains,
                "chain_pcts": pcts,
                "gov_linked": gov[ctrl_pos],
            }
        )

    def _stitched_chain(
        self, ctrl: int, company: int, first_holder: np.ndarray
    ) -> tuple[list[str], list[float]]:
        """Chain through the immediate controllers when the direct pair is beyond the cap."""
        chain, links = [str(self._names[company])], []
        current = company
        while (
            current != ctrl
            and first_holder[current] >= 0
            and len(chain) <= 10 * self.max_chain_length
        ):
            holder = int(first_holder[current])
            part, part_pcts, hit = self._chain_lists(np.array([holder]), np.array([current]))
            if not hit[0]:
                break
            chain = part[0][:-1] + chain
            links = part_pcts[0] + links
            current = holder
        return chain, links


def _resolve_controllers(
    companies: list[int], immediate: dict[int, list[int]], root: np.ndarray
) -> dict[int, tuple[int, ...]]:
    """Ultimate controllers of companies whose control does not run up one single chain: a
    controller that is itself controlled is replaced by its own controllers, recursively; a
    controller met again on the way (a control cycle) is kept as it is."""
    resolved: dict[int, tuple[int, ...]] = {}

    def resolve(company: int, seen: frozenset[int]) -> tuple[int, ...]:
        if company in resolved:
            return resolved[company]
        if root[company] >= 0:
            return (int(root[company]),)
        out: list[int] = []
        for holder in immediate[company]:
            controlled = holder in immediate or root[holder] >= 0
            if controlled and holder not in seen:
                out.extend(resolve(holder, seen | {holder}))
            else:
                out.append(holder)
        result = tuple(dict.fromkeys(u for u in out if u != company)) or tuple(immediate[company])
        resolved[company] = result
        return result

    for c in companies:
        resolve(c, frozenset([c]))
    return resolved


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


@dataclass
class OwnershipControl:
    """A run's ownership analysis (what ``ownership.control`` computes): the graph, the ultimate
    controllers of every company and lookups by company and by controller."""

    graph: OwnershipGraph
    controllers: pd.DataFrame
    by_company: dict[str, list[dict]]
    companies_of: dict[str, set[str]]

    def controllers_of(self, company: str) -> list[dict]:
        """Rows of :func:`engine.ownership.ultimate_controllers` for ``company``."""
        return self.by_company.get(company, [])

    def gov_controllers(self, company: str) -> list[dict]:
        """The controllers of ``company`` that are government units."""
        return [r for r in self.by_company.get(company, []) if r["gov_linked"]]

    def is_gov_linked(self, company: str) -> bool:
        """Whether a government unit ultimately controls ``company``."""
        return bool(self.gov_controllers(company))
