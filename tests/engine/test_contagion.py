"""DebtRank (Battiston et al. 2012, Sci. Rep. 2:541): hand-computed cases and the paper's rules.

Published statements used as oracles:
* R excludes the initial shock: a node with no creditors exposed to it has R = 0;
* impact W_ij = min(1, A_ij / E_j); distress propagates along exposures and each node
  propagates once, so walks around a cycle do not compound (the paper's reason for state I;
  Bardoscia et al. 2015, PLoS ONE 10(6):e0130406, point out this underestimates losses on
  cyclic networks -- test_cycle_propagates_once pins that published behaviour);
* a star, hand-computed, for the paper's "too central to fail" point: a small hub that every
  leaf is exposed to has a large DebtRank, a leaf none.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contagion import ExposureNetwork, debtrank, debtrank_by_node, impact_matrix


def ex(rows):
    return pd.DataFrame(rows, columns=["creditor", "debtor", "amount"])


def test_isolated_shock_has_zero_debtrank():
    r = debtrank(ex([]), {"a": 10.0}, {"a": 1.0}, {"a": 1.0})
    assert r.R == 0.0
    assert r.h["a"] == 1.0


def test_chain_hand_computed():
    # a lends 5 to b, b lends 8 to c; equity 10, 20, 10; values 1, 2, 1 (v = .25, .5, .25)
    e = ex([("a", "b", 5.0), ("b", "c", 8.0)])
    r = debtrank(e, {"a": 10, "b": 20, "c": 10}, {"a": 1, "b": 2, "c": 1}, {"c": 1.0})
    # W_cb = 8/20 = .4 -> h_b = .4 ; W_ba = 5/10 = .5 -> h_a = .2
    assert r.h.to_dict() == {"a": 0.2, "b": 0.4, "c": 1.0}
    assert math.isclose(r.R, 0.2 * 0.25 + 0.4 * 0.5)
    assert r.rounds == 4  # t=1 shock, t=2 b, t=3 a, t=4 nobody distressed


def test_partial_shock_scales_linearly_below_saturation():
    e = ex([("a", "b", 5.0), ("b", "c", 8.0)])
    full = debtrank(e, {"a": 10, "b": 20, "c": 10}, {"a": 1, "b": 2, "c": 1}, {"c": 1.0})
    half = debtrank(e, {"a": 10, "b": 20, "c": 10}, {"a": 1, "b": 2, "c": 1}, {"c": 0.5})
    assert math.isclose(half.R, full.R / 2)


def test_impact_is_capped_at_one_and_unknown_equity_is_wiped_out():
    w = impact_matrix(
        ex([("a", "b", 50.0), ("c", "b", 1.0)]), {"a": 10.0}, pd.Index(["a", "b", "c"])
    )
    assert w[1, 0] == 1.0  # 50 / 10 capped
    assert w[1, 2] == 1.0  # c has no known equity


def test_cycle_propagates_once():
    # a and b lend 5 to each other, equity 10: W = .5 both ways
    e = ex([("a", "b", 5.0), ("b", "a", 5.0)])
    r = debtrank(e, {"a": 10, "b": 10}, {"a": 1, "b": 1}, {"a": 1.0})
    # t2: h_b = .5 ; t3: b propagates .25 back to a (already 1); a, now inactive, never again
    assert r.h.to_dict() == {"a": 1.0, "b": 0.5}
    assert math.isclose(r.R, 0.25)
    # a three-cycle with W = 1 everywhere: everyone defaults, nobody propagates twice
    tri = ex([("a", "b", 10.0), ("b", "c", 10.0), ("c", "a", 10.0)])
    r3 = debtrank(tri, dict.fromkeys("abc", 10.0), dict.fromkeys("abc", 1.0), {"a": 1.0})
    assert r3.h.tolist() == [1.0, 1.0, 1.0]
    assert math.isclose(r3.R, 2 / 3)


def test_star_centre_versus_leaf():
    leaves = [f"l{i}" for i in range(4)]
    e = ex([(leaf, "hub", 4.0) for leaf in leaves])  # every leaf lends 4 to the hub
    equity = {"hub": 100.0, **dict.fromkeys(leaves, 10.0)}
    value = {"hub": 4.0, **dict.fromkeys(leaves, 1.0)}
    ranks = debtrank_by_node(e, equity, value)
    assert math.isclose(ranks["hub"], 4 * 0.4 * (1 / 8))
    assert all(ranks[leaf] == 0.0 for leaf in leaves)


def test_guarantor_is_exposed_to_its_debtor():
    # guarantor g guaranteed 30 for debtor d: g loses 30 if d fails
    e = ex([("g", "d", 30.0)])
    r = debtrank(e, {"g": 60.0, "d": 10.0}, {"g": 1.0, "d": 1.0}, {"d": 1.0})
    assert r.h["g"] == 0.5
    assert debtrank(e, {"g": 60.0, "d": 10.0}, {"g": 1, "d": 1}, {"g": 1.0}).R == 0.0


networks = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.floats(0.5, 30.0)), min_size=1, max_size=20
)


@settings(max_examples=80, deadline=None)
@given(rows=networks, seed=st.integers(0, 1000))
def test_batched_ranking_equals_single_runs(rows, seed):
    rng = np.random.default_rng(seed)
    e = ex([(f"n{a}", f"n{b}", w) for a, b, w in rows])
    nodes = sorted(set(e["creditor"]) | set(e["debtor"]))
    equity = {n: float(rng.uniform(1, 40)) for n in nodes}
    value = {n: float(rng.uniform(0.1, 5)) for n in nodes}
    ranks = debtrank_by_node(e, equity, value, batch_cells=3 * len(nodes))
    for n in nodes:
        single = debtrank(e, equity, value, {n: 1.0})
        assert math.isclose(ranks[n], single.R, abs_tol=1e-12)
        assert ((single.h >= 0) & (single.h <= 1)).all()
        assert 1 - single.value[n] + 1e-12 >= single.R


@settings(max_examples=60, deadline=None)
@given(rows=networks)
def test_distress_reaches_exactly_the_nodes_exposed_downstream(rows):
    e = ex([(f"n{a}", f"n{b}", w) for a, b, w in rows if a != b])
    if e.empty:
        return
    nodes = sorted(set(e["creditor"]) | set(e["debtor"]))
    r = debtrank(e, dict.fromkeys(nodes, 10.0), dict.fromkeys(nodes, 1.0), {nodes[0]: 1.0})
    g = nx.DiGraph(list(zip(e["debtor"], e["creditor"], strict=True)))
    reach = nx.descendants(g, nodes[0]) | {nodes[0]}
    assert set(r.h[r.h > 0].index) == reach


def paper_debtrank(rows, equity, value, source, shock):
    """Battiston et al. (2012) written out literally, one node and one round at a time."""
    rows = list(rows)
    nodes = sorted(set(equity) | set(value) | {c for c, _, _ in rows} | {d for _, d, _ in rows})
    exposure: dict[tuple[str, str], float] = {}
    for creditor, debtor, amount in rows:
        if creditor != debtor and amount > 0:
            exposure[(debtor, creditor)] = exposure.get((debtor, creditor), 0.0) + amount
    impact = {}
    for (i, j), a in exposure.items():
        e = equity.get(j, float("nan"))
        impact[(i, j)] = min(1.0, a / e) if e > 0 else 1.0
    h = dict.fromkeys(nodes, 0.0)
    s = dict.fromkeys(nodes, "U")
    h[source] = shock
    if shock > 0:
        s[source] = "D"
    while "D" in s.values():
        new_h = {
            j: min(
                1.0,
                h[j] + sum(w * h[i] for (i, jj), w in impact.items() if jj == j and s[i] == "D"),
            )
            for j in nodes
        }
        s = {
            j: "I" if s[j] == "D" else "D" if (s[j] == "U" and new_h[j] > 0) else s[j]
            for j in nodes
        }
        h = new_h
    total = sum(max(value.get(j, 0.0), 0.0) for j in nodes)
    v = {j: max(value.get(j, 0.0), 0.0) / total for j in nodes}
    return h, sum(h[j] * v[j] for j in nodes) - shock * v[source]


@settings(max_examples=120, deadline=None)
@given(
    rows=networks,
    seed=st.integers(0, 10_000),
    cells=st.integers(1, 60),
    shocks=st.lists(st.sampled_from([1.0, 0.5, 0.25, 0.0]), min_size=7, max_size=7),
)
def test_batched_runs_match_the_paper_run_by_run(rows, seed, cells, shocks):
    # the fast path (reachable-closure batches, sparse X @ W rounds) against a literal
    # transcription of the paper, and against the single-run implementation, on every node
    rng = np.random.default_rng(seed)
    e = ex([(f"n{a}", f"n{b}", w) for a, b, w in rows])
    nodes = sorted(set(e["creditor"]) | set(e["debtor"]))
    # some equity unknown or non-positive (impact 1), some values zero, to cover the edge cases
    equity = {
        n: float(rng.choice([rng.uniform(1, 40), 0.0, -3.0], p=[0.8, 0.1, 0.1])) for n in nodes[1:]
    }
    value = {n: float(rng.choice([rng.uniform(0.1, 5), 0.0], p=[0.85, 0.15])) for n in nodes}
    value[nodes[0]] = 1.0
    wanted = {n: shocks[k % len(shocks)] for k, n in enumerate(nodes)}
    network = ExposureNetwork(e, equity, value)
    seen = set()
    for batch in network.single_shock_runs(wanted, batch_cells=cells):
        for c, node in enumerate(batch.sources):
            seen.add(node)
            fast = np.zeros(len(batch.nodes))
            fast[batch.reached] = batch.h[:, c]
            want_h, want_r = paper_debtrank(
                e.itertuples(index=False), equity, value, node, wanted[node]
            )
            assert np.allclose(fast, [want_h[n] for n in batch.nodes], atol=1e-12)
            assert math.isclose(batch.R[c], want_r, abs_tol=1e-12)
            single = debtrank(e, equity, value, {node: wanted[node]})
            assert np.allclose(single.h.reindex(batch.nodes).to_numpy(), fast, atol=1e-12)
            assert math.isclose(single.R, want_r, abs_tol=1e-12)
    assert seen == set(nodes)
