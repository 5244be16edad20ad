"""Find a dataset's files, map each to a contract table, and read each into text cells.

**Which files belong to which table** (every file must belong to one, or the load fails unless the
user asks for a partial load):

- ``<table>.<ext>`` and files whose name starts with the table name and a separator, such as
  ``aid_payments_2023.csv`` and ``aid_payments_2024.csv`` (several files of one table are read one
  after the other, each with its own provenance);
- files whose name starts with the table's Chinese name (``扶贫资金发放2023.xlsx``);
- every file in a folder named after a table (``aid_payments/2023-01.csv``);
- the files a ``manifest.yaml`` lists::

    tables:
      households:
        file: 贫困户名册.csv          # or files: [a.csv, b.xls], glob patterns allowed
        encoding: gb18030            # optional; detected when absent
        sheet: 花名册                 # optional; the first sheet otherwise
        columns: {户号: household_id, 户主证件号: head_id}
    ignore: [说明.docx]               # files that are not data
    limits: {max_columns: 2000}       # see loaders/limits.py

  A manifest path may not leave the dataset directory.

Formats: ``.csv`` (UTF-8, UTF-8 with BOM, GB18030/GBK: detected), ``.xlsx``/``.xlsm``/``.xls``
(first sheet, python-calamine) and ``.parquet``.

**Reading** (:func:`read_file`): the header row is found (title and blank rows above it skipped),
headers matched to contract columns (annotations and units understood, see ``loaders/headers.py``),
blank and totals rows skipped; the result is a :class:`RawFile`: the header and, as iterated, its
:class:`RawBlock` s, each with one string column per header plus ``_line``, the physical line (CSV)
or sheet row number of each record. A CSV is read about 64 MiB at a time, so memory does not grow
with the file; a workbook or Parquet file is one block.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from graph_models.errors import DataError
from loaders.contract import CONTRACT, TableSpec, header_key
from loaders.csv_reader import LineReject, SkippedLine, decode_to_utf8
from loaders.headers import find_header, is_totals_text, match_header, sheet_unit
from loaders.limits import ReadLimits

__all__ = [
    "CHUNK_ROWS",
    "FORMATS",
    "Discovery",
    "RawBlock",
    "RawFile",
    "TableSource",
    "detect_encoding",
    "discover",
    "read_ahead",
    "read_chunks",
    "read_file",
]

CHUNK_ROWS = 50_000
#: file suffix -> reader
FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".parquet": "parquet"}
#: files a dataset directory may hold that are not data
_NOT_DATA = {"manifest.yaml", "ground_truth.jsonl"}
_SEPARATORS = "_- .（(【["


@dataclass
class TableSource:
    """One file of one table (a table may have several)."""

    table: str
    path: Path
    format: str
    encoding: str | None = None
    renames: dict[str, str] = field(default_factory=dict)  # header key -> canonical column
    digest: str = ""
    sheet: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Discovery:
    """What :func:`discover` found: files per table, files of no table, problems, limits."""

    root: Path
    tables: dict[str, list[TableSource]]
    unmapped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # listed under `ignore:` in the manifest
    problems: list[DataError] = field(default_factory=list)
    limits: ReadLimits = field(default_factory=ReadLimits)


@dataclass
class RawBlock:
    """A block of one file's records as text cells (a CSV is read about 64 MiB at a time).

    ``lines`` counts the block's physical lines: ``lines = header line (first block only) +
    len(skipped) + rows + continuation + len(rejects)``, where ``skipped`` lists title/blank rows
    above the header (first block) and blank/totals rows below it.
    """

    data: pa.Table  # string columns named like RawFile.columns, plus `_line` (int64)
    lines: int
    rejects: list[LineReject] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)
    continuation: int = 0

    @property
    def rows(self) -> int:
        return self.data.num_rows


@dataclass
class RawFile:
    """One file: its header (read eagerly) and its blocks of records (read as iterated, once)."""

    source: TableSource
    header_line: int  # 0 when the file has no non-blank line
    header: list[str]
    columns: list[str]  # canonical name (or the header as written) of each column
    units: dict[str, int]  # amount column -> multiplier written in its header or the title rows
    blocks: Iterator[RawBlock]
    other_sheets: list[str] = field(default_factory=list)

    def whole(self) -> RawBlock:
        """Every block in one (for small files and tests; a load iterates ``blocks``)."""
        parts = list(self.blocks)
        self.blocks = iter(())
        if not parts:
            return RawBlock(pa.table({**{c: pa.array([], pa.string()) for c in self.columns},
                                      "_line": pa.array([], pa.int64())}), 0)  # fmt: skip
        tables = [b.data for b in parts if b.data.num_columns == len(self.columns) + 1]
        data = pa.concat_tables(tables) if tables else parts[0].data
        return RawBlock(
            data,
            sum(b.lines for b in parts),
            [r for b in parts for r in b.rejects],
            [x for b in parts for x in b.skipped],
            sum(b.continuation for b in parts),
        )


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when a BOM is present, ``utf-8`` when the whole file decodes, else ``gb18030``.

    Raises ``DataError("unreadable_file")`` when the file is neither.
    """
    return decode_to_utf8(Path(path).read_bytes(), Path(path).name)[1]


# -- discovery ----------------------------------------------------------------------------------


def _name_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def _table_of(stem: str) -> str | None:
    """The table a file or folder name names (``aid_payments_2023`` -> ``aid_payments``)."""
    key = _name_key(stem)
    best: tuple[int, str] | None = None
    for spec in CONTRACT.values():
        for alias in (spec.name, spec.zh):
            a = _name_key(alias)
            if not a:
                continue
            named = key == a or (
                key.startswith(a) and (spec.zh == alias or key[len(a)] in _SEPARATORS)
            )
            if named and (best is None or len(a) > best[0]):
                best = (len(a), spec.name)
    return best[1] if best else None


def _inside(root: Path, rel: str, what: str) -> Path:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise DataError(
            "bad_manifest", f"manifest.yaml: {what}: {rel!r} leaves the dataset directory"
        )
    full = (root / p).resolve()
    if not full.is_relative_to(root.resolve()):
        raise DataError(
            "bad_manifest", f"manifest.yaml: {what}: {rel!r} leaves the dataset directory"
        )
    return root / p


def _load_manifest(root: Path) -> dict:
    path = root / "manifest.yaml"
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError("bad_manifest", f"manifest.yaml: cannot parse ({e})") from e
    if not isinstance(doc, dict):
        raise DataError("bad_manifest", "manifest.yaml: must be a mapping")
    tables = doc.get("tables", {}) or {}
    if not isinstance(tables, dict):
        raise DataError("bad_manifest", "manifest.yaml: 'tables' must be a mapping")
    unknown = set(tables) - set(CONTRACT)
    if unknown:
        raise DataError("bad_manifest", f"manifest.yaml: unknown table(s) {sorted(unknown)}")
    return doc


def _manifest_files(root: Path, table: str, entry: dict) -> list[Path]:
    listed = entry.get("files", entry.get("file"))
    if isinstance(listed, str):
        listed = [listed]
    if not listed or not isinstance(listed, list):
        raise DataError("bad_manifest", f"manifest.yaml: {table}: give 'file' or 'files'")
    out: list[Path] = []
    for rel in listed:
        rel = str(rel)
        if any(ch in rel for ch in "*?["):
            _inside(root, rel.split("*")[0].split("?")[0].split("[")[0] or ".", table)
            found = sorted(p for p in root.glob(rel) if p.is_file())
            found = [p for p in found if p.resolve().is_relative_to(root.resolve())]
            if not found:
                raise DataError("missing_file", f"manifest.yaml: {table}: no file matches {rel!r}")
            out.extend(found)
            continue
        p = _inside(root, rel, table)
        if not p.is_file():
            raise DataError("missing_file", f"manifest.yaml: {table}: file {rel!r} not found")
        out.append(p)
    return out


def discover(dataset_dir: str | Path, limits: ReadLimits | None = None) -> Discovery:
    """Map every file of ``dataset_dir`` to a contract table (see module docstring).

    Raises ``DataError("missing_dataset")`` for a missing directory and ``bad_manifest`` /
    ``missing_file`` for a manifest that cannot be followed; every other problem (a file of no
    table, a table given in two formats) is listed in ``Discovery.problems``.
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DataError("missing_dataset", f"{root}: no such dataset directory")
    doc = _load_manifest(root)
    limits = ReadLimits.from_mapping(doc.get("limits"), limits)
    tables: dict[str, list[TableSource]] = {}
    claimed: set[Path] = set()
    for table, entry in (doc.get("tables") or {}).items():
        if not isinstance(entry, dict):
            raise DataError("bad_manifest", f"manifest.yaml: {table}: must be a mapping")
        renames = {header_key(k): v for k, v in (entry.get("columns") or {}).items()}
        bad = [v for v in renames.values() if v not in CONTRACT[table].columns]
        if bad:
            raise DataError("bad_manifest", f"manifest.yaml: {table}: unknown column(s) {bad}")
        for p in _manifest_files(root, table, entry):
            fmt = FORMATS.get(p.suffix.lower())
            if fmt is None:
                raise DataError(
                    "bad_manifest",
                    f"manifest.yaml: {table}: {p.name}: unsupported format {p.suffix!r} "
                    f"({', '.join(sorted(FORMATS))})",
                )
            tables.setdefault(table, []).append(
                TableSource(table, p, fmt, entry.get("encoding"), renames, sheet=entry.get("sheet"))
            )
            claimed.add(p.resolve())
    ignore = [str(x) for x in (doc.get("ignore") or [])]
    ignored: list[str] = []
    for pattern in ignore:
        _inside(root, pattern.split("*")[0] or ".", "ignore")
        for p in root.glob(pattern):
            claimed.add(p.resolve())
            ignored.append(str(p.relative_to(root)))
    problems: list[DataError] = []
    unmapped: list[str] = []
    by_stem: dict[tuple[str, str], list[Path]] = {}

    def add(table: str, p: Path) -> None:
        tables.setdefault(table, []).append(TableSource(table, p, FORMATS[p.suffix.lower()]))
        by_stem.setdefault((table, str(p.with_suffix(""))), []).append(p)

    for p in sorted(root.iterdir()):
        if p.name.startswith((".", "~$")) or p.name in _NOT_DATA or p.resolve() in claimed:
            continue
        if p.is_dir():
            table = _table_of(p.name)
            for q in sorted(p.iterdir()):
                if q.name.startswith((".", "~$")) or q.resolve() in claimed:
                    continue
                rel = f"{p.name}/{q.name}"
                if table and q.is_file() and q.suffix.lower() in FORMATS:
                    add(table, q)
                else:
                    unmapped.append(rel)
            continue
        table = _table_of(p.stem) if p.suffix.lower() in FORMATS else None
        if table is None:
            unmapped.append(p.name)
        else:
            add(table, p)
    for (table, _stem), paths in by_stem.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            problems.append(
                DataError(
                    "ambiguous_table", f"{table}: one file in two formats ({names}); keep one"
                )
            )
            tables[table] = [s for s in tables[table] if s.path not in paths]
            if not tables[table]:
                del tables[table]
    for srcs in tables.values():
        srcs.sort(key=lambda s: (s.path.parent != root, str(s.path)))
    ordered = dict(sorted(tables.items(), key=lambda kv: CONTRACT[kv[0]].order))
    return Discovery(root, ordered, unmapped, ignored, problems, limits)


# -- reading ------------------------------------------------------------------------------------


def _canonical_headers(
    headers: list[str], spec: TableSpec, renames: dict[str, str], name: str
) -> tuple[list[str], dict[str, int]]:
    out: list[str] = []
    units: dict[str, int] = {}
    for i, h in enumerate(headers):
        raw = "" if h is None else str(h).strip()
        col, unit = match_header(raw, spec, renames) if raw else (None, None)
        col = col or raw or f"column_{i + 1}"
        if col in out:
            raise DataError("duplicate_column", f"{name}: two columns map to {col!r}")
        out.append(col)
        if unit is not None:
            units[col] = unit
    return out, units


def _apply_sheet_unit(
    units: dict[str, int], columns: list[str], spec: TableSpec, above: list[list[str]]
) -> None:
    unit = None
    for cells in above:
        unit = sheet_unit(cells) or unit
    if unit is None:
        return
    for c in columns:
        if c in spec.columns and spec.columns[c].type_name == "amount" and c not in units:
            units[c] = unit


def _skip_rows(table: pa.Table, names: list[str]) -> tuple[pa.Table, list[SkippedLine]]:
    """Drop blank rows (every cell blank) and totals rows (a cell saying 合计/小计/总计)."""
    n = table.num_rows
    if n == 0 or not names:
        return table, []
    first = pc.utf8_trim_whitespace(table.column(names[0]))
    blank = pc.equal(first, "")
    if pc.any(blank).as_py():
        for c in names[1:]:
            blank = pc.and_(blank, pc.equal(pc.utf8_trim_whitespace(table.column(c)), ""))
    candidates = np.zeros(n, dtype=bool)
    for c in names:
        candidates |= pc.match_substring(table.column(c), "计").to_numpy(zero_copy_only=False)
    totals = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(candidates).tolist():
        totals[i] = any(is_totals_text(table.column(c)[i].as_py()) for c in names)
    blank_np = blank.to_numpy(zero_copy_only=False)
    drop = blank_np | totals
    if not drop.any():
        return table, []
    lines = table.column("_line").to_numpy()
    skipped = []
    for i in np.flatnonzero(drop).tolist():
        text = ",".join(str(table.column(c)[i].as_py()) for c in names)
        skipped.append(SkippedLine(int(lines[i]), "blank" if blank_np[i] else "totals", text))
    return table.filter(pa.array(~drop)), skipped


def _block(
    columns: list[str],
    cells: pa.Table,
    lines: int,
    rejects: list[LineReject],
    skipped: list[SkippedLine],
    continuation: int,
) -> RawBlock:
    cells = cells.rename_columns([*columns, "_line"])
    cells, more = _skip_rows(cells, columns)
    skipped = sorted([*skipped, *more], key=lambda s: s.line)
    return RawBlock(cells, lines, rejects, skipped, continuation)


def _no_header(
    src: TableSource, lines: int, skipped: list[SkippedLine], others: list[str]
) -> RawFile:
    empty = pa.table({"_line": pa.array([], pa.int64())})
    block = RawBlock(empty, lines, [], skipped)
    return RawFile(src, 0, [], [], {}, iter([block]), others)


def _picker(spec: TableSpec, renames: dict[str, str]):
    return lambda rows: find_header(rows, spec, renames)


def _read_csv(src: TableSource, spec: TableSpec, limits: ReadLimits) -> RawFile:
    from loaders.csv_reader import iter_csv

    blocks = iter_csv(src.path, _picker(spec, src.renames), limits, src.encoding)
    first = next(blocks)
    src.encoding = src.encoding or first.encoding
    if not first.header:
        return _no_header(src, first.lines, first.skipped, [])
    columns, units = _canonical_headers(first.header, spec, src.renames, src.name)
    _apply_sheet_unit(units, columns, spec, first.above_header)
    names = [f"c{k}" for k in range(len(first.header))]

    def convert() -> Iterator[RawBlock]:
        for b in itertools.chain([first], blocks):
            cells = b.data.select([*names, "_line"]) if b.data.num_columns > 1 else pa.table(
                {**{n: pa.array([], pa.string()) for n in names}, "_line": b.data.column("_line")}
            )  # fmt: skip
            yield _block(columns, cells, b.lines, b.rejects, b.skipped, b.continuation)

    return RawFile(src, first.header_line, first.header, columns, units, convert())


def _read_sheet(src: TableSource, spec: TableSpec, limits: ReadLimits) -> RawFile:
    from loaders.sheet_reader import read_sheet

    sheet = read_sheet(src.path, limits, src.sheet)
    rows = sheet.rows
    nonblank = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
    scan = nonblank[: limits.max_header_scan]
    h = find_header([rows[i] for i in scan], spec, src.renames) if scan else None
    if h is None:
        skipped = [SkippedLine(i + 1, "blank", "") for i in range(len(rows))]
        return _no_header(src, len(rows), skipped, sheet.other_sheets)
    hrow = scan[h]
    header = list(rows[hrow])
    while header and not header[-1].strip():
        header.pop()
    width = max([len(header)] + [max((k + 1 for k, c in enumerate(r) if c.strip()), default=0)
                                 for r in rows[hrow + 1 :]])  # fmt: skip
    if width > limits.max_columns:
        raise DataError("limit_exceeded", f"{src.name}: {width:,} columns, over the limit of "
                        f"{limits.max_columns:,} (max_columns)")  # fmt: skip
    header = header + [""] * (width - len(header))  # cells right of the header are kept too
    skipped, above = [], []
    for i in range(hrow):
        text = ",".join(rows[i]).rstrip(",")
        kind = "title" if any(c.strip() for c in rows[i]) else "blank"
        skipped.append(SkippedLine(i + 1, kind, text))
        if kind == "title":
            above.append(rows[i])
    body = rows[hrow + 1 :]
    cols = {
        f"c{k}": pa.array([(r[k] if k < len(r) else "") for r in body], pa.string())
        for k in range(width)
    }
    cols["_line"] = pa.array(np.arange(hrow + 2, hrow + 2 + len(body)), pa.int64())
    for k, c in cols.items():
        if k != "_line":
            longest = pc.max(pc.utf8_length(c)).as_py() if len(c) else 0
            if (longest or 0) > limits.max_field_chars:
                raise DataError("limit_exceeded", f"{src.name}: a cell of {longest:,} characters, "
                                f"over the limit of {limits.max_field_chars:,} (max_field_chars)")  # fmt: skip
    columns, units = _canonical_headers(header, spec, src.renames, src.name)
    _apply_sheet_unit(units, columns, spec, above)
    block = _block(columns, pa.table(cols), len(rows), [], skipped, 0)
    return RawFile(src, hrow + 1, header, columns, units, iter([block]), sheet.other_sheets)


def _read_parquet(src: TableSource, spec: TableSpec, limits: ReadLimits) -> RawFile:
    import pyarrow.parquet as pq

    from loaders.sheet_reader import cell_text

    try:
        t = pq.read_table(src.path)
    except Exception as e:
        raise DataError("unreadable_file", f"{src.name}: not a readable Parquet file ({e})") from e
    if t.num_columns > limits.max_columns:
        raise DataError("limit_exceeded", f"{src.name}: {t.num_columns:,} columns, over the limit "
                        f"of {limits.max_columns:,} (max_columns)")  # fmt: skip
    if t.num_rows > limits.max_rows:
        raise DataError("limit_exceeded", f"{src.name}: {t.num_rows:,} rows, over the limit of "
                        f"{limits.max_rows:,} (max_rows)")  # fmt: skip
    cols = {}
    for k, name in enumerate(t.column_names):
        col = t.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.fill_null(col.cast(pa.string()), "")
        else:
            col = pa.array([cell_text(v) for v in col.to_pylist()], pa.string())
        cols[f"c{k}"] = col
    cols["_line"] = pa.array(np.arange(2, t.num_rows + 2), pa.int64())
    header = list(t.column_names)
    columns, units = _canonical_headers(header, spec, src.renames, src.name)
    block = _block(columns, pa.table(cols), t.num_rows + 1, [], [], 0)
    return RawFile(src, 1, header, columns, units, iter([block]))


def read_file(src: TableSource, limits: ReadLimits | None = None) -> RawFile:
    """Read one file of a table (see module docstring). Raises ``DataError``."""
    limits = limits or ReadLimits()
    spec = CONTRACT[src.table]
    if not src.digest:
        src.digest = file_digest(src.path)
    readers = {"csv": _read_csv, "xlsx": _read_sheet, "xls": _read_sheet, "parquet": _read_parquet}
    try:
        return readers[src.format](src, spec, limits)
    except OSError as e:
        raise DataError("unreadable_file", f"{src.name}: {e}") from e


def read_chunks(
    src: TableSource, chunk_rows: int = CHUNK_ROWS, limits: ReadLimits | None = None
) -> Iterator[pd.DataFrame]:
    """A file's records as DataFrames of Python strings plus ``_line`` (for callers and tests).

    Rows the reader rejected (wrong shape, unbalanced quote) are in ``df.attrs["rejects"]`` of the
    first chunk, skipped lines in ``df.attrs["skipped"]``.
    """
    raw = read_file(src, limits).whole()
    n = raw.rows
    for i, start in enumerate(range(0, max(n, 1), chunk_rows)):
        part = raw.data.slice(start, chunk_rows)
        df = pd.DataFrame(
            {c: part.column(c).to_numpy(zero_copy_only=False) for c in part.column_names}
        )
        df["_line"] = df["_line"].astype("int64")
        df.attrs["rejects"] = raw.rejects if i == 0 else []
        df.attrs["skipped"] = raw.skipped if i == 0 else []
        yield df


_DONE = object()
T = TypeVar("T")


def read_ahead(blocks: Iterator[T]) -> Iterator[T]:
    """``blocks``, each next one read in a thread while the caller works on the current one.

    Reading (decoding, splitting lines, pyarrow's parser) and validating a block are about
    equal work; much of both runs without the interpreter lock, so on two cores the next block
    is ready when the current one is done. At most two blocks wait (one queued, one being
    read). An error while reading is raised where the block it stopped at would have come;
    a caller that stops early stops the reading.

    Examples
    --------
    >>> list(read_ahead(iter(range(5))))
    [0, 1, 2, 3, 4]
    >>> def broken():
    ...     yield 1
    ...     raise ValueError("line 7")
    >>> it = read_ahead(broken())
    >>> next(it), next(it, "not reached")
    Traceback (most recent call last):
    ...
    ValueError: line 7
    """
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for block in blocks:
                if not put((True, block)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # handed to the caller, raised there
            put((False, exc))

    reader = threading.Thread(target=run, name="riskgraph-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        reader.join()
