"""Vectorised cross-matching of registers: typed DuckDB views over store frames, joined in SQL.

Detectors that compare registers (payments against deaths, payroll, prison terms, the household
roster...) express the comparison as one SQL join over whole tables instead of a Python loop over
rows. The engine is DuckDB, chosen by measurement (``bench/bench_aid.py --micro``: 1M x 1M rows
keyed by an 18-character resident ID, 2-core machine, medians of 3; results in
``bench/results/aid-*-micro.json``). With keys as object strings — what the memory store hands
detectors — the inner join took DuckDB 0.72 s, Polars 1.43 s (it must convert the Python
strings), pandas ``merge`` 2.12 s; the shared-phone self-join DuckDB 0.69 s, Polars 1.28 s, pandas
1.82 s; the semi-join DuckDB 0.72 s, Polars 0.51 s, pandas ``isin`` 2.42 s (17.7 s on Arrow-backed
strings, pandas 3's default). Polars is as fast or faster only when its input is already Arrow.
DuckDB also scans pandas frames in place (no copy into the database), does the date arithmetic
and the per-flag evidence aggregation (lists of structs) in SQL, and spills to disk under its
memory limit.

Frames from the store carry ISO date strings and may have all-null columns (an optional column no
row filled); :meth:`CrossMatch.register` therefore declares a type per column and casts once, in a
view, so every query sees ``DATE``/``DOUBLE``/``VARCHAR`` whatever the frame held.

Examples
--------
>>> import pandas as pd
>>> cm = CrossMatch()
>>> cm.register("pay", pd.DataFrame({"who": ["A", "B"], "paid": ["2021-01-05", "2021-04-01"]}),
...             {"who": "text", "paid": "date"})
>>> cm.register("died", pd.DataFrame({"who": ["B"], "day": ["2021-02-01"]}), {"who": "text", "day": "date"})
>>> cm.query("SELECT who, CAST(paid AS VARCHAR) AS paid FROM pay JOIN died USING (who) "
...          "WHERE paid > day").to_dict("records")
[{'who': 'B', 'paid': '2021-04-01'}]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["COLUMN_TYPES", "CrossMatch"]

#: Declared column type -> SQL cast applied in the typed view.
COLUMN_TYPES = {
    "text": "CAST({col} AS VARCHAR)",
    "date": "TRY_CAST(CAST({col} AS VARCHAR) AS DATE)",
    "float": "TRY_CAST({col} AS DOUBLE)",
    "int": "TRY_CAST({col} AS BIGINT)",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_dates(col: pa.ChunkedArray) -> pa.Array | None:
    """ISO date strings as Arrow dates, converted once here instead of by every query that reads
    them (at a million households a register's view would parse 12 million dates per query);
    a dictionary column converts its distinct values only. None when the column is not text or
    holds a value Arrow's strict ISO parser refuses (then the view's ``TRY_CAST`` decides, as
    for any column: Arrow and DuckDB agree on every value Arrow accepts).

    Examples
    --------
    >>> _arrow_dates(pa.chunked_array([["2021-01-05", None]])).to_pylist()
    [datetime.date(2021, 1, 5), None]
    >>> _arrow_dates(pa.chunked_array([["2021-1-5"]])) is None
    True
    """
    typ = col.type
    value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        return None
    try:
        if pa.types.is_dictionary(typ):
            arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            return pa.DictionaryArray.from_arrays(
                arr.indices, arr.dictionary.cast(pa.date32())
            ).dictionary_decode()
        return col.cast(pa.date32()).combine_chunks()
    except pa.ArrowException:  # a value Arrow refuses, or chunks it cannot combine
        return None


class CrossMatch:
    """A DuckDB session holding typed views over pandas frames.

    Parameters
    ----------
    threads : int, optional
        DuckDB worker threads (default: DuckDB's choice, one per core).
    memory_limit : str, optional
        DuckDB memory limit such as ``"8GB"``; beyond it DuckDB spills to a temporary directory.

    Notes
    -----
    Frames are scanned in place: keep a reference to a registered frame for as long as the
    session is used (this class does).
    """

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        import duckdb

        self.con = duckdb.connect(database=":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute("SET memory_limit = ?", [memory_limit])
        # spills go to the system temp directory (DuckDB's in-memory default is ./.tmp, i.e.
        # wherever the user happened to start riskgraph); DuckDB removes its files on close
        spill = os.path.join(tempfile.gettempdir(), f"riskgraph-duckdb-{os.getpid()}")
        self.con.execute("SET temp_directory = ?", [spill])
        self.con.execute("SET preserve_insertion_order = false")
        self._frames: dict[str, Any] = {}
        self._names: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def register(
        self, name: str, frame: pd.DataFrame | pa.Table, columns: Mapping[str, str]
    ) -> None:
        """Expose ``frame`` (pandas, or Arrow: scanned in place) as view ``name`` with the
        declared ``columns`` (name -> type).

        Columns the frame lacks become typed NULLs, so optional columns need no special case.
        """
        raw = f"_raw_{name}"
        names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
        present = [c for c in columns if c in names]
        # DuckDB scans need at least one column; a frame with none of ours still has its row count
        typed: set[str] = set()
        if isinstance(frame, pa.Table):
            source: Any = (
                frame.select(present) if present
                else pa.table({"_row": pa.array(range(frame.num_rows), pa.int64())})
            )  # fmt: skip
            for col in present:
                if columns[col] == "date":
                    dates = _arrow_dates(source.column(col))
                    if dates is not None:
                        source = source.set_column(source.schema.get_field_index(col), col, dates)
                        typed.add(col)
        else:
            source = frame[present] if present else pd.DataFrame({"_row": range(len(frame))})
        self._frames[raw] = source
        self.con.register(raw, source)
        select = []
        for col, kind in columns.items():
            cast = "{col}" if col in typed else COLUMN_TYPES[kind]
            expr = cast.format(col=_quote(col)) if col in present else cast.format(col="NULL")
            select.append(f"{expr} AS {_quote(col)}")
        self.con.execute(
            f"CREATE OR REPLACE VIEW {_quote(name)} AS SELECT {', '.join(select)} FROM {_quote(raw)}"
        )
        self._names.add(name)

    def materialise(self, name: str, sql: str, params: list[Any] | None = None) -> None:
        """Run ``sql`` once and keep its result as table ``name`` (for results several queries reuse)."""
        self.con.execute(f"CREATE OR REPLACE TABLE {_quote(name)} AS {sql}", params or [])
        self._names.add(name)

    def view(self, name: str, sql: str) -> None:
        """Define view ``name`` as ``sql`` (evaluated by every query that reads it)."""
        self.con.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS {sql}")
        self._names.add(name)

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` and return a pandas frame (dates come back as ``datetime64``)."""
        return self.con.execute(sql, params or []).df()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` and return plain Python rows (lists and structs stay lists and dicts).

        The cheap way to build one object per result row: no DataFrame per row.
        """
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """First column of the first row of ``sql``."""
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]
