"""A workspace's graph tables as Spark DataFrames: the interface between the store and Spark.

The embedded store persists each node label as ``graph/nodes/<Label>.parquet`` and each
relationship type as ``graph/relationships/<TYPE>.parquet`` (a file, or a directory of Parquet
files when the loader writes partitions); Spark reads both, from a local path or any URI its
Hadoop file systems know (``hdfs://``, ``s3a://``, ``oss://`` with the connector on the class
path). Nothing is read until a query runs: a table is a lazy DataFrame.

:meth:`SparkGraph.typed` is the typed view the SQL detectors query: the graph model's columns
(:mod:`engine.tables`) cast to their engine types, a column the data lacks as a typed NULL --
the same declaration the DuckDB views are built from.

:class:`SparkGraph` also answers the part of the store interface the runner asks of any store
(``counts``), and, for a step that runs on the driver by declaration, ``nodes`` /
``relationships`` as pandas frames.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from engine.tables import column_types, is_relationship
from graph_models.schema import SCHEMA

__all__ = ["SPARK_TYPES", "SparkGraph"]

#: engine type of a column -> Spark SQL type of the typed view
SPARK_TYPES = {
    "text": "string",
    "date": "date",
    "float": "double",
    "int": "bigint",
    "bool": "boolean",
}


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


class SparkGraph:
    """The graph tables under ``root`` (a workspace's ``graph`` directory or its URI).

    Parameters
    ----------
    spark : SparkSession
    root : str
        ``.../graph``: holds ``nodes/`` and ``relationships/``.
    """

    def __init__(self, spark: Any, root: str) -> None:
        self.spark = spark
        self.root = str(root)
        self._frames: dict[str, Any] = {}
        self._counts: dict[str, int] | None = None
        jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._jpath = jvm.org.apache.hadoop.fs.Path
        self._fs = self._jpath(self.root).getFileSystem(conf)

    def path(self, name: str) -> str:
        """Where label or relationship type ``name`` is stored."""
        kind = "relationships" if is_relationship(name) else "nodes"
        return _join(self.root, kind, f"{name}.parquet")

    def exists(self, name: str) -> bool:
        """Whether the workspace holds a table for ``name``."""
        return bool(self._fs.exists(self._jpath(self.path(name))))

    def frame(self, name: str) -> Any | None:
        """The stored table as a Spark DataFrame (None when the workspace has none)."""
        if name not in self._frames:
            self._frames[name] = (
                self.spark.read.parquet(self.path(name)) if self.exists(name) else None
            )
        return self._frames[name]

    def typed(self, name: str) -> Any:
        """The graph model's columns of ``name`` cast to their types (absent ones as NULL)."""
        from pyspark.sql import functions as F

        raw = self.frame(name)
        types = column_types(name)
        if raw is None:
            schema = ", ".join(f"`{c}` {SPARK_TYPES[t]}" for c, t in types.items())
            return self.spark.createDataFrame([], schema)
        have = set(raw.columns)
        cols = []
        for col, kind in types.items():
            source = F.col(f"`{col}`") if col in have else F.lit(None)
            if kind == "date":
                source = source.cast("string")
            cols.append(source.cast(SPARK_TYPES[kind]).alias(col))
        return raw.select(*cols)

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per stored label and relationship type (the store interface's ``counts``)."""
        if self._counts is None:
            self._counts = {}
            for name in [*SCHEMA.nodes, *SCHEMA.relationships]:
                df = self.frame(name)
                if df is not None:
                    self._counts[name] = df.count()
        out: dict[str, dict[str, int]] = {"nodes": {}, "relationships": {}}
        for name, n in self._counts.items():
            out["relationships" if is_relationship(name) else "nodes"][name] = n
        return out

    def _pandas(self, name: str, columns: Any = None) -> pd.DataFrame:
        from graph_models.memory_store import MemoryStore

        df = self.frame(name)
        store = MemoryStore()
        if df is not None:
            rows = df.toPandas()
            if is_relationship(name):
                store.upsert_relationships(name, rows)
            else:
                store.upsert_nodes(name, rows)
        read = store.relationships if is_relationship(name) else store.nodes
        return read(name, columns)

    def nodes(self, label: str, columns: Any = None) -> pd.DataFrame:
        """Every node of ``label`` collected to the driver (only for steps placed there)."""
        return self._pandas(label, columns)

    def relationships(self, rtype: str, columns: Any = None) -> pd.DataFrame:
        """Every relationship of ``rtype`` collected to the driver (only for steps placed there)."""
        return self._pandas(rtype, columns)
