"""DuckDB SQL -> Spark SQL: parameters bind as literals that mean the same value in both engines."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.spark.sql import bind, table_names, to_spark

_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(_text, st.integers(-(2**62), 2**62), st.dates(), st.lists(_text, max_size=4)))
def test_bound_literal_reads_back_as_the_value(value):
    got = duckdb.execute(bind("SELECT ? AS x", [value])).fetchone()[0]
    assert got == value


def test_question_marks_in_strings_and_comments_are_not_parameters():
    sql = "SELECT '?' AS a, ? AS b -- what?\n"
    assert bind(sql, [1]) == "SELECT '?' AS a, 1 AS b -- what?\n"
    with pytest.raises(ValueError):
        bind("SELECT ?, ?", [1])


def test_detector_idioms_transpile():
    sql = (
        'SELECT person_id, list_slice(list(struct_pack("table" := _table, d := paid_date) '
        "ORDER BY paid_date DESC, id), 1, 50) AS rows, string_agg(DISTINCT position, '、') AS pos, "
        "arg_max(region_code, struct_pack(d := paid_date, i := id)) AS region "
        "FROM payments WHERE paid_date > died + to_days(CAST(? AS INTEGER)) "
        "AND program IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL"
    )
    out = to_spark(sql, [31, ["a"]])
    assert "DATE_ADD(died, CAST(31 AS INT))" in out
    assert "SLICE(TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(" in out
    assert "ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(position)), '、')" in out
    assert "MAX_BY(region_code, STRUCT(paid_date AS d, id AS i))" in out
    assert "list_slice" not in out.lower() and "to_days" not in out.lower()
    assert table_names(sql) == {"payments"}


def test_dates_bind_as_date_literals():
    assert bind("SELECT ?::DATE", [dt.date(2024, 2, 29)]) == "SELECT DATE '2024-02-29'::DATE"
