"""Find the header row, match annotated headers to contract columns, read units, spot totals rows.

Departmental exports put a title (``2024年某县脱贫户名册``) and blank rows above the header, write
headers with annotations (``户主身份证号（18位）``, ``金额（万元）``) and end with a ``合计`` row. The
header is the first row (within ``ReadLimits.max_header_scan``) whose cells name contract columns;
rows above it are skipped as ``title`` or ``blank`` and counted. An annotation in full- or
half-width brackets is ignored for matching; a unit in it (``元``, ``千元``, ``万元``, ``亿元``)
applies to every cell of that column that has no unit of its own. A title row such as
``单位：万元`` sets the unit of every amount column whose header names none.

Examples
--------
>>> from loaders.contract import CONTRACT
>>> spec = CONTRACT["aid_payments"]
>>> match_header("发放金额（万元）", spec, {})
('amount', 10000)
>>> match_header(" 领取人身份证号(18位) ", spec, {})
('recipient_id', None)
>>> is_totals_text("合 计：")
True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from loaders.contract import TableSpec, header_key

__all__ = [
    "SKIP_KINDS",
    "UNITS",
    "find_header",
    "is_totals_text",
    "match_header",
    "sheet_unit",
]

#: multiplier of each unit word a header or a cell may carry, to yuan
UNITS: dict[str, int] = {"元": 1, "千元": 1000, "万元": 10_000, "亿元": 100_000_000}
#: why a physical line or sheet row was skipped (never loaded, never rejected, always counted)
SKIP_KINDS = ("title", "blank", "totals")

_ANNOTATION = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|【([^【】]*)】|<([^<>]*)>")
_UNIT_NOTE = re.compile(r"^(?:单位[:：]?)?(元|千元|万元|亿元)$")
_SHEET_UNIT = re.compile(r"单位\s*[:：]\s*(元|千元|万元|亿元)")
# a cell that says "total": 合计 / 小计 / 总计, spaces allowed inside, optionally followed by a colon,
# a number or a bracketed note ("合计：", "合 计", "小计(3户)"); never a longer word like 合计划
_TOTALS = re.compile(
    r"[\s\u3000]*(合|小|总)[\s\u3000]*计[\s\u3000]*(?:[:：(（].*|[\d.,\s]*)?", re.S
)


def _annotations(name: object) -> tuple[str, list[str]]:
    """(header without bracketed annotations, the annotations), both NFKC and without spaces."""
    text = "".join(unicodedata.normalize("NFKC", str(name)).split())
    notes = [next(g for g in m.groups() if g is not None) for m in _ANNOTATION.finditer(text)]
    return _ANNOTATION.sub("", text), notes


def match_header(
    name: object, spec: TableSpec, renames: dict[str, str]
) -> tuple[str | None, int | None]:
    """(contract column a header names, unit multiplier written in it), either may be None.

    The header is matched as written first (a contract alias may itself contain brackets, e.g.
    ``企业（含金融机构）``), then without its bracketed annotations.
    """
    key = header_key(name)
    base, notes = _annotations(name)
    unit = None
    for note in notes:
        m = _UNIT_NOTE.match(note)
        if m:
            unit = UNITS[m.group(1)]
    for candidate in (key, header_key(base)):
        if not candidate:
            continue
        col = renames.get(candidate) or spec.canonical_column(candidate)
        if col is not None:
            return col, unit
    return None, unit


def is_totals_text(cell: object) -> bool:
    """True when a cell marks a totals row (合计, 小计, 总计)."""
    return isinstance(cell, str) and _TOTALS.fullmatch(cell) is not None


def sheet_unit(cells: Sequence[object]) -> int | None:
    """The unit a title row declares for the whole sheet (``单位：万元``), or None."""
    for c in cells:
        if isinstance(c, str):
            m = _SHEET_UNIT.search(unicodedata.normalize("NFKC", c))
            if m:
                return UNITS[m.group(1)]
    return None


def _score(cells: Sequence[object], spec: TableSpec, renames: dict[str, str]) -> int:
    found = {match_header(c, spec, renames)[0] for c in cells if c is not None and str(c).strip()}
    found.discard(None)
    return len(found)


def find_header(
    rows: Sequence[Sequence[object]], spec: TableSpec, renames: dict[str, str]
) -> int | None:
    """Index of the header among the first rows of a file, or None when no row is non-blank.

    The header is the first row naming at least two contract columns (one for a one-column
    table) or, when none does, the row naming the most; failing that, the first non-blank row (the
    missing-column check then lists what it found).
    """
    need = min(2, len(spec.columns))
    best, best_score, first = None, 0, None
    for i, cells in enumerate(rows):
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        if first is None:
            first = i
        s = _score(cells, spec, renames)
        if s >= need:
            return i
        if s > best_score:
            best, best_score = i, s
    return best if best is not None else first
