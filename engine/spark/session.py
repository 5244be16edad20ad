"""The Spark session a scan runs in: spark-submit's, or one started here (local mode by default).

Where the master comes from, first match wins:

1. ``--spark-master`` (the ``master`` argument);
2. a session spark-submit already started (``spark-submit --master yarn ... riskgraph ...``):
   its master, configuration and resources are used as they are;
3. ``SPARK_MASTER`` in the environment (``local[2]``, ``spark://host:7077``, ``yarn``,
   ``k8s://https://...``);
4. ``local[*]``.

Everything else is Spark's own configuration (``spark-defaults.conf``, ``SPARK_CONF_DIR``,
``PYSPARK_SUBMIT_ARGS``, ``--conf`` on spark-submit). Settings riskgraph needs whatever the
cluster: the session time zone is UTC (dates are calendar dates, never shifted), ANSI mode off
(a malformed date in a register reads as missing, as in the embedded engine). In local mode the
executors' Python is this interpreter (``PYSPARK_PYTHON`` overrides), the UI is off and shuffles
use a few partitions (``spark.sql.shuffle.partitions`` overrides).
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["LOCAL_DEFAULT", "spark_available", "spark_session"]

#: The master used when nothing says otherwise.
LOCAL_DEFAULT = "local[*]"


def spark_available() -> bool:
    """Whether pyspark is installed (the ``riskgraph[spark]`` extra)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """The active Spark session, or a new one on ``master`` (module doc: where it comes from).

    Raises RuntimeError naming the extra to install when pyspark is missing.
    """
    if not spark_available():
        raise RuntimeError(
            "the Spark engine needs pyspark: pip install 'riskgraph[spark]' (or run under "
            "spark-submit, whose pyspark is used)"
        )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    chosen = master or (None if under_submit else os.environ.get("SPARK_MASTER") or LOCAL_DEFAULT)
    builder = SparkSession.builder.appName("riskgraph")
    if chosen:
        builder = builder.master(chosen)
    local = bool(chosen) and chosen.startswith("local")
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"))
            .config("spark.default.parallelism", "4")
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
        )
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.adaptive.enabled", "true")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "ERROR"))
    return session
