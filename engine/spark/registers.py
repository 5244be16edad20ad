"""The aid registers on Spark: the same views, derived tables and queries as the DuckDB session.

:mod:`engine.aid_registers` declares the registers (which label or relationship type each shows),
the derived tables (``households``, ``roster``, ``payments``, ``household_periods``) and their SQL;
the detectors write their queries against them. Here every register is a temporary view over the
workspace's typed Parquet table (:meth:`engine.spark.tables.SparkGraph.typed`), every derived
table the transpiled SQL of the same declaration (persisted when the declaration says
``table``), and every query the transpiled text of the detector's own (:mod:`engine.spark.sql`).
Only query results reach the driver -- the rows a detector turns into findings.

A detector sees only the registers its ``reads`` cover, as on DuckDB: a query naming another
fails with :class:`engine.context.UndeclaredAccess` before it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from engine.aid_registers import _DERIVED, _ON_DEMAND, _REGISTERS, _labels
from engine.context import DetectorContext, UndeclaredAccess
from engine.spark.sql import table_names, to_spark

__all__ = ["SparkAidRegisters", "plain"]


def plain(value: Any) -> Any:
    """A Spark result value as the DuckDB client returns it (Rows as dicts, lists as lists)."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: plain(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class _SparkSession:
    """The run's registers on Spark: which exist, what each detector may see, person names."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.spark = graph.spark
        self.built: set[str] = set()
        self.visible: dict[str, set[str]] = {}
        self.cached: list[Any] = []

    def build(self, name: str, ctx: DetectorContext) -> None:
        if name in self.built:
            return
        if name in _REGISTERS:
            ctx.check_reads([_REGISTERS[name]])
            df = self.graph.typed(_REGISTERS[name])
        else:
            deps, kind, sql = _DERIVED[name]
            for dep in deps:
                self.build(dep, ctx)
            params = [ctx.as_of] if name == "household_periods" else None
            df = self.spark.sql(to_spark(sql, params))
            if kind == "table":
                # checkpointed, not persisted: later SQL over these views then plans against a
                # leaf, not the whole query that built it (a cached relation keeps its plan,
                # and the rings' projection over several of them took minutes to plan)
                df = df.localCheckpoint()
                self.cached.append(df)
        df.createOrReplaceTempView(name)
        self.built.add(name)

    def visible_for(self, ctx: DetectorContext) -> set[str]:
        if ctx.detector_id not in self.visible:
            self.visible[ctx.detector_id] = {
                name
                for name in [*_REGISTERS, *_DERIVED]
                if name not in _ON_DEMAND and _labels(name) <= ctx.reads
            }
        return self.visible[ctx.detector_id]

    def close(self) -> None:
        for df in self.cached:
            df.unpersist()
        self.cached.clear()


class SparkAidRegisters:
    """One detector's view of the aid registers on Spark (same interface as
    :class:`engine.aid_registers.AidRegisters`)."""

    def __init__(self, ctx: DetectorContext) -> None:
        self.ctx = ctx
        engine = ctx.run.engine
        self._session: _SparkSession = ctx.memo(
            "aid.registers.spark", lambda: engine.track(_SparkSession(engine.graph))
        )
        self._visible = self._session.visible_for(ctx)
        self.as_of = ctx.as_of

    def _df(self, sql: str, params: list[Any] | None) -> Any:
        for name in sorted(table_names(sql)):
            if name in _REGISTERS or name in _DERIVED:
                if name not in self._visible:
                    labels = ", ".join(sorted(_labels(name) - self.ctx.reads)) or name
                    raise UndeclaredAccess(
                        f"{self.ctx.detector_id} reads {labels} (register {name}), which it "
                        "does not declare: add it to reads=... in its @detector registration"
                    )
                self._session.build(name, self.ctx)
        return self._session.spark.sql(to_spark(sql, params))

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` on Spark and return a pandas frame (dates as ``datetime64``, as DuckDB)."""
        from pyspark.sql.types import DateType

        df = self._df(sql, params)
        dates = [f.name for f in df.schema.fields if isinstance(f.dataType, DateType)]
        rows = [plain(r.asDict(recursive=False)) for r in df.collect()]
        frame = pd.DataFrame.from_records(rows, columns=df.columns)
        for col in dates:
            frame[col] = pd.to_datetime(frame[col])
        return frame

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` on Spark and return plain Python rows."""
        return [plain(r.asDict(recursive=False)) for r in self._df(sql, params).collect()]

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """First column of the first row of ``sql``."""
        row = self._df(sql, params).first()
        return None if row is None else plain(row[0])

    def each_group(
        self,
        sql: str,
        by: str,
        order: str,
        fn: Any,
        params: list[Any] | None = None,
    ) -> list[Any]:
        """``fn`` per group of ``sql``'s rows sharing ``by``, in a Spark task per group
        (``applyInPandas``); only the findings come back (see the DuckDB registers)."""
        import cloudpickle

        from engine.flags import Finding

        df = self._df(sql, params)
        columns = df.columns
        dates = [f.name for f in df.schema.fields if type(f.dataType).__name__ == "DateType"]
        blob = cloudpickle.dumps(fn)

        def task(part: pd.DataFrame) -> pd.DataFrame:
            import json as _json

            import cloudpickle as _cp

            from engine.flags import jsonable

            for col in dates:
                part[col] = pd.to_datetime(part[col])
            part = part[columns].sort_values(order, kind="stable").reset_index(drop=True)
            rows = []
            for f in _cp.loads(blob)(part):
                d = {k: getattr(f, k) for k in f.__dataclass_fields__}
                rows.append((str(part[by].iloc[0]), _json.dumps(jsonable(d), ensure_ascii=False)))
            return pd.DataFrame(rows, columns=["_group", "finding"])

        got = df.groupBy(by).applyInPandas(task, "_group string, finding string").collect()
        found = sorted(((r["_group"], i, r["finding"]) for i, r in enumerate(got)))
        return [Finding(**json.loads(f)) for _, _, f in found]

    def find_rings(self, memberships_sql: str, groups_sql: str, **settings: Any) -> list[Any]:
        """Rings with the projection on Spark and Leiden per component (engine.spark.rings)."""
        from engine.spark.rings import find_rings_spark

        memberships = self._df(memberships_sql, None)
        groups = self._df(groups_sql, None)
        return find_rings_spark(self.ctx.run.engine, memberships, groups, **settings)

    def household_periods(self) -> str:
        """Name of the table of each household's aid period (see the DuckDB registers)."""
        if not _labels("household_periods") <= self.ctx.reads:
            missing = ", ".join(sorted(_labels("household_periods") - self.ctx.reads))
            raise UndeclaredAccess(
                f"{self.ctx.detector_id} reads {missing} (register household_periods), which it "
                "does not declare: add it to reads=... in its @detector registration"
            )
        self._session.build("household_periods", self.ctx)
        self._visible.add("household_periods")
        return "household_periods"

    def names(self, person_ids: Iterable[str]) -> dict[str, str]:
        """Person id -> name for ``person_ids`` (looked up on Spark: only these come back)."""
        self.ctx.check_reads(["Person"])
        wanted = list(dict.fromkeys(p for p in person_ids if isinstance(p, str)))
        persons = self._session.graph.frame("Person")
        if not wanted or persons is None or "name" not in persons.columns:
            return {}
        spark = self._session.spark
        ids = spark.createDataFrame([(p,) for p in wanted], "id string")
        found = (
            persons.select("id", "name")
            .where("name IS NOT NULL")
            .join(ids.hint("broadcast"), "id")
            .collect()
        )
        out: dict[str, str] = {}
        for r in found:
            out.setdefault(str(r["id"]), str(r["name"]))
        return out

    def name_of(self, person_id: str | None, names: dict[str, str]) -> str:
        """The person's name, or the id itself when the registers give no name."""
        if person_id is None:
            return "?"
        return names.get(person_id, person_id)
