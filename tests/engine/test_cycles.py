"""Bounded cycle listing: exact agreement with networkx on random graphs, caps, canonical form."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cycles import bounded_cycles, strong_components


def canonical(cycle: list) -> tuple:
    k = cycle.index(min(cycle))
    return tuple(cycle[k:] + cycle[:k])


edge_lists = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(edges=edge_lists, bound=st.integers(1, 7))
def test_same_cycles_as_networkx(edges, bound):
    g = nx.DiGraph(edges)
    want = {canonical(c) for c in nx.simple_cycles(g, length_bound=bound)}
    got, truncated = bounded_cycles(edges, bound)
    assert set(got) == want
    assert len(got) == len(set(got)), "each cycle once"
    assert truncated == []


@settings(max_examples=100, deadline=None)
@given(edges=edge_lists)
def test_components_match_networkx(edges):
    nodes = sorted({v for e in edges for v in e})
    if not nodes:
        return
    idx = {v: i for i, v in enumerate(nodes)}
    src = np.array([idx[a] for a, _ in edges])
    dst = np.array([idx[b] for _, b in edges])
    labels = strong_components(len(nodes), src, dst)
    ours = {frozenset(nodes[i] for i in np.flatnonzero(labels == k)) for k in set(labels.tolist())}
    g = nx.DiGraph(edges)
    assert ours == {frozenset(c) for c in nx.strongly_connected_components(g)}


def test_canonical_rotation_and_order():
    edges = [("c", "a"), ("a", "b"), ("b", "c"), ("b", "a"), ("x", "x")]
    cycles, _ = bounded_cycles(edges, 6)
    assert cycles == [("a", "b"), ("a", "b", "c"), ("x",)]


def test_length_bound_excludes_longer_cycles():
    ring = [(i, (i + 1) % 7) for i in range(7)]
    assert bounded_cycles(ring, 6) == ([], [])
    assert bounded_cycles(ring, 7)[0] == [(0, 1, 2, 3, 4, 5, 6)]


def test_dense_component_is_capped_and_marked():
    clique = [(i, j) for i in range(40) for j in range(40) if i != j]
    cycles, truncated = bounded_cycles([*clique, (100, 101), (101, 100)], 6, per_component_cap=500)
    assert len([c for c in cycles if c[0] < 40]) == 500
    assert truncated == [tuple(range(40))]
    assert (100, 101) in cycles, "other components are still listed"


def test_step_budget_stops_a_component():
    clique = [(i, j) for i in range(30) for j in range(30) if i != j]
    cycles, truncated = bounded_cycles(clique, 6, 10**9, max_steps_per_component=10_000)
    assert truncated and 0 < len(cycles) < 10**6
