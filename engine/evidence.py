"""Evidence and wording shared by every detector family: source records, amounts, ratios, dates.

* **Records** -- a matched source row as evidence is ``{"table", "line", <fields>}``: the source
  table and line first (from the loaders' ``_table`` / ``_line`` provenance), then the fields the
  reviewer needs. :func:`record` builds one from a row, :func:`records` from a frame and
  :func:`record_list` in SQL (one aggregate per flag, for the DuckDB cross-matches). A flag lists
  every record (a deceased recipient's 53 payments are 53 records): pages show
  :data:`EVIDENCE_LIMIT` at a time and say "50 of 53", exports list them all.
* **Amounts** in yuan: :func:`yuan_zh` / :func:`yuan_en` write the exact amount (cents only when
  there are any); :func:`scaled_zh` writes large amounts the way Chinese finance texts do, in
  万元 from 10,000 yuan and in 亿元 from 100 million.
* **Ratios and dates**: :func:`pct` and :func:`iso_day`.
* :func:`stable_id` -- a short id from a set of members (circles, cycles), stable across runs.

Examples
--------
>>> record({"id": "g1", "amount": 5.0, "_table": "guarantees", "_line": 3}, ["id", "amount"])
{'table': 'guarantees', 'line': 3, 'id': 'g1', 'amount': 5.0}
>>> yuan_zh(1234.5), yuan_en(3600), scaled_zh(12_345_000), scaled_zh(250_000_000)
('1,234.50元', 'CNY 3,600', '1,234.5万元', '2.5亿元')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from engine.flags import jsonable

__all__ = [
    "EVIDENCE_LIMIT",
    "iso_day",
    "pct",
    "plain_codes",
    "record",
    "record_list",
    "records",
    "scaled_zh",
    "stable_id",
    "yuan_en",
    "yuan_zh",
]

#: Evidence records a view shows at once (a page of the web pages, a report's table); a flag
#: itself lists every record, and a shortened view says how many it leaves out.
EVIDENCE_LIMIT = 50


# --- records ------------------------------------------------------------------------------------


def record(
    row: Mapping[str, Any], fields: Sequence[str], table: str = "_table", line: str = "_line"
) -> dict[str, Any]:
    """One source row as evidence: ``{"table", "line", <fields>}`` (a missing field is None).

    ``table`` and ``line`` name the row's provenance columns (the loaders' ``_table`` and
    ``_line``; a quarantined row's own ``table`` and ``line``).

    Examples
    --------
    >>> record({"death_date": pd.Timestamp("2021-03-02"), "_table": "deaths", "_line": 7},
    ...        ["death_date", "source"])
    {'table': 'deaths', 'line': 7, 'death_date': '2021-03-02', 'source': None}
    """
    out = {"table": jsonable(row.get(table)), "line": jsonable(row.get(line))}
    for f in fields:
        out[f] = jsonable(row.get(f))
    return out


def records(
    frame: pd.DataFrame,
    fields: Sequence[str],
    limit: int | None = None,
    table: str = "_table",
    line: str = "_line",
) -> list[dict[str, Any]]:
    """The rows of ``frame`` (the first ``limit`` if given) as evidence records (see
    :func:`record`).

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["g1"], "amount": [5.0], "_table": ["guarantees"], "_line": [3]})
    >>> records(f, ["id", "amount"])
    [{'table': 'guarantees', 'line': 3, 'id': 'g1', 'amount': 5.0}]
    """
    rows = frame if limit is None else frame.head(limit)
    return [record(r, fields, table, line) for r in rows.to_dict("records")]


def record_list(
    fields: Sequence[str], order: str, table: str = "_table", line: str = "_line"
) -> str:
    """SQL aggregate: every record of a group, in ``order``.

    Each record has the shape of :func:`record`, built in the database (one row per flag instead
    of one DataFrame per flag). A column the graph model types as a date is written as its
    ``YYYY-MM-DD`` text there, as :func:`record` writes it: the records reach Python as plain
    values, with no date object to make and convert per value.

    Examples
    --------
    >>> record_list(["payment_id", "paid_date"], "paid_date")
    'list(struct_pack("table" := _table, "line" := _line, "payment_id" := payment_id, "paid_date" := CAST(paid_date AS VARCHAR)) ORDER BY paid_date)'
    """
    dates = _date_columns()
    parts = [
        f'"table" := {table}',
        f'"line" := {line}',
        *(f'"{f}" := CAST({f} AS VARCHAR)' if f in dates else f'"{f}" := {f}' for f in fields),
    ]
    return f"list(struct_pack({', '.join(parts)}) ORDER BY {order})"


@cache
def _date_columns() -> frozenset[str]:
    """The columns the graph model types as dates (a name is a date in every table it is in)."""
    from engine.tables import column_types
    from graph_models.schema import SCHEMA

    return frozenset(
        column
        for name in [*SCHEMA.nodes, *SCHEMA.relationships]
        for column, kind in column_types(name).items()
        if kind == "date"
    )


# --- code values in explanations ---------------------------------------------------------------

_CODE = re.compile(r"(?<![A-Za-z0-9_])([a-z]+(?:_[a-z]+)*)(?![A-Za-z0-9_])")


@cache
def _code_names() -> dict[str, str]:
    """Contract code -> its Chinese name: table names (``aid_payments`` -> 扶贫资金发放) and enum
    values (``resident_medical`` -> 城乡居民医保), from ``loaders/contract.yaml``."""
    import yaml

    import loaders

    doc = yaml.safe_load((Path(loaders.__file__).parent / "contract.yaml").read_text("utf-8"))
    names: dict[str, str] = {}
    for tname, table in doc["tables"].items():
        names.setdefault(tname, table.get("zh") or tname)
        for col in table["columns"].values():
            if isinstance(col["type"], dict):
                for code, zh in col["type"]["enum"].items():
                    names.setdefault(str(code), str(zh))
    return names


def plain_codes(text: str, lang: str) -> str:
    """An explanation with the contract's code values in words: their Chinese names in ``zh``
    (``resident_medical`` -> ``城乡居民医保``), spaces for underscores in ``en``. The runner
    applies it to every flag's explanation, so no detector writes a code into a sentence.

    Examples
    --------
    >>> plain_codes("出现在aid_payments第1033行，resident_medical参保", "zh")
    '出现在扶贫资金发放第1033行，城乡居民医保参保'
    >>> plain_codes("insured under resident_medical", "en")
    'insured under resident medical'
    """
    names = _code_names()

    def word(m: re.Match[str]) -> str:
        code = m.group(1)
        if code not in names:
            return code
        return names[code] if lang == "zh" else code.replace("_", " ")

    return _CODE.sub(word, text)


# --- amounts, ratios, dates ---------------------------------------------------------------------


def _grouped(amount: float) -> str:
    amount = float(amount or 0.0)
    if abs(amount - round(amount)) < 0.005:
        return f"{round(amount):,}"
    return f"{amount:,.2f}"


def _short(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def yuan_zh(amount: float) -> str:
    """An exact amount in yuan as written in Chinese text (cents only when there are any).

    Examples
    --------
    >>> yuan_zh(3600.0), yuan_zh(1234.5)
    ('3,600元', '1,234.50元')
    """
    return _grouped(amount) + "元"


def yuan_en(amount: float) -> str:
    """An exact amount in yuan as written in English text (cents only when there are any).

    Examples
    --------
    >>> yuan_en(12_345_000), yuan_en(1234.5)
    ('CNY 12,345,000', 'CNY 1,234.50')
    """
    return "CNY " + _grouped(amount)


def scaled_zh(amount: float) -> str:
    """A large amount as Chinese finance texts write it: 元 below 10,000, then 万元, then 亿元
    (at most two decimals).

    Examples
    --------
    >>> scaled_zh(3600), scaled_zh(12_345_000), scaled_zh(50_000_000), scaled_zh(1_234_567_890)
    ('3,600元', '1,234.5万元', '5,000万元', '12.35亿元')
    """
    amount = float(amount or 0.0)
    if abs(amount) >= 100_000_000:
        return _short(amount / 100_000_000) + "亿元"
    if abs(amount) >= 10_000:
        return _short(amount / 10_000) + "万元"
    return yuan_zh(amount)


def pct(ratio: float, decimals: int = 1) -> str:
    """A ratio as a percentage.

    Examples
    --------
    >>> pct(0.5123), pct(0.5123, 0)
    ('51.2%', '51%')
    """
    return f"{100 * float(ratio):.{decimals}f}%"


def iso_day(value: Any) -> str | None:
    """A date-like value as ``YYYY-MM-DD`` (None when missing).

    Examples
    --------
    >>> iso_day(pd.Timestamp("2021-03-02")), iso_day(pd.NaT), iso_day("2021-03-02")
    ('2021-03-02', None, '2021-03-02')
    """
    plain = jsonable(value)
    return None if plain is None else str(plain)[:10]


def stable_id(prefix: str, members: Iterable[str]) -> str:
    """``prefix`` + 16 hex chars of SHA-256 over the sorted distinct members.

    Examples
    --------
    >>> stable_id("GC-", ["b", "a"]) == stable_id("GC-", ["a", "b", "a"])
    True
    """
    blob = "\x1f".join(sorted(set(members)))
    return prefix + hashlib.sha256(blob.encode()).hexdigest()[:16]
