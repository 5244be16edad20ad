"""Open the Spark side of a scan over a store's persisted graph tables.

Examples
--------
A scan on Spark from Python (what ``riskgraph scan --engine spark`` does)::

    with spark_engine(store, "local[2]") as (engine, seconds):
        result = run_detectors(store, engine=engine)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.spark.engine import SparkEngine

__all__ = ["graph_root", "spark_engine"]


def graph_root(store: Any, spark_graph: str | None = None) -> str:
    """Where Spark reads the graph tables: ``spark_graph``, else the store's persisted tables.

    The embedded store is flushed first so its Parquet files hold what was loaded. A store that
    persists no Parquet tables needs ``spark_graph`` (RuntimeError otherwise).
    """
    if spark_graph:
        return spark_graph
    locate = getattr(store, "parquet_dir", None)
    root = locate() if locate is not None else None
    if root is None:
        raise RuntimeError(
            f"--engine spark reads Parquet graph tables: the {store.name} store keeps none; "
            "give their location with --spark-graph (e.g. hdfs://.../graph)"
        )
    return str(root)


@contextmanager
def spark_engine(
    store: Any, master: str | None = None, spark_graph: str | None = None
) -> Iterator[tuple[SparkEngine, float]]:
    """A :class:`SparkEngine` over ``store``'s graph tables and the seconds the session took."""
    from engine.spark.session import spark_session

    root = graph_root(store, spark_graph)
    t0 = time.perf_counter()
    session = spark_session(master)
    engine = SparkEngine(session, root)
    started = round(time.perf_counter() - t0, 3)
    try:
        yield engine, started
    finally:
        engine.close()
