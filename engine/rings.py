"""Rings: groups of nodes tied by shared attributes far beyond their group's base rate of sharing.

The input is a bipartite membership table (node, attribute) — for aid, households and the bank
accounts, phones and approvers their records name — plus each node's group (its village). The
steps:

1. **Weight attributes by rarity.** An attribute shared by ``df`` nodes whose groups hold ``n``
   nodes in all gets the inverse-document-frequency weight ``w = ln(n / df)``. A village clerk
   who approves every household of a 300-household village has ``w = ln(300/300) = 0``: normal
   administration ties nobody together. An account that five of those households share has
   ``w = ln(60) ≈ 4.1``. Attributes shared by more than ``max_attribute_nodes`` nodes are dropped
   before projecting (they are not rare anywhere, and would cost ``df²`` pairs).
2. **Project** onto node pairs: ``W(u, v) = Σ w(a)`` over the attributes ``u`` and ``v`` share
   whose own weight is at least ``min_attribute_weight`` (an attribute common enough to fall below
   it — a clerk for most of a village — neither ties two nodes nor adds to a tie, which also keeps
   the projection from growing with ``df²`` for every clerk); keep pairs with
   ``W >= min_pair_weight``.
3. **Communities**: Leiden (Traag, Waltman & van Eck 2019) maximising weighted modularity, via
   igraph's ``community_leiden`` with Python's RNG seeded (igraph draws from :mod:`random`), on a
   graph whose vertices are sorted by id, so a run is identical to the next.
4. **Score** each community ``C`` of ``k`` nodes: density ``d = I / (k(k-1)/2)`` with ``I`` the
   projected pairs inside ``C``; base rate ``p`` = projected pairs among the nodes of the groups
   ``C`` touches, ``C``'s own pairs excluded, over the possible pairs there (floored at one pair,
   so a village where nobody else shares gives a large but finite lift); ``lift = d / p``.

Examples
--------
>>> import pandas as pd
>>> m = pd.DataFrame({"node": ["a", "b", "c", "d"], "attribute": ["acct:1"] * 3 + ["acct:2"]})
>>> groups = pd.Series({"a": "v1", "b": "v1", "c": "v1", "d": "v1", **{f"x{i}": "v1" for i in range(20)}})
>>> rings = find_rings(m, groups, min_size=3)
>>> rings[0].members, round(rings[0].density, 2)
(['a', 'b', 'c'], 1.0)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.crossmatch import CrossMatch

__all__ = [
    "MEMBERSHIP_SQL",
    "PAIRS_SQL",
    "SHARED_SQL",
    "WEIGHT_SQL",
    "Ring",
    "assemble_rings",
    "attribute_weights",
    "find_rings",
    "leiden_partition",
    "project_pairs",
]


@dataclass
class Ring:
    """One community with its figures. ``attributes`` lists the attributes shared inside it."""

    members: list[str]
    groups: list[str]
    internal_pairs: int
    density: float
    base_rate: float
    lift: float
    weight: float
    attributes: pd.DataFrame = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.members)


def attribute_weights(
    memberships: pd.DataFrame, groups: pd.Series, max_attribute_nodes: int = 100
) -> pd.DataFrame:
    """IDF weight per attribute: ``ln(n / df)``, ``n`` = nodes in the groups its nodes belong to.

    Returns columns ``attribute, df, scope, weight`` for attributes with ``2 <= df <=
    max_attribute_nodes`` (an attribute on one node ties nothing).

    Examples
    --------
    >>> m = pd.DataFrame({"node": ["a", "b", "c"], "attribute": ["clerk", "clerk", "clerk"]})
    >>> attribute_weights(m, pd.Series({"a": "v", "b": "v", "c": "v"}))["weight"].tolist()
    [0.0]
    """
    cm = _session(memberships, groups)
    _weights(cm, max_attribute_nodes)
    return cm.query("SELECT * FROM w ORDER BY attribute")


def project_pairs(
    memberships: pd.DataFrame, weights: pd.DataFrame, min_pair_weight: float = 1.0
) -> pd.DataFrame:
    """Node pairs ``u < v`` with ``weight = Σ w(shared attributes) >= min_pair_weight``.

    Examples
    --------
    >>> m = pd.DataFrame({"node": ["a", "b"], "attribute": ["x", "x"]})
    >>> w = pd.DataFrame({"attribute": ["x"], "weight": [2.0]})
    >>> project_pairs(m, w).to_dict("records")
    [{'u': 'a', 'v': 'b', 'weight': 2.0, 'shared': 1}]
    """
    cm = CrossMatch()
    cm.register("m", memberships, {"node": "text", "attribute": "text"})
    cm.register("w", weights, {"attribute": "text", "weight": "float"})
    return _pairs(cm, min_pair_weight)


#: memberships ``m_all (node, attribute)`` of grouped nodes, with each node's group (``g``)
MEMBERSHIP_SQL = "SELECT DISTINCT m.node, m.attribute, g.grp FROM m_all AS m JOIN g USING (node)"

#: IDF weight per attribute (parameter: max_attribute_nodes)
WEIGHT_SQL = """
        WITH sizes AS (SELECT grp, count(*) AS n FROM g GROUP BY grp),
        df AS (
            SELECT attribute, count(DISTINCT node) AS df FROM m GROUP BY attribute
            HAVING count(DISTINCT node) BETWEEN 2 AND ?
        ),
        scope AS (
            SELECT attribute, sum(n) AS scope
            FROM (SELECT DISTINCT attribute, grp FROM m WHERE attribute IN (SELECT attribute FROM df))
            JOIN sizes USING (grp) GROUP BY attribute
        )
        SELECT attribute, df, scope, greatest(ln(scope / df), 0.0) AS weight
        FROM df JOIN scope USING (attribute)
        """

#: projected node pairs (parameters: min_attribute_weight, min_pair_weight)
PAIRS_SQL = """
        WITH mw AS (SELECT DISTINCT m.node, m.attribute, w.weight FROM m JOIN w USING (attribute)
                    WHERE w.weight > 0 AND w.weight >= ?)
        SELECT a.node AS u, b.node AS v, sum(a.weight) AS weight, count(*) AS shared
        FROM mw AS a JOIN mw AS b ON a.attribute = b.attribute AND a.node < b.node
        GROUP BY a.node, b.node HAVING sum(a.weight) >= ?
        ORDER BY u, v
        """

#: attributes shared inside each community of ``part (node, community)`` (min_attribute_weight)
SHARED_SQL = """
                SELECT p.community, m.attribute, count(DISTINCT m.node) AS nodes,
                       any_value(w.df) AS df, any_value(w.weight) AS weight
                FROM m JOIN part AS p USING (node) JOIN w USING (attribute)
                WHERE w.weight > 0 AND w.weight >= ?
                GROUP BY p.community, m.attribute HAVING count(DISTINCT m.node) >= 2
                ORDER BY p.community, weight DESC, m.attribute
                """


def _session(memberships: pd.DataFrame | pa.Table, groups: pd.Series) -> CrossMatch:
    """Memberships ``m`` restricted to grouped nodes, with each node's group ``grp``."""
    cm = CrossMatch()
    cm.register("m_all", memberships, {"node": "text", "attribute": "text"})
    g = pd.DataFrame({"node": groups.index.astype(str), "grp": groups.astype(str).to_numpy()})
    cm.register("g", g, {"node": "text", "grp": "text"})
    cm.materialise("m", MEMBERSHIP_SQL)
    return cm


def _weights(cm: CrossMatch, max_attribute_nodes: int) -> None:
    cm.materialise("w", WEIGHT_SQL, [max_attribute_nodes])


def _pairs(
    cm: CrossMatch, min_pair_weight: float, min_attribute_weight: float = 0.0
) -> pd.DataFrame:
    return cm.query(PAIRS_SQL, [min_attribute_weight, min_pair_weight])


def leiden_partition(pairs: pd.DataFrame, seed: int = 42, resolution: float = 1.0) -> pd.Series:
    """Community label per node (Leiden, weighted modularity), identical from run to run.

    Examples
    --------
    >>> pairs = pd.DataFrame({"u": ["a", "a", "b", "x"], "v": ["b", "c", "c", "y"], "weight": [1.0] * 4})
    >>> part = leiden_partition(pairs)
    >>> bool(part["a"] == part["b"] == part["c"] != part["x"])
    True
    """
    import igraph as ig

    if pairs.empty:
        return pd.Series(dtype="int64")
    nodes = np.unique(
        np.concatenate([pairs["u"].to_numpy(dtype=object), pairs["v"].to_numpy(dtype=object)])
    )
    index = pd.Index(nodes)
    edges = np.column_stack([index.get_indexer(pairs["u"]), index.get_indexer(pairs["v"])])
    graph = ig.Graph(n=len(nodes), edges=edges.tolist(), directed=False)
    state = random.getstate()
    try:
        random.seed(seed)
        ig.set_random_number_generator(random)
        clustering = graph.community_leiden(
            objective_function="modularity",
            weights=pairs["weight"].astype(float).tolist(),
            resolution=resolution,
            n_iterations=-1,
        )
    finally:
        random.setstate(state)
    return pd.Series(np.asarray(clustering.membership, dtype="int64"), index=index)


def find_rings(
    memberships: pd.DataFrame | pa.Table,
    groups: pd.Series,
    *,
    min_size: int = 3,
    max_attribute_nodes: int = 100,
    min_pair_weight: float = 1.0,
    min_attribute_weight: float = 0.0,
    seed: int = 42,
    resolution: float = 1.0,
) -> list[Ring]:
    """Communities of ``min_size`` or more nodes with their density, base rate and lift.

    ``memberships`` (pandas or Arrow) has columns ``node, attribute``; ``groups`` maps every
    node (including those that share nothing) to its group. Rings are returned by descending
    lift, then members.
    """
    groups = groups[~groups.index.duplicated()]
    cm = _session(memberships, groups)
    _weights(cm, max_attribute_nodes)
    pairs = _pairs(cm, min_pair_weight, min_attribute_weight)
    part = leiden_partition(pairs, seed=seed, resolution=resolution)
    if part.empty:
        return []
    sizes = part.value_counts()
    big = sizes[sizes >= min_size].index
    if not len(big):
        return []
    gu = groups.reindex(pairs["u"]).to_numpy(dtype=object)
    gv = groups.reindex(pairs["v"]).to_numpy(dtype=object)
    low = np.where(gu <= gv, gu, gv)
    high = np.where(gu <= gv, gv, gu)
    # projected pairs within each group and across each pair of groups, for the base rates
    pair_counts = pd.DataFrame({"a": low, "b": high}).value_counts().to_dict()
    cu = part.reindex(pairs["u"]).to_numpy()
    cv = part.reindex(pairs["v"]).to_numpy()
    keep = (cu == cv) & np.isin(cu, big)
    members_of = part[part.isin(big)]
    cm.register(
        "part",
        pd.DataFrame({"node": members_of.index.astype(str), "community": members_of.to_numpy()}),
        {"node": "text", "community": "int"},
    )
    shared = cm.query(SHARED_SQL, [min_attribute_weight])
    return assemble_rings(
        members_of, pairs[keep].assign(community=cu[keep]), groups, groups.value_counts(),
        pair_counts, shared, pairs.iloc[0:0],
    )  # fmt: skip


def assemble_rings(
    members_of: pd.Series,
    inside_pairs: pd.DataFrame,
    groups: pd.Series,
    group_size: pd.Series,
    pair_counts: dict[tuple[Any, Any], int],
    shared: pd.DataFrame,
    no_pairs: pd.DataFrame,
) -> list[Ring]:
    """Rings from the communities ``members_of`` (node -> community, big ones only) and what
    their figures need: the pairs inside each (with ``community``), each member's group, the size
    of each touched group, projected pairs per (group, group) of touched groups, the attributes
    shared inside each community (:data:`SHARED_SQL`). Shared by the embedded engine and Spark.
    """
    inside = dict(tuple(inside_pairs.groupby("community")))
    shared_by = dict(tuple(shared.groupby("community")))
    rings = []
    for community, members in members_of.groupby(members_of):
        nodes = sorted(members.index)
        k = len(nodes)
        internal = inside.get(community, no_pairs)
        possible = k * (k - 1) / 2
        density = len(internal) / possible
        touched = sorted(set(groups.reindex(nodes).dropna()))
        n_scope = int(group_size.reindex(touched).sum())
        scope_pairs = sum(
            pair_counts.get((a, b), 0) for i, a in enumerate(touched) for b in touched[i:]
        )
        base_possible = n_scope * (n_scope - 1) / 2 - possible
        base_pairs = max(scope_pairs - len(internal), 0)
        base_rate = max(base_pairs, 1) / base_possible if base_possible > 0 else 1.0
        attrs = shared_by[community].drop(columns="community")
        rings.append(
            Ring(
                members=nodes,
                groups=touched,
                internal_pairs=len(internal),
                density=density,
                base_rate=base_rate,
                lift=density / base_rate,
                weight=float(internal["weight"].sum()),
                attributes=attrs.reset_index(drop=True),
            )
        )
    rings.sort(key=lambda r: (-r.lift, r.members))
    return rings
