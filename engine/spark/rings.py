"""Rings on Spark: the projection in Spark SQL, Leiden per connected component in a task each.

The embedded :func:`engine.rings.find_rings` weights the shared attributes, projects node pairs
and runs Leiden over the whole projection. Here the same SQL texts (:data:`engine.rings.WEIGHT_SQL`,
:data:`~engine.rings.PAIRS_SQL`, :data:`~engine.rings.SHARED_SQL`, transpiled) run on Spark; the
projected pairs are split into connected components
(:func:`engine.spark.components.connected_components`) and Leiden -- the same
:func:`engine.rings.leiden_partition` -- runs per component in an ``applyInPandas`` task. A
community never spans two components, so only the visiting order differs from one Leiden over
the whole graph: community ids (and now and then a boundary member) may differ from an embedded
scan, which is why the tests check rings against the planted truth. What reaches the driver:
the members of communities of ``min_size`` or more, the pairs inside them, and the group figures
of the groups they touch; :func:`engine.rings.assemble_rings` then computes each ring's figures
as the embedded engine does.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from engine.rings import (
    MEMBERSHIP_SQL,
    PAIRS_SQL,
    SHARED_SQL,
    WEIGHT_SQL,
    Ring,
    assemble_rings,
    leiden_partition,
)
from engine.spark.components import connected_components
from engine.spark.sql import to_spark

__all__ = ["find_rings_spark"]


def _leiden_task(seed: int, resolution: float) -> Any:
    def task(part: pd.DataFrame) -> pd.DataFrame:
        out = []
        for component, pairs in part.groupby("component", sort=True):
            pairs = pairs.sort_values(["u", "v"]).reset_index(drop=True)
            labels = leiden_partition(pairs[["u", "v", "weight"]], seed=seed, resolution=resolution)
            out.extend((node, f"{component}#{label}") for node, label in labels.items())
        return pd.DataFrame(out, columns=["node", "community"])

    return task


def find_rings_spark(
    engine: Any,
    memberships: Any,
    groups: Any,
    *,
    min_size: int = 3,
    max_attribute_nodes: int = 100,
    min_pair_weight: float = 1.0,
    min_attribute_weight: float = 0.0,
    seed: int = 42,
    resolution: float = 1.0,
) -> list[Ring]:
    """:func:`engine.rings.find_rings` over Spark DataFrames ``memberships (node, attribute)`` and
    ``groups (node, grp)``; ``engine`` is the run's :class:`engine.spark.engine.SparkEngine`."""
    from pyspark.sql import functions as F

    spark = engine.spark
    t0 = time.perf_counter()
    # every step is checkpointed (its plan cut to a leaf): the projection's SQL refers to each
    # table several times, and planning over the queries that built them took minutes
    memberships.select("node", "attribute").localCheckpoint().createOrReplaceTempView("m_all")
    g = groups.where(F.col("grp").isNotNull()).groupBy("node").agg(F.min("grp").alias("grp"))
    g = g.localCheckpoint()
    g.createOrReplaceTempView("g")
    cached = [g]
    try:
        m = spark.sql(to_spark(MEMBERSHIP_SQL)).localCheckpoint()
        m.createOrReplaceTempView("m")
        w = spark.sql(to_spark(WEIGHT_SQL, [max_attribute_nodes])).localCheckpoint()
        w.createOrReplaceTempView("w")
        pairs = spark.sql(
            to_spark(PAIRS_SQL, [min_attribute_weight, min_pair_weight])
        ).localCheckpoint()
        cached += [m, w, pairs]
        comps = connected_components(pairs.select("u", "v"))
        with_comp = pairs.join(comps, pairs["u"] == comps["node"]).select(
            "u", "v", "weight", "component"
        )
        bucket = F.abs(F.hash("component")) % engine.buckets
        labels = (
            with_comp.withColumn("_bucket", bucket)
            .groupBy("_bucket")
            .applyInPandas(_leiden_task(seed, resolution), "node string, community string")
            .localCheckpoint()
        )
        cached.append(labels)
        sizes = labels.groupBy("community").count().where(F.col("count") >= min_size)
        members = labels.join(sizes.select("community"), "community").localCheckpoint()
        cached.append(members)
        got = members.toPandas()
        if got.empty:
            return []
        members_of = pd.Series(got["community"].to_numpy(), index=pd.Index(got["node"]))
        mu = members.select(F.col("node").alias("u"), F.col("community"))
        mv = members.select(F.col("node").alias("v"), F.col("community").alias("cv"))
        inside = (
            pairs.join(mu, "u")
            .join(mv, "v")
            .where(F.col("community") == F.col("cv"))
            .select("u", "v", "weight", "shared", "community")
            .toPandas()
        )
        member_groups = g.join(members.select("node"), "node").toPandas()
        groups_of = pd.Series(
            member_groups["grp"].to_numpy(), index=pd.Index(member_groups["node"])
        )
        touched = sorted(set(groups_of.dropna()))
        touched_df = spark.createDataFrame([(t,) for t in touched], "grp string")
        size = g.groupBy("grp").count().join(touched_df, "grp").toPandas()
        group_size = pd.Series(size["count"].to_numpy(), index=pd.Index(size["grp"]))
        gu = g.select(F.col("node").alias("u"), F.col("grp").alias("gu"))
        gv = g.select(F.col("node").alias("v"), F.col("grp").alias("gv"))
        t = touched_df.select(F.col("grp").alias("a"))
        counts = (
            pairs.join(gu, "u")
            .join(gv, "v")
            .select(F.least("gu", "gv").alias("a"), F.greatest("gu", "gv").alias("b"))
            .join(t, "a")
            .join(t.select(F.col("a").alias("b")), "b")
            .groupBy("a", "b")
            .count()
            .collect()
        )
        pair_counts = {(r["a"], r["b"]): int(r["count"]) for r in counts}
        members.select("node", "community").createOrReplaceTempView("part")
        shared = spark.sql(to_spark(SHARED_SQL, [min_attribute_weight])).toPandas()
        no_pairs = inside.iloc[0:0].drop(columns="community")
        return assemble_rings(
            members_of, inside, groups_of, group_size, pair_counts, shared, no_pairs
        )
    finally:
        for df in cached:
            df.unpersist()
        engine.add_time("graph: rings (projection, components, Leiden)", time.perf_counter() - t0)
