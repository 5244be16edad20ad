"""Connected components on Spark DataFrames: the alternating large-star / small-star algorithm.

Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce and
Beyond", ACM SoCC 2014, section 3 (Algorithm "Alternate"): every node points at the smallest
node of its component after O(log^2 n) rounds of two joins each, where label propagation (hash-min)
needs as many rounds as the graph's diameter. With ``Γ(u)`` the neighbours of ``u`` and
``m(u) = min(Γ(u) ∪ {u})``:

* **large-star**: for every ``u``, connect each *larger* neighbour ``v > u`` to ``m(u)``;
* **small-star**: for every ``u``, connect ``u`` and each *smaller-or-equal* neighbour
  ``v <= u`` to ``m`` (the minimum over those and ``u``).

Both keep the components and shrink every star onto its minimum; the rounds stop when a
round (large-star then small-star) changes no edge. Node ids are strings and "smaller" is string order, so the
component id is the component's smallest node id: the same whatever the partitioning, so the same
on every run.

GraphFrames' connected components implements the same paper, but its ``graphframes-graphx``
module does not resolve from the package registry reachable here (docs/spark.md), hence these
twenty lines of DataFrame code.

Examples
--------
See ``tests/engine/spark/test_components.py`` (checked against networkx on random graphs).
"""

from __future__ import annotations

from typing import Any

__all__ = ["connected_components"]


def _large_star(edges: Any) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    both = edges.select("u", "v").union(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    m = F.least(F.col("u"), F.min("v").over(Window.partitionBy("u")))
    out = both.withColumn("m", m).where(F.col("v") > F.col("u"))
    return out.select(F.col("v").alias("u"), F.col("m").alias("v")).distinct()


def _small_star(edges: Any) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # each edge pointing at its smaller end
    down = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))
    m = F.least(F.col("u"), F.min("v").over(Window.partitionBy("u")))
    down = down.withColumn("m", m)
    to_min = down.select(F.col("v").alias("u"), "m")
    self_edge = down.select("u", "m")
    out = to_min.union(self_edge).where(F.col("u") != F.col("m"))
    return out.select("u", F.col("m").alias("v")).distinct()


def _fingerprint(edges: Any) -> tuple[int, int]:
    """Edge count and order-free hash sum: equal for equal edge sets."""
    from pyspark.sql import functions as F

    row = edges.agg(
        F.count("*").alias("n"), F.sum(F.xxhash64("u", "v").cast("decimal(38,0)")).alias("h")
    ).first()
    return int(row["n"]), int(row["h"] or 0)


def connected_components(edges: Any, max_rounds: int = 100) -> Any:
    """Component of every node of an undirected edge list.

    Parameters
    ----------
    edges : pyspark.sql.DataFrame
        Columns ``u`` and ``v`` (strings; NULL ends are dropped, self-loops allowed).
    max_rounds : int
        Safety bound on the rounds (RuntimeError past it; O(log^2 n) are needed).

    Returns
    -------
    pyspark.sql.DataFrame
        ``node, component``: one row per node of ``edges``; ``component`` is the smallest node
        id of its component.
    """
    from pyspark.sql import functions as F

    clean = edges.select(F.col("u").cast("string").alias("u"), F.col("v").cast("string").alias("v"))
    clean = clean.where(F.col("u").isNotNull() & F.col("v").isNotNull())
    nodes = clean.select(F.col("u").alias("node")).union(clean.select(F.col("v").alias("node")))
    nodes = nodes.distinct()
    current = clean.where(F.col("u") != F.col("v")).distinct().localCheckpoint()
    seen = _fingerprint(current)
    for _ in range(max_rounds):
        # one round = large-star then small-star, checkpointed once (one job) and fingerprinted
        # (one job); an unchanged fingerprint is confirmed exactly before stopping
        nxt = _small_star(_large_star(current)).localCheckpoint()
        mark = _fingerprint(nxt)
        if mark == seen and nxt.exceptAll(current).union(current.exceptAll(nxt)).isEmpty():
            current = nxt
            break
        current, seen = nxt, mark
    else:
        raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
    # after convergence every edge is (node, its component's minimum)
    label = current.groupBy("u").agg(F.min("v").alias("component"))
    return nodes.join(label, nodes["node"] == label["u"], "left").select(
        "node", F.coalesce("component", "node").alias("component")
    )
