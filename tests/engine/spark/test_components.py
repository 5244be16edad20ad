"""Connected components on Spark (large-star / small-star, Kiveris et al. 2014) against networkx."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.spark.components import connected_components

pytestmark = pytest.mark.spark


def _components(spark, edges):
    df = spark.createDataFrame(edges or [("x", "x")][:0], "u string, v string")
    return {r["node"]: r["component"] for r in connected_components(df).collect()}


def _expected(edges):
    g = nx.Graph()
    g.add_edges_from(edges)
    return {n: min(c) for c in nx.connected_components(g) for n in c}


def test_paper_example_path_and_star(spark):
    # a path long enough that hash-min needs many rounds, a star, an isolated self-loop
    path = [(f"p{i:02d}", f"p{i + 1:02d}") for i in range(12)]
    star = [("s0", f"s{i}") for i in range(1, 6)]
    edges = [*path, *star, ("z", "z")]
    assert _components(spark, edges) == _expected(edges)


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 40)).map(lambda e: (f"n{e[0]}", f"n{e[1]}")),
        max_size=30,
    )
)
def test_random_graphs_match_networkx(spark, edges):
    assert _components(spark, edges) == _expected(edges)
