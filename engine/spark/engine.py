"""Where each detector runs when a scan runs on Spark, and the machinery for each place.

A detector states its logic once; its registration says how that logic may be split
(``partition=`` in :func:`engine.registry.detector`), and this module runs it accordingly:

``"sql"``
    its data access is the register SQL (:mod:`engine.aid_registers`): on Spark every query is the
    transpiled text of the same query, run by Spark over the workspace's Parquet tables; the
    driver sees the query's result rows (one per finding, with its evidence) and runs the
    detector's Python over them.
``"component"``
    its findings about a subject depend only on the weakly connected component of the subject in
    the graph of what it reads (relationships, and the ids a node row refers to): Spark computes
    the components (:func:`engine.spark.components.connected_components`), ships each component's
    rows to one task, and the detector's own code runs there on those rows
    (``applyInPandas``) together with the detectors it uses; only flags come back.
``"driver"``
    it reads small reference tables (the region hierarchy) and the flags of other detectors, and
    runs on the driver.

A detector without ``partition`` cannot run on Spark yet: the runner skips it with that reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from engine.tables import is_relationship
from graph_models.schema import SCHEMA

__all__ = ["PLACEMENTS", "SparkEngine", "placement_note"]

#: partition value -> how it runs on Spark (for ``riskgraph detectors`` and the docs)
PLACEMENTS = {
    "sql": "spark: register SQL transpiled to Spark SQL; result rows to the driver",
    "component": "spark: per connected component (applyInPandas); flags to the driver",
    "driver": "spark: on the driver over other detectors' flags and reference tables",
}


def placement_note(partition: str | None) -> str:
    """Where a detector with ``partition`` runs on Spark, or why it cannot.

    Examples
    --------
    >>> placement_note(None)
    'embedded only: declares no partition= (how its work splits), so a Spark scan skips it'
    """
    if partition is None:
        return (
            "embedded only: declares no partition= (how its work splits), so a Spark scan skips it"
        )
    return PLACEMENTS[partition]


def _ref_columns(name: str) -> list[str]:
    """The columns of a table row that name other nodes (``src``/``dst``, ``*_id``)."""
    if is_relationship(name):
        spec = SCHEMA.relationships[name]
        return ["src", "dst", *(p for p in spec.properties if p.endswith("_id"))]
    spec = SCHEMA.nodes[name]
    return [p for p in spec.properties if p.endswith("_id")]


#: Rows that belong together although no id links them: the government units of one region
#: are one government (``debt.hidden_chain``'s ``same_region_government``), so a GovUnit joins
#: the component of its region as well as those of its links.
_SHARED_KEYS = {"GovUnit": ("region_code",)}


def _key_column(name: str) -> str:
    return "src" if is_relationship(name) else "id"


class SparkEngine:
    """A scan's Spark side: the session, the workspace's tables, and where time went.

    Parameters
    ----------
    spark : SparkSession
    graph_root : str
        The workspace's ``graph`` directory or its URI (``hdfs://.../graph``).
    buckets : int
        Components are packed into this many tasks for the ``component`` detectors (a bucket
        holds whole components; 0 = twice the default parallelism).
    """

    name = "spark"

    def __init__(self, spark: Any, graph_root: str, buckets: int = 0) -> None:
        from engine.spark.tables import SparkGraph

        self.spark = spark
        self.graph = SparkGraph(spark, graph_root)
        self.buckets = buckets or max(2, 2 * spark.sparkContext.defaultParallelism)
        self.timings: dict[str, float] = {}
        self._closing: list[Any] = []

    def track(self, obj: Any) -> Any:
        """Remember ``obj`` (something with ``close()``) to close at the end of the run."""
        self._closing.append(obj)
        return obj

    def close(self) -> None:
        """Release what the run cached on the cluster."""
        for obj in self._closing:
            obj.close()
        self._closing.clear()

    def add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = round(self.timings.get(key, 0.0) + seconds, 4)

    def aid_registers(self, ctx: Any) -> Any:
        """The aid registers of detector ``ctx`` on Spark (same tables, same SQL texts as the
        embedded :class:`engine.aid_registers.AidRegisters`, transpiled)."""
        from engine.spark.registers import SparkAidRegisters

        return SparkAidRegisters(ctx)

    # -- component-partitioned detectors ---------------------------------------------------------

    def run_components(
        self,
        ids: list[str],
        reads: Iterable[str],
        settings: dict[str, Any],
        as_of: Any,
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float]]:
        """Run detectors ``ids`` (and those they use, all ``component``) per component.

        Returns each detector's flags as dicts (:meth:`engine.flags.Flag.to_dict`) and the
        seconds its own code took, summed over the tasks.
        """
        from pyspark.sql import functions as F

        from engine.spark.components import connected_components

        t0 = time.perf_counter()
        present = [n for n in sorted(set(reads)) if self.graph.frame(n) is not None]
        edge_parts, row_parts = [], []
        for name in present:
            df = self.graph.frame(name)
            key = _key_column(name)
            for ref in _ref_columns(name):
                if ref in df.columns and ref != key:
                    edge_parts.append(
                        df.select(
                            F.col(key).cast("string").alias("u"),
                            F.col(ref).cast("string").alias("v"),
                        )
                    )
            edge_parts.append(
                df.select(
                    F.col(key).cast("string").alias("u"), F.col(key).cast("string").alias("v")
                )
            )
            row_parts.append(
                df.select(
                    F.col(key).cast("string").alias("_key"),
                    F.lit(name).alias("_name"),
                    F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("_row"),
                )
            )
        if not row_parts:
            return {i: [] for i in ids}, {}
        edges = edge_parts[0]
        for part in edge_parts[1:]:
            edges = edges.unionByName(part)
        comps = connected_components(edges)
        rows = row_parts[0]
        for part in row_parts[1:]:
            rows = rows.unionByName(part)
        rows = rows.join(comps, rows["_key"] == comps["node"], "left").select(
            F.coalesce("component", "_key").alias("_component"), "_name", "_row"
        )
        buckets = self.buckets
        rows = rows.withColumn("_bucket", F.abs(F.hash("_component")) % buckets)
        self.add_time("graph: connected components (planned)", time.perf_counter() - t0)

        payload = json.dumps(
            {
                "ids": ids,
                "as_of": as_of.isoformat(),
                "settings": {k: _settings_dict(v) for k, v in settings.items()},
            }
        )

        def task(frame: Any) -> Any:
            return _run_bucket(frame, payload)

        t1 = time.perf_counter()
        out = (
            rows.select("_bucket", "_name", "_row")
            .groupBy("_bucket")
            .applyInPandas(task, "detector string, flag string, seconds double")
            .collect()
        )
        self.add_time("graph: detectors per component", time.perf_counter() - t1)
        flags: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        seconds: dict[str, float] = {}
        for r in out:
            if r["flag"] is None:
                seconds[r["detector"]] = seconds.get(r["detector"], 0.0) + float(r["seconds"])
            elif r["detector"] in flags:
                flags[r["detector"]].append(json.loads(r["flag"]))
        return flags, seconds


def _settings_dict(value: Any) -> dict[str, Any]:
    from engine.settings import settings_to_dict

    return settings_to_dict(value)


def _run_bucket(frame: Any, payload: str) -> Any:
    """One task: rebuild the bucket's tables in an embedded store, run the detectors there."""
    import datetime as dt

    import pandas as pd

    from engine.runner import parse_settings, run_detectors
    from graph_models.memory_store import MemoryStore

    job = json.loads(payload)
    store = MemoryStore()
    for name, part in frame.groupby("_name", sort=True):
        table = pd.DataFrame.from_records([json.loads(r) for r in part["_row"]])
        if is_relationship(name):
            store.upsert_relationships(name, table)
        else:
            store.upsert_nodes(name, table)
    result = run_detectors(
        store,
        settings=parse_settings(job["settings"]),
        only=job["ids"],
        as_of=dt.date.fromisoformat(job["as_of"]),
    )
    out = [
        (f.detector, json.dumps(f.to_dict(), ensure_ascii=False, default=str), 0.0)
        for f in result.flags
    ]
    out += [(d, None, s) for d, s in result.timings.items()]
    return pd.DataFrame(out, columns=["detector", "flag", "seconds"])
