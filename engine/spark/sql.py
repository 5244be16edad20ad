"""One SQL text per detector, two engines: DuckDB SQL transpiled to Spark SQL with sqlglot.

The cross-register detectors state their logic once, as DuckDB SQL (:mod:`engine.aid_registers`).
On Spark the same text is parsed by sqlglot's DuckDB dialect, rewritten by the few transforms
below where the two engines differ in more than spelling, and generated in sqlglot's Spark
dialect -- the approach Splink takes for its DuckDB and Spark backends. Nobody writes a second
dialect by hand.

What sqlglot does not carry over by itself, and the transform that does:

``?`` parameters
    bound as literals before parsing (:func:`bind`): ``?::DATE`` and ``unnest(?::VARCHAR[])``
    then parse as ordinary casts and list literals.
``date + to_days(n)``
    becomes ``DATE_ADD(date, n)`` (Spark adds days to a date, not an interval of days).
``list(x ORDER BY k1, k2 DESC)``
    Spark 3.5 has no ordered aggregate: ``TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(k1, k2, x)),
    comparator), e -> e.v)``, the comparator honouring each key's direction and DuckDB's
    ``NULLS LAST`` default.
``list_slice(l, a, b)``
    becomes ``SLICE(l, a, b - a + 1)`` (DuckDB's end is inclusive, Spark takes a length).
``WITH x AS [NOT] MATERIALIZED``
    loses the hint (Spark plans CTEs itself).
``HUGEINT``
    becomes ``DECIMAL(38, 0)`` (Spark's widest integer).
``string_agg(x, sep)``
    becomes ``ARRAY_JOIN(COLLECT_LIST(x), sep)`` (``COLLECT_SET`` for ``DISTINCT``; its
    ``ORDER BY`` as above).

Examples
--------
>>> to_spark("SELECT who FROM pay WHERE paid > died + to_days(CAST(? AS INTEGER))", [31])
'SELECT who FROM pay WHERE paid > DATE_ADD(died, CAST(31 AS INT))'
>>> to_spark("SELECT list_slice(list(id ORDER BY day DESC), 1, 2) FROM t")
'SELECT SLICE(TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(day AS _k0, id AS _v)), (l, r) -> CASE WHEN l._k0 IS NULL AND r._k0 IS NULL THEN 0 WHEN l._k0 IS NULL THEN 1 WHEN r._k0 IS NULL THEN -1 WHEN l._k0 < r._k0 THEN 1 WHEN l._k0 > r._k0 THEN -1 ELSE 0 END), e -> e._v), 1, 2) FROM t'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["bind", "table_names", "to_spark"]

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?")


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if value != value:  # NaN
            return "CAST('NaN' AS DOUBLE)"
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(f"cannot bind a {type(value).__name__} as an SQL literal")


def bind(sql: str, params: Sequence[Any] | None = None) -> str:
    """Replace each ``?`` outside quotes and comments by the next parameter, as a literal.

    Examples
    --------
    >>> bind("SELECT '?' AS q, ? AS a, ?::DATE AS b, unnest(?::VARCHAR[])",
    ...      ["it's", dt.date(2024, 1, 2), ["x"]])
    "SELECT '?' AS q, 'it''s' AS a, DATE '2024-01-02'::DATE AS b, unnest(['x']::VARCHAR[])"
    """
    values = list(params or [])
    used = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal used
        if m.group(0) != "?":
            return m.group(0)
        if used >= len(values):
            raise ValueError(f"the SQL has more ? placeholders than the {len(values)} parameters")
        used += 1
        return _literal(values[used - 1])

    out = _TOKEN.sub(sub, sql)
    if used != len(values):
        raise ValueError(f"{len(values)} parameters for {used} ? placeholders")
    return out


def _t(node: Any) -> Any:
    """A copy of ``node`` with the transforms applied inside it too."""
    return node.copy().transform(_transform)


def _comparator(keys: list[Any]) -> str:
    """Spark ``array_sort`` comparator over struct fields ``_k0..`` (DuckDB ordering)."""
    out = "0"
    for i in reversed(range(len(keys))):
        k = f"_k{i}"
        ordered = keys[i]
        desc = bool(ordered.args.get("desc"))
        nulls_first = bool(ordered.args.get("nulls_first"))
        lt, gt = ("1", "-1") if desc else ("-1", "1")
        null_l, null_r = ("-1", "1") if nulls_first else ("1", "-1")
        out = (
            f"CASE WHEN l.{k} IS NULL AND r.{k} IS NULL THEN {out} "
            f"WHEN l.{k} IS NULL THEN {null_l} WHEN r.{k} IS NULL THEN {null_r} "
            f"WHEN l.{k} < r.{k} THEN {lt} WHEN l.{k} > r.{k} THEN {gt} ELSE {out} END"
        )
    return out


def _ordered_collect(value: Any, order: Any, distinct: bool = False) -> Any:
    from sqlglot import exp, parse_one

    keys = list(order.expressions)
    fields = [exp.alias_(_t(k.this), f"_k{i}") for i, k in enumerate(keys)]
    fields.append(exp.alias_(_t(value), "_v"))
    agg = "COLLECT_SET" if distinct else "COLLECT_LIST"
    template = parse_one(
        f"TRANSFORM(ARRAY_SORT({agg}(STRUCT(__fields__)), (l, r) -> {_comparator(keys)}), "
        "e -> e._v)",
        read="spark",
    )
    struct = template.find(exp.Struct)
    struct.set("expressions", fields)
    return template


def _transform(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # a planner hint Spark's grammar lacks
        return node
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.Add) and isinstance(node.expression, exp.ToDays):
        return exp.DateAdd(
            this=_t(node.this),
            expression=_t(node.expression.this),
            unit=exp.var("DAY"),
        )
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        return _ordered_collect(node.this.this, node.this)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "list_slice":
        arr, start, end = node.expressions
        length = exp.Add(
            this=exp.Sub(this=_t(end), expression=_t(start)), expression=exp.Literal.number(1)
        )
        if isinstance(start, exp.Literal) and isinstance(end, exp.Literal):
            length = exp.Literal.number(int(end.this) - int(start.this) + 1)
        return exp.func("SLICE", _t(arr), _t(start), length)
    if isinstance(node, exp.GroupConcat):
        value, distinct = node.this, False
        if isinstance(value, exp.Distinct):
            value, distinct = value.expressions[0], True
        sep = node.args.get("separator") or exp.Literal.string(",")
        if isinstance(value, exp.Order):
            collected = _ordered_collect(value.this, value, distinct)
        else:
            collected = exp.func("COLLECT_SET" if distinct else "COLLECT_LIST", _t(value))
            if distinct:
                collected = exp.func("ARRAY_SORT", collected)
        return exp.func("ARRAY_JOIN", collected, sep.copy())
    return node


def to_spark(sql: str, params: Sequence[Any] | None = None) -> str:
    """DuckDB ``sql`` (with ``?`` ``params``) as Spark SQL (module doc lists the transforms).

    Examples
    --------
    >>> to_spark("SELECT arg_max(r, d) AS r, ?::DATE AS day FROM t GROUP BY ALL",
    ...          [dt.date(2024, 1, 1)])
    "SELECT MAX_BY(r, d) AS r, CAST(CAST('2024-01-01' AS DATE) AS DATE) AS day FROM t GROUP BY ALL"
    """
    import sqlglot

    tree = sqlglot.parse_one(bind(sql, params), read="duckdb")
    return tree.transform(_transform).sql(dialect="spark")


def table_names(sql: str) -> set[str]:
    """The tables (not CTEs) a DuckDB query reads.

    Examples
    --------
    >>> sorted(table_names("WITH d AS (SELECT * FROM deaths) SELECT * FROM payments JOIN d USING (x)"))
    ['deaths', 'payments']
    """
    import sqlglot
    from sqlglot import exp

    n = sum(1 for m in _TOKEN.finditer(sql) if m.group(0) == "?")
    tree = sqlglot.parse_one(bind(sql, ["0"] * n), read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}
