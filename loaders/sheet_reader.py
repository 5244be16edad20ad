"""Read the first sheet of an ``.xlsx``/``.xlsm``/``.xls`` workbook as text cells, row by sheet row.

python-calamine (Rust) reads both formats, far faster than openpyxl. It builds a sheet as one dense
block from A1 to the furthest cell, so a workbook with one cell at ``XFD1048576`` would make it
allocate 512 GiB and abort the process: before calamine sees an xlsx, the sheet's XML is streamed
once and its extent (declared ``<dimension>`` and every cell reference) checked against
:class:`~loaders.limits.ReadLimits`. An ``.xls`` (BIFF) sheet is bounded by its format (65,536 x
256 cells).

Cells become text the way the data contract reads them: integral numbers without ``.0``
(``12.0`` -> ``"12"``), other numbers in Python's shortest form (a resident ID Excel stored as a
number keeps its tell-tale ``4.10322198211159e+17``), dates as ISO ``YYYY-MM-DD`` (with the time
when it is not midnight), booleans as ``true``/``false``.

Examples
--------
>>> cell_text(410322198211159000.0), cell_text(12.0), cell_text(0.5)
('4.10322198211159e+17', '12', '0.5')
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from graph_models.errors import DataError
from loaders.limits import ReadLimits

__all__ = ["Sheet", "cell_text", "read_sheet"]

_FLOAT_EXACT = 2**53
_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,4})(\d{1,8})"')
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d{1,8})"')
_DIMENSION = re.compile(
    rb'<(?:\w+:)?dimension\b[^>]*?\bref="([A-Z]{1,4}\d{1,8})(?::([A-Z]{1,4}\d{1,8}))?"'
)
_REF = re.compile(r"([A-Z]+)(\d+)")
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "p": "http://schemas.openxmlformats.org/package/2006/relationships",
}


@dataclass
class Sheet:
    name: str
    rows: list[list[str]]  # row i is sheet row i + 1, cells as text ("" when empty)
    other_sheets: list[str] = field(default_factory=list)  # non-empty sheets not read


def cell_text(v: object) -> str:
    """A calamine cell as the text the contract's value types read."""
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < _FLOAT_EXACT:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return str(v)
    return str(v)


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _first_sheet_part(z: zipfile.ZipFile) -> str:
    wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
    sheets = wb.find("m:sheets", _NS)
    first = sheets[0] if sheets is not None and len(sheets) else None
    if first is None:
        raise DataError("unreadable_file", "the workbook has no sheet")
    rid = first.get(f"{{{_NS['r']}}}id")
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.findall("p:Relationship", _NS):
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            if target.startswith("/"):
                return target.lstrip("/")
            return str(PurePosixPath("xl") / target)
    raise DataError("unreadable_file", "the workbook's first sheet cannot be found")


def check_xlsx_extent(path: Path, limits: ReadLimits) -> None:
    """Refuse an xlsx whose first sheet reaches beyond the limits (see module docstring)."""
    try:
        with zipfile.ZipFile(path) as z:
            part = _first_sheet_part(z)
            with z.open(part) as f:
                _scan_extent(f, path.name, limits)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as e:
        raise DataError("unreadable_file", f"{path.name}: not a readable xlsx ({e})") from e


def _refuse(name: str, rows: int, cols: int, limits: ReadLimits, what: str) -> None:
    if cols > limits.max_columns:
        raise DataError(
            "limit_exceeded",
            f"{name}: the sheet {what} column {cols:,}, over the limit of {limits.max_columns:,} "
            "(max_columns); delete the empty columns and rows after the data and save again",
        )
    if rows > limits.max_rows or rows * cols > limits.max_sheet_cells:
        raise DataError(
            "limit_exceeded",
            f"{name}: the sheet {what} {rows:,} rows x {cols:,} columns, over the limits "
            f"(max_rows {limits.max_rows:,}, max_sheet_cells {limits.max_sheet_cells:,}); "
            "delete the empty columns and rows after the data and save again",
        )


def _scan_extent(f, name: str, limits: ReadLimits) -> None:
    head = f.read(1 << 16)
    m = _DIMENSION.search(head)
    if m and m.group(2):
        ref = _REF.fullmatch(m.group(2).decode())
        if ref:
            _refuse(name, int(ref.group(2)), _col_number(ref.group(1)), limits, "declares")
    max_row = max_col = 0
    tail = b""
    block = head
    while block:
        chunk = tail + block
        # keep the last partial tag for the next round
        cut = chunk.rfind(b"<")
        scan, tail = (chunk[:cut], chunk[cut:]) if cut > 0 else (chunk, b"")
        for c in _CELL_REF.finditer(scan):
            col = _col_number(c.group(1).decode())
            if col > max_col:
                max_col = col
        for r in _ROW_REF.finditer(scan):
            row = int(r.group(1))
            if row > max_row:
                max_row = row
        if max_col > limits.max_columns or max_row > limits.max_rows:
            break
        block = f.read(1 << 20)
    _refuse(name, max_row, max_col, limits, "has a cell in")


def read_sheet(path: Path, limits: ReadLimits, sheet: str | None = None) -> Sheet:
    """The named (or first) sheet of a workbook as text rows (see module docstring)."""
    from python_calamine import CalamineWorkbook

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm") and sheet is None:
        check_xlsx_extent(path, limits)
    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = list(wb.sheet_names)
        if not names:
            raise DataError("unreadable_file", f"{path.name}: the workbook has no sheet")
        if sheet is not None and sheet not in names:
            raise DataError(
                "missing_sheet",
                f"{path.name}: no sheet named {sheet!r} (sheets: {', '.join(names)})",
            )
        chosen = sheet or names[0]
        ws = wb.get_sheet_by_name(chosen)
        if ws.height > limits.max_rows or ws.width > limits.max_columns:
            _refuse(path.name, ws.height, ws.width, limits, "reaches")
        raw = ws.to_python(skip_empty_area=False)
        others = []
        for n in names:
            if n == chosen:
                continue
            try:
                other = wb.get_sheet_by_name(n)
            except Exception:
                continue
            small = other.height * other.width <= limits.max_sheet_cells
            if small and any(str(v).strip() for row in other.to_python() for v in row):
                others.append(n)
    except DataError:
        raise
    except Exception as e:  # calamine raises several types for a damaged workbook
        raise DataError("unreadable_file", f"{path.name}: not a readable workbook ({e})") from e
    rows = [[cell_text(v) for v in row] for row in raw]
    return Sheet(chosen, rows, others)
