"""Find a dataset's table files and stream them in chunks of raw rows.

Formats: ``<table>.csv`` (UTF-8, UTF-8 with BOM, or GB18030/GBK — detected, never asked),
``<table>.xlsx`` (first sheet) and ``<table>.parquet``. A ``manifest.yaml`` may map other file
names and header names onto the contract::

    tables:
      households:
        file: 贫困户名册.csv
        encoding: gb18030        # optional; detected when absent
        columns: {户号: household_id, 户主证件号: head_id}

Every chunk is a DataFrame of raw values (strings for CSV; cell values for xlsx/parquet) whose
columns are the contract's canonical names where a header matched, the original header otherwise,
plus ``_line``: the spreadsheet-style row number (header = 1, first data row = 2; for CSV the
physical line where the record starts).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from graph_models.errors import DataError
from loaders.contract import CONTRACT, TableSpec, header_key

__all__ = ["CHUNK_ROWS", "TableSource", "detect_encoding", "discover", "read_chunks"]

CHUNK_ROWS = 50_000
_FORMATS = (".csv", ".xlsx", ".parquet")
#: Reason code for a CSV record whose field count differs from the header's.
BAD_ROW_SHAPE = "bad_row_shape"


@dataclass
class TableSource:
    table: str
    path: Path
    format: str
    encoding: str | None = None
    renames: dict[str, str] = field(default_factory=dict)  # header -> canonical column
    digest: str = ""


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when a BOM is present, ``utf-8`` when the whole file decodes, else ``gb18030``.

    The whole file is checked (incrementally): a GB18030 export can be pure ASCII for megabytes.
    """
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    try:
        with open(path, encoding="gb18030") as f:
            for _ in iter(lambda: f.read(1 << 20), ""):
                pass
    except UnicodeDecodeError as e:
        raise DataError(
            "unreadable_file",
            f"{path.name}: neither UTF-8 nor GB18030 text ({e.reason} at byte {e.start})",
        ) from e
    return "gb18030"


def _load_manifest(root: Path) -> dict[str, dict]:
    path = root / "manifest.yaml"
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError("bad_manifest", f"manifest.yaml: cannot parse ({e})") from e
    tables = doc.get("tables", {})
    if not isinstance(tables, dict):
        raise DataError("bad_manifest", "manifest.yaml: 'tables' must be a mapping")
    unknown = set(tables) - set(CONTRACT)
    if unknown:
        raise DataError("bad_manifest", f"manifest.yaml: unknown table(s) {sorted(unknown)}")
    return tables


def discover(dataset_dir: str | Path) -> tuple[dict[str, TableSource], list[str]]:
    """Map contract tables to files in ``dataset_dir``; returns (sources, ignored file names).

    Raises
    ------
    DataError
        Missing directory, a table present in two formats, a manifest naming a missing file.
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DataError("missing_dataset", f"{root}: no such dataset directory")
    manifest = _load_manifest(root)
    sources: dict[str, TableSource] = {}
    claimed: set[str] = {"manifest.yaml", "ground_truth.jsonl"}
    for table, entry in manifest.items():
        fname = entry.get("file")
        if not fname or not (root / fname).is_file():
            raise DataError("missing_file", f"manifest.yaml: {table}: file {fname!r} not found")
        p = root / fname
        fmt = p.suffix.lower()
        if fmt not in _FORMATS:
            raise DataError(
                "unreadable_file", f"{fname}: unsupported format {fmt!r} (csv/xlsx/parquet)"
            )
        renames = {header_key(k): v for k, v in (entry.get("columns") or {}).items()}
        bad = [v for v in renames.values() if v not in CONTRACT[table].columns]
        if bad:
            raise DataError("bad_manifest", f"manifest.yaml: {table}: unknown column(s) {bad}")
        sources[table] = TableSource(table, p, fmt[1:], entry.get("encoding"), renames)
        claimed.add(fname)
    for table in CONTRACT:
        if table in sources:
            continue
        found = [root / f"{table}{ext}" for ext in _FORMATS if (root / f"{table}{ext}").is_file()]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise DataError("ambiguous_table", f"{table}: more than one file ({names}); keep one")
        if found:
            sources[table] = TableSource(table, found[0], found[0].suffix[1:])
            claimed.add(found[0].name)
    ignored = sorted(
        p.name
        for p in root.iterdir()
        if p.is_file() and p.name not in claimed and not p.name.startswith(".")
    )
    ordered = dict(sorted(sources.items(), key=lambda kv: CONTRACT[kv[0]].order))
    return ordered, ignored


def _canonical_headers(
    headers: list[object], spec: TableSpec, renames: dict[str, str]
) -> list[str]:
    out: list[str] = []
    for i, h in enumerate(headers):
        raw = "" if h is None else str(h).strip()
        name = (
            renames.get(header_key(raw)) or spec.canonical_column(raw) or raw or f"column_{i + 1}"
        )
        if name in out:
            raise DataError("duplicate_column", f"{spec.name}: two columns map to {name!r}")
        out.append(name)
    return out


def _frame(rows: list[list[object]], headers: list[str], lines: list[int]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=headers, dtype=object)
    df["_line"] = lines
    return df


def _csv_chunks(src: TableSource, spec: TableSpec, chunk_rows: int) -> Iterator[pd.DataFrame]:
    enc = src.encoding or detect_encoding(src.path)
    src.encoding = enc
    with open(src.path, encoding=enc, newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        headers = _canonical_headers(header, spec, src.renames)
        width = len(headers)
        rows: list[list[object]] = []
        lines: list[int] = []
        bad: list[tuple[int, list[str]]] = []
        line = reader.line_num + 1
        for rec in reader:
            start, line = line, reader.line_num + 1
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue  # blank line: not a record
            if len(rec) != width:
                bad.append((start, rec))
                continue
            rows.append(rec)
            lines.append(start)
            if len(rows) >= chunk_rows:
                yield _with_bad(_frame(rows, headers, lines), bad)
                rows, lines, bad = [], [], []
        if rows or bad:
            yield _with_bad(_frame(rows, headers, lines), bad)


def _with_bad(df: pd.DataFrame, bad: list[tuple[int, list[str]]]) -> pd.DataFrame:
    """Attach records with the wrong number of fields (they are rejected, never dropped)."""
    df.attrs["bad_shape"] = bad
    return df


def _xlsx_chunks(src: TableSource, spec: TableSpec, chunk_rows: int) -> Iterator[pd.DataFrame]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(src.path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged file
        raise DataError("unreadable_file", f"{src.path.name}: not a readable xlsx ({e})") from e
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        headers: list[str] | None = None
        rows: list[list[object]] = []
        lines: list[int] = []
        for n, rec in enumerate(it, start=1):
            values = list(rec)
            if headers is None:
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                while values and values[-1] is None:
                    values.pop()
                headers = _canonical_headers(values, spec, src.renames)
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            values = (values + [None] * len(headers))[: len(headers)]
            rows.append(values)
            lines.append(n)
            if len(rows) >= chunk_rows:
                yield _frame(rows, headers, lines)
                rows, lines = [], []
        if rows and headers is not None:
            yield _frame(rows, headers, lines)
    finally:
        wb.close()


def _parquet_chunks(src: TableSource, spec: TableSpec, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(src.path)
    except Exception as e:
        raise DataError(
            "unreadable_file", f"{src.path.name}: not a readable Parquet file ({e})"
        ) from e
    headers = _canonical_headers(list(pf.schema_arrow.names), spec, src.renames)
    line = 2
    for batch in pf.iter_batches(batch_size=chunk_rows):
        df = batch.to_pandas(types_mapper=None).astype(object)
        df = df.where(df.notna(), None)
        df.columns = headers
        df["_line"] = range(line, line + len(df))
        line += len(df)
        yield df


def read_chunks(src: TableSource, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Stream a table file as raw-row chunks (see module docstring)."""
    spec = CONTRACT[src.table]
    if not src.digest:
        src.digest = _file_digest(src.path)
    readers = {"csv": _csv_chunks, "xlsx": _xlsx_chunks, "parquet": _parquet_chunks}
    try:
        yield from readers[src.format](src, spec, chunk_rows)
    except (OSError, csv.Error) as e:
        raise DataError("unreadable_file", f"{src.path.name}: {e}") from e
