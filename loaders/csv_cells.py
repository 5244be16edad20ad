"""Cells of every CSV riskgraph writes for people to open (``flags.csv``, ``rejects/*.csv``,
``evaluation.csv``), neutralised against formula injection.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or a carriage return) as a formula: a resident named ``=HYPERLINK(...)`` in a
rejected row, or an explanation quoting that name, would become a link or a command in the
reviewer's Excel. Following OWASP's CSV-injection guidance, such a cell gets a leading
apostrophe (``'=HYPERLINK(...)``), which every spreadsheet program shows as text. A value that
is really a number (``-12.5``, ``+3``, ``1e6``) is left as it is, so amounts stay amounts; so
are ints, floats and empty cells.

Only files meant for people are neutralised. The import files written for
``neo4j-admin database import`` (``graph_models/neo4j_bulk.py``) and the synthetic datasets
(``fixtures/``, input data) keep their bytes: they are read by programs, and an apostrophe there
would change the data.

Examples
--------
>>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("-12.5"), safe_cell("@SUM(A1)"), safe_cell(3)
('\\'=HYPERLINK("http://x")', '-12.5', "'@SUM(A1)", 3)
>>> safe_cell("\\tcmd"), safe_cell("张三"), safe_cell(None)
("'\\tcmd", '张三', None)
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_frame", "safe_row", "write_csv_rows"]

#: The first characters a spreadsheet program may read as the start of a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` of every value of a row."""
    return [safe_cell(v) for v in values]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are :func:`safe_cell`-ed.

    Only object and string columns are looked at: numeric columns cannot hold a formula.

    Examples
    --------
    >>> safe_frame(pd.DataFrame({"name": ["=1+1", "李四"], "n": [-1, 2]})).to_dict("list")
    {'name': ["'=1+1", '李四'], 'n': [-1, 2]}
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(safe_cell, na_action="ignore")
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv_rows(
    path: str | Path,
    header: Iterable[str],
    rows: Iterable[Iterable[Any]],
    encoding: str = "utf-8-sig",
) -> int:
    """Write a CSV (UTF-8 with BOM, so Excel reads Chinese) with every cell neutralised; returns
    the number of data rows."""
    n = 0
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(safe_row(header))
        for row in rows:
            writer.writerow(safe_row(row))
            n += 1
    return n
