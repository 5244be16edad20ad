"""A register's dates read the same whether Arrow converts them once or the view casts them."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.crossmatch import CrossMatch

_ISO = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat)
_ODD = st.sampled_from(["2021-02-29", "2021-1-5", " 2021-01-05", "20210105", "", "-2021-01-01",
                        "2021-01-05T00:00", "1900-02-29", "x"])  # fmt: skip
_VALUES = st.lists(st.one_of(_ISO, _ODD, st.none()), max_size=30)


def _read(table: pa.Table) -> list:
    cm = CrossMatch()
    cm.register("t", table, {"d": "date", "n": "int"})
    return [r["d"] for r in cm.rows("SELECT d FROM t ORDER BY n")]


def _cast_by_sql(values: list) -> list:
    cm = CrossMatch()
    frame = pa.table({"d": pa.array(values, pa.string()), "n": range(len(values))}).to_pandas()
    cm.register("t", frame, {"d": "date", "n": "int"})  # a pandas frame: always the SQL cast
    return [r["d"] for r in cm.rows("SELECT d FROM t ORDER BY n")]


@settings(max_examples=60, deadline=None)
@given(_VALUES, st.booleans())
def test_arrow_dates_read_as_the_view_casts_them(values, dictionary):
    col = pa.array(values, pa.string())
    if dictionary:
        col = col.dictionary_encode()
    table = pa.table({"d": col, "n": pa.array(range(len(values)), pa.int64())})
    assert _read(table) == _cast_by_sql(values)


def test_chunks_with_their_own_dictionaries():
    parts = [pa.array(["2021-01-05", "2021-01-05"]).dictionary_encode(),
             pa.array(["2022-03-01", None]).dictionary_encode()]  # fmt: skip
    table = pa.table({"d": pa.chunked_array(parts), "n": pa.array(range(4), pa.int64())})
    assert _read(table) == [dt.date(2021, 1, 5), dt.date(2021, 1, 5), dt.date(2022, 3, 1), None]
