"""Load a dataset directory into a GraphStore, accounting for every physical line of every file.

For each table (in contract order, so local references can be resolved) and each of its files:
read the file (``loaders/reading.py``: header found, title/blank/totals rows skipped, lines that are
not records rejected), decide per-column rules on whole columns (units, Excel-damaged IDs), then in
chunks validate with column kernels, refuse identity conflicts, quarantine rejects to
``rejects/<table>.csv`` (and as ``RejectedRow`` nodes in the store, so the
``aid.invalid_identity`` detector and reviewers can see them), map valid rows to nodes and
relationships and upsert them in batches.

Every file reports ``lines = header line + skipped + read + continuation`` and every table
``read = loaded + rejected + duplicate``; a violation is a riskgraph bug and raises.

**Problems** that make the load fail (listed all at once, after every file was tried): a file that
belongs to no table, a file that cannot be read (or is over a limit), a missing required column, a
wrong-typed column, a table given in two formats, and a **required table** that is missing: one
whose records the loaded rows reference by local id (``aid_payments.household_id`` needs
``households``; ``guarantees.loan_id`` needs ``loans``; ``loans.project_id`` needs ``projects``).
A debt-only or aid-only dataset is complete without the other side. With ``allow_partial=True``
the problems are reported and the rest is loaded. A failed load raises :class:`LoadFailed` before
the store is flushed.

Examples
--------
>>> import tempfile, pathlib
>>> from graph_models.memory_store import MemoryStore
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "deaths.csv").write_text("person_id,death_date\\n11010519491231002X,2021-03-02\\n", "utf-8")
>>> report = load_dataset(d, MemoryStore(), rejects_dir=d / "rejects")
>>> report.tables["deaths"].as_dict()["loaded"]
1
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from graph_models.errors import DataError
from graph_models.memory_store import frame_to_arrow
from graph_models.store import GraphStore
from loaders.clerk_report import DETAIL_LIMIT, write_validation_report
from loaders.contract import CONTRACT
from loaders.csv_cells import safe_frame
from loaders.csv_reader import LineReject
from loaders.limits import ReadLimits
from loaders.mapping import RESOLVING_LABELS, map_chunk
from loaders.reading import (
    CHUNK_ROWS,
    RawBlock,
    RawFile,
    TableSource,
    discover,
    read_ahead,
    read_file,
)
from loaders.staging import GraphStage, Part
from loaders.validation import (
    REJECT_COLUMNS,
    DuplicateTracker,
    FilePlan,
    IdentityTracker,
    check_columns,
    plan_file,
    validate_chunk,
)

__all__ = ["FileReport", "LoadFailed", "LoadReport", "TableReport", "load_dataset"]

_RAW_LIMIT = 4000
#: examples kept per (file, reason) for the clerks' report
EXAMPLES = 5
#: skipped lines listed per file in the load report (rejects/<table>.skipped.csv has them all)
SKIPPED_LISTED = 1000


class LoadFailed(DataError):
    """The load found problems (listed in ``report.problems``) and no partial load was asked for."""

    def __init__(self, report: LoadReport) -> None:
        problems = report.problems
        if len(problems) == 1:
            code, message = problems[0]["code"], problems[0]["message"]
        else:
            code = "load_failed"
            message = f"{len(problems)} problems: " + "; ".join(
                f"[{p['code']}] {p['message']}" for p in problems
            )
        super().__init__(code, message.replace("\n", " "))
        self.report = report


@dataclass
class FileReport:
    """What happened to every physical line (or sheet row) of one file."""

    file: str
    table: str
    format: str
    digest: str = ""
    encoding: str | None = None
    lines: int = 0
    header_line: int = 0
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicate: int = 0
    continuation: int = 0
    reused: bool = False  # a workspace's stored part of the unchanged file, not read again
    skipped: Counter = field(default_factory=Counter)  # kind -> lines
    skipped_rows: list[dict[str, Any]] = field(default_factory=list)  # the first SKIPPED_LISTED
    skipped_above: int = 0  # of the skipped lines, those above the header
    reasons: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    blanked: int = 0
    units: dict[str, int] = field(default_factory=dict)
    excel_damaged_columns: dict[str, int] = field(default_factory=dict)
    other_sheets: list[str] = field(default_factory=list)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problem: dict[str, str] | None = None

    @property
    def accounted(self) -> bool:
        """Every physical line is the header, skipped, a record (or part of one), or rejected."""
        if self.problem is not None:
            return True
        below = sum(self.skipped.values()) - self.skipped_above
        return self.lines == self.header_line + below + self.read + self.continuation

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> FileReport:
        """The report :meth:`as_dict` gave (a workspace keeps it with the file's part)."""
        rep = cls(doc["file"], doc["table"], doc["format"])
        for key, value in doc.items():
            if key in ("skipped", "reasons", "warnings"):
                setattr(rep, key, Counter(value))
            elif key == "reject_reasons":
                rep.reasons = Counter(value)
            elif key in cls.__dataclass_fields__ and key not in ("file", "table", "format"):
                setattr(rep, key, value)
        return rep

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "table": self.table,
            "format": self.format,
            "digest": self.digest,
            "encoding": self.encoding,
            "lines": self.lines,
            "header_line": self.header_line,
            "read": self.read,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "duplicate": self.duplicate,
            "continuation": self.continuation,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_rows": self.skipped_rows,
            "reject_reasons": dict(sorted(self.reasons.items())),
            "warnings": dict(sorted(self.warnings.items())),
            "blanked": self.blanked,
            "units": self.units,
            "excel_damaged_columns": self.excel_damaged_columns,
            "other_sheets": self.other_sheets,
            "accounted": self.accounted,
            "problem": self.problem,
            "reused": self.reused,
        }


@dataclass
class TableReport:
    table: str
    file: str  # the first file's name (all of them in `files`)
    format: str
    encoding: str | None = None
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicate: int = 0
    dangling: int = 0
    dangling_refs: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    nodes: Counter = field(default_factory=Counter)
    relationships: Counter = field(default_factory=Counter)
    extra_columns: list[str] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.rejected + self.duplicate

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "files": [f.file for f in self.files],
            "format": self.format,
            "encoding": self.encoding,
            "read": self.read,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "duplicate": self.duplicate,
            "dangling": self.dangling,
            "balanced": self.balanced,
            "skipped": sum(sum(f.skipped.values()) for f in self.files),
            "reject_reasons": dict(sorted(self.reasons.items())),
            "dangling_references": {k: v for k, v in sorted(self.dangling_refs.items()) if v},
            "warnings": dict(sorted(self.warnings.items())),
            "extra_columns": self.extra_columns,
            "nodes": dict(sorted(self.nodes.items())),
            "relationships": dict(sorted(self.relationships.items())),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class LoadReport:
    dataset: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)  # `ignore:` in the manifest
    unmapped_files: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    identity_conflicts: list[dict[str, Any]] = field(default_factory=list)
    allow_partial: bool = False
    seconds: float = 0.0
    #: files added to a workspace that repeat earlier rows or ids (loaders.workspace)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LoadReport:
        """The report :meth:`as_dict` gave (a workspace keeps it with each generation)."""
        files: dict[str, list[FileReport]] = {}
        for f in doc.get("files", []):
            files.setdefault(f["table"], []).append(FileReport.from_dict(f))
        tables = {}
        for name, t in doc.get("tables", {}).items():
            rep = TableReport(name, t.get("file", ""), t.get("format", ""), t.get("encoding"))
            for key in ("read", "loaded", "rejected", "duplicate", "dangling", "seconds"):
                setattr(rep, key, t.get(key, 0))
            rep.dangling_refs = Counter(t.get("dangling_references", {}))
            rep.reasons = Counter(t.get("reject_reasons", {}))
            rep.warnings = Counter(t.get("warnings", {}))
            rep.nodes = Counter(t.get("nodes", {}))
            rep.relationships = Counter(t.get("relationships", {}))
            rep.extra_columns = list(t.get("extra_columns", []))
            rep.files = files.get(name, [])
            tables[name] = rep
        return cls(
            doc.get("dataset", ""), tables, list(doc.get("missing_tables", [])),
            list(doc.get("ignored_files", [])), list(doc.get("unmapped_files", [])),
            list(doc.get("problems", [])), list(doc.get("identity_conflicts", [])),
            bool(doc.get("allow_partial", False)), float(doc.get("seconds", 0.0)),
            list(doc.get("deliveries", [])),
        )  # fmt: skip

    @property
    def files(self) -> list[FileReport]:
        return [f for t in self.tables.values() for f in t.files]

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, dict[str, int]]:
        """``summary.json``'s ``load`` section: per table read/loaded/rejected/duplicate/dangling."""
        keys = ("read", "loaded", "rejected", "duplicate", "dangling")
        return {t: {k: getattr(r, k) for k in keys} for t, r in self.tables.items()}

    def add_problem(
        self, err: DataError, file: str | None = None, table: str | None = None
    ) -> None:
        self.problems.append(
            {"code": err.code, "message": err.message, "file": file or "", "table": table or ""}
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "ok": self.ok,
            "allow_partial": self.allow_partial,
            "problems": self.problems,
            "tables": {t: r.as_dict() for t, r in self.tables.items()},
            "files": [f.as_dict() for f in self.files],
            "missing_tables": self.missing_tables,
            "unmapped_files": self.unmapped_files,
            "ignored_files": self.ignored_files,
            "identity_conflicts": self.identity_conflicts,
            "deliveries": self.deliveries,
            "seconds": round(self.seconds, 3),
        }


def existing_ids(store: GraphStore) -> dict[str, pa.Array]:
    """Ids the store already holds of the labels that resolve references (a load that adds to
    a graph resolves its references against them too)."""
    out = {}
    for label in RESOLVING_LABELS:
        ids = store.nodes(label, ["id"])["id"].dropna()
        if len(ids):
            out[label] = pa.array(ids.astype(object).to_numpy(), pa.string())
    return out


def _rejected_nodes(rej: pd.DataFrame, table: str, batch: str, id_prefix: str) -> pd.DataFrame:
    raw_cols = [c for c in rej.columns if c not in REJECT_COLUMNS and c != "file"]
    spec = CONTRACT[table]
    raw = rej[raw_cols].to_dict("records")
    raw_value = [
        (r.get(c) if c in spec.columns else None) if isinstance(c, str) else None
        for r, c in zip(raw, rej["column"], strict=True)
    ]
    raw_json = [
        r["raw"] if set(r) == {"raw"} else json.dumps(
            {k: v for k, v in r.items() if k != "raw" and v == v}, ensure_ascii=False
        )
        for r in raw
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "id": [f"{id_prefix}{ln}" for ln in rej["line"]],
            "table": table,
            "line": rej["line"].astype("int64"),
            "reason": rej["reason"],
            "column": rej["column"],
            "message": rej["message"],
            "raw_value": raw_value,
            "raw": [t[:_RAW_LIMIT] for t in raw_json],
            "_table": table,
            "_line": rej["line"].astype("int64"),
            "_batch": batch,
        }
    )


def _reader_rejects(rejects: list[LineReject]) -> pd.DataFrame:
    if not rejects:
        return pd.DataFrame(columns=[*REJECT_COLUMNS, "raw"])
    return pd.DataFrame(
        {
            "line": [r.line for r in rejects],
            "reason": [r.reason for r in rejects],
            "column": None,
            "message": [r.message for r in rejects],
            "raw": [r.raw for r in rejects],
        }
    )


class _Sink:
    """Appends rejects, blanked cells and skipped lines of one table to ``rejects/``."""

    def __init__(self, rejects_dir: Path | None, table: str) -> None:
        self.dir = rejects_dir
        self.table = table
        self.started: set[str] = set()
        if rejects_dir is not None:
            for suffix in ("", ".blanked", ".skipped"):
                p = rejects_dir / f"{table}{suffix}.csv"
                if p.exists():
                    p.unlink()

    def write(self, kind: str, frame: pd.DataFrame) -> None:
        if self.dir is None or not len(frame):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.table}{kind}.csv"
        first = kind not in self.started
        self.started.add(kind)
        safe_frame(frame).to_csv(path, mode="w" if first else "a", header=first, index=False,
                     encoding="utf-8-sig" if first else "utf-8")  # fmt: skip


def _examples(rep: FileReport, frame: pd.DataFrame, value_col: str | None) -> None:
    for reason, group in frame.groupby("reason", sort=False):
        have = rep.examples.setdefault(str(reason), [])
        for row in group.head(EXAMPLES - len(have)).to_dict("records"):
            col = row.get("column")
            value = (
                row.get(value_col)
                if value_col
                else (row.get(col) if isinstance(col, str) else None)
            )
            if value is None and "raw" in row:
                value = row["raw"]
            have.append({
                "line": int(row["line"]), "column": col if isinstance(col, str) else "",
                "value": "" if value is None or value != value else str(value)[:200],
                "message": str(row.get("message") or ""),
            })  # fmt: skip


def _note_skipped(
    frep: FileReport, block: RawBlock, sink: _Sink, details: dict[str, list[dict[str, Any]]]
) -> None:
    if not block.skipped:
        return
    frep.skipped.update(s.kind for s in block.skipped)
    frep.skipped_above += sum(1 for s in block.skipped if s.line < frep.header_line)
    rows = [{"line": s.line, "kind": s.kind, "text": s.text[:200]} for s in block.skipped]
    frep.skipped_rows.extend(rows[: max(0, SKIPPED_LISTED - len(frep.skipped_rows))])
    sk = pd.DataFrame(rows)
    sk.insert(0, "file", frep.file)
    sink.write(".skipped", sk)
    if len(details["skipped"]) < DETAIL_LIMIT:
        details["skipped"].extend(sk.head(DETAIL_LIMIT).to_dict("records"))


def _load_file(
    src: TableSource,
    raw: RawFile,
    rep: TableReport,
    frep: FileReport,
    part: Part,
    dups: DuplicateTracker,
    identity: IdentityTracker | None,
    sink: _Sink,
    progress: Callable[[str, int], None] | None,
    chunk_rows: int,
    id_prefix: str,
    details: dict[str, list[dict[str, Any]]],
) -> None:
    spec = CONTRACT[src.table]
    frep.units = dict(raw.units)
    for extra in (c for c in raw.columns if c not in spec.columns and c not in rep.extra_columns):
        rep.extra_columns.append(extra)
    checked = False
    # a block is validated, mapped, written and dropped before the next; the next is read
    # meanwhile
    for block in read_ahead(raw.blocks):
        frep.lines += block.lines
        frep.continuation += block.continuation
        _note_skipped(frep, block, sink, details)
        plan = plan_file(block.data, spec, raw.units)
        plan.checked = checked
        for col, k in plan.damaged.items():
            frep.excel_damaged_columns[col] = frep.excel_damaged_columns.get(col, 0) + k
        reader_rej = _reader_rejects(block.rejects)
        pending = [reader_rej] if len(reader_rej) else []
        _load_block(src, block, plan, rep, frep, part, dups, identity, sink, progress,
                    chunk_rows, id_prefix, details, pending)  # fmt: skip
        checked = plan.checked


def _load_block(
    src: TableSource,
    block: RawBlock,
    plan: FilePlan,
    rep: TableReport,
    frep: FileReport,
    part: Part,
    dups: DuplicateTracker,
    identity: IdentityTracker | None,
    sink: _Sink,
    progress: Callable[[str, int], None] | None,
    chunk_rows: int,
    id_prefix: str,
    details: dict[str, list[dict[str, Any]]],
    pending: list[pd.DataFrame],
) -> None:
    spec = CONTRACT[src.table]
    n_reader = sum(len(p) for p in pending)
    for start in range(0, max(block.rows, 1), chunk_rows):
        chunk = block.data.slice(start, chunk_rows)
        v = validate_chunk(chunk, spec, dups, plan)
        if identity is not None:
            v = identity.check(v, frep.file)
        rejects = pd.concat([*pending, v.rejects], ignore_index=True) if pending else v.rejects
        if pending and len(rejects):
            rejects = rejects.sort_values("line", kind="stable", ignore_index=True)
        pending = []
        frep.read += v.read + (n_reader if start == 0 else 0)
        frep.duplicate += v.duplicate
        frep.rejected += len(rejects)
        frep.reasons.update(Counter(rejects["reason"].tolist()))
        frep.warnings.update(v.warnings)
        frep.blanked += len(v.blanked)
        frep.loaded += len(v.clean)
        if len(rejects):
            _examples(frep, rejects, None)
            rejects.insert(0, "file", frep.file)
            sink.write("", rejects)
            if len(details["rejects"]) < DETAIL_LIMIT:
                details["rejects"].extend(rejects.head(DETAIL_LIMIT).to_dict("records"))
            part.add_nodes(
                "RejectedRow",
                frame_to_arrow(_rejected_nodes(rejects, src.table, src.digest, id_prefix)),
            )
        if len(v.blanked):
            _examples(frep, v.blanked, "raw_value")
            blanked = v.blanked.copy()
            blanked.insert(0, "file", frep.file)
            sink.write(".blanked", blanked)
            if len(details["blanked"]) < DETAIL_LIMIT:
                details["blanked"].extend(blanked.head(DETAIL_LIMIT).to_dict("records"))
        part.add(map_chunk(v.clean, spec, src.digest))
        if progress:
            progress(src.table, v.read)


def _required_tables(report: LoadReport, present: set[str]) -> None:
    """A table is required when loaded rows reference its records by local id."""
    defines = {nm.label: spec.name for spec in CONTRACT.values() for nm in spec.nodes}
    for table, rep in report.tables.items():
        for col, label in CONTRACT[table].local_references:
            target = defines.get(label)
            if target and target not in present and rep.dangling_refs.get(col, 0) > 0:
                report.add_problem(
                    DataError(
                        "missing_required_table",
                        f"{table}.{col} refers to {rep.dangling_refs[col]:,} {label} record(s) "
                        f"but the table {target} ({CONTRACT[target].zh}) is missing; add its "
                        f"file, or load with --allow-partial to go on without it",
                    ),
                    table=target,
                )


@dataclass
class StoredFile:
    """A file loaded before (a workspace's part) that is staged again instead of being read."""

    part: Part
    report: FileReport
    hashes: np.ndarray  # row hashes the file added to its table's duplicate tracker
    conflicts: list[dict[str, Any]]
    details: Callable[[], dict[str, list[dict[str, Any]]]]


class PartPlan:
    """Where a load stages each file's rows: the default stages every file in memory and reuses
    nothing; a workspace (:class:`loaders.workspace.WorkspacePlan`) keeps them on disk, one part
    per file, and gives back the part of a file that has not changed."""

    #: rejects, blanked cells and skipped lines go to each part's directory (not the load's
    #: rejects directory: the workspace assembles that from every part)
    per_file_rejects = False

    def __init__(self) -> None:
        self.stage = GraphStage()
        self.details: dict[str, list[dict[str, Any]]] = {}

    def begin(self, sources: dict[str, list[TableSource]], root: Path, limits: ReadLimits) -> None:
        """Every file the load will go through (before the first is read)."""

    def reuse(
        self, table: str, index: int, rel: str, src: TableSource, limits: ReadLimits
    ) -> StoredFile | None:
        """The stored part of file ``index`` of ``table``, when it can be used as it is."""
        return None

    def part(self, table: str, index: int, rel: str, src: TableSource, limits: ReadLimits) -> Part:
        """A new part for a file about to be read."""
        return self.stage.part(table, src.digest)

    def sink(self, part: Part, table: str) -> _Sink | None:
        """Where the file's rejects go (None: the table's)."""
        return None

    def done(
        self, part: Part, report: FileReport, hashes: np.ndarray, conflicts: list[dict[str, Any]]
    ) -> None:
        """The file was read completely into ``part``."""
        part.close()


def load_dataset(
    dataset_dir: str | Path,
    store: GraphStore,
    rejects_dir: str | Path | None = None,
    progress: Callable[[str, int], None] | None = None,
    tables: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    allow_partial: bool = False,
    limits: ReadLimits | None = None,
    report_lang: str = "zh",
    parts: PartPlan | None = None,
    finish: bool = True,
    flush: bool = True,
) -> LoadReport:
    """Load every file of ``dataset_dir`` into ``store`` (see module docstring).

    Parameters
    ----------
    dataset_dir : path
        A dataset directory as docs/data-contract.md describes.
    store : GraphStore
        Target store; loading the same directory twice yields the same graph.
    rejects_dir : path, optional
        Where ``<table>.csv`` reject files (UTF-8 with BOM, so Excel opens them), blanked cells,
        skipped lines and the clerks' validation report (``validation-report.html`` / ``.xlsx``)
        go.
    progress : callable, optional
        ``progress(table, rows_read_in_chunk)`` after each chunk.
    tables : list of str, optional
        Load only these tables.
    allow_partial : bool
        Report problems (unmapped files, unreadable files, missing required tables) and load the
        rest instead of failing.
    limits : ReadLimits, optional
        Limits against hostile files (a manifest's ``limits:`` section overrides them).
    report_lang : {"zh", "en"}
        Language of the clerks' validation report.
    parts : PartPlan, optional
        Where each file's mapped rows are staged and which stored ones are reused instead of
        reading their file again (a workspace's, :mod:`loaders.workspace`); default: every file
        read, staged in memory.
    finish : bool
        False: stop once every file is staged (in ``parts``): the caller runs
        :func:`finish_load` (``parts.details`` holds the rows for the clerks' report); nothing
        is written to ``store``.
    flush : bool
        False: the graph is written into ``store`` but not flushed (the caller persists it
        together with more, e.g. an API scan with its flags).

    Returns
    -------
    LoadReport

    Raises
    ------
    LoadFailed
        (a ``DataError``) when problems were found and ``allow_partial`` is False; every problem
        of every file is in its message and in ``exc.report.problems``.
    graph_models.errors.DataError
        A missing dataset directory or a manifest that cannot be followed.
    """
    t0 = time.perf_counter()
    rej_dir = Path(rejects_dir) if rejects_dir else None
    try:
        disc = discover(dataset_dir, limits)
    except DataError as err:
        if err.code == "missing_dataset":
            raise
        failed = LoadReport(str(dataset_dir), allow_partial=allow_partial)
        failed.add_problem(err, file="manifest.yaml")
        if rej_dir is not None:
            write_validation_report(failed, rej_dir, lang=report_lang)
        raise LoadFailed(failed) from err
    sources = disc.tables
    if tables is not None:
        sources = {t: s for t, s in sources.items() if t in tables}
    report = LoadReport(str(dataset_dir), ignored_files=disc.ignored, allow_partial=allow_partial)
    report.unmapped_files = list(disc.unmapped)
    for err in disc.problems:
        report.add_problem(err)
    for name in disc.unmapped:
        report.add_problem(
            DataError(
                "unmapped_file",
                f"{name}: belongs to no table (name it <table>.csv/.xlsx/.xls/.parquet, put it in "
                "a folder named after its table, list it in manifest.yaml, or list it under "
                "'ignore:' if it is not data)",
            ),
            file=name,
        )
    report.missing_tables = [
        t for t in CONTRACT if t not in sources and (tables is None or t in tables)
    ]
    plan = parts if parts is not None else PartPlan()
    plan.begin(sources, disc.root, disc.limits)
    stage = plan.stage
    details: dict[str, list[dict[str, Any]]] = {"rejects": [], "blanked": [], "skipped": []}
    identity = IdentityTracker()
    for table, srcs in sources.items():
        t1 = time.perf_counter()
        spec = CONTRACT[table]
        rep = TableReport(table, srcs[0].name, srcs[0].format)
        dups = DuplicateTracker()
        seeds: list[np.ndarray] = []  # row hashes of reused files, added when a file is read
        sink = _Sink(None if plan.per_file_rejects else rej_dir, table)
        for k, src in enumerate(srcs):
            rel = (
                str(src.path.relative_to(disc.root))
                if src.path.is_relative_to(disc.root)
                else src.name
            )
            stored = plan.reuse(table, k, rel, src, disc.limits)
            if stored is not None:  # the file is as it was: its part is staged again, not read
                rep.files.append(stored.report)
                stage.add(stored.part)
                seeds.append(stored.hashes)
                identity.conflicts.extend(stored.conflicts)
                for kind, rows in stored.details().items():
                    if len(details[kind]) < DETAIL_LIMIT:
                        details[kind].extend(rows[: DETAIL_LIMIT - len(details[kind])])
                continue
            if seeds:
                dups.seen = np.unique(np.concatenate([dups.seen, *seeds]))
                seeds = []
            frep = FileReport(rel, table, src.format)
            rep.files.append(frep)
            try:
                raw = read_file(src, disc.limits)  # the header now, the blocks as iterated
                frep.digest, frep.encoding = src.digest, src.encoding
                frep.header_line = raw.header_line
                frep.other_sheets = list(raw.other_sheets)
                check_columns(spec, raw.columns, rel)
                prefix = f"{table}:" if k == 0 else f"{table}:{rel}:"
                part = plan.part(table, k, rel, src, disc.limits)
                seen, n_conflicts = dups.seen, len(identity.conflicts)
                _load_file(
                    src, raw, rep, frep, part, dups,
                    identity if table == "persons" else None,
                    plan.sink(part, table) or sink, progress, chunk_rows, prefix, details,
                )  # fmt: skip
                if frep.accounted:
                    plan.done(
                        part, frep, np.setdiff1d(dups.seen, seen, assume_unique=True),
                        identity.conflicts[n_conflicts:],
                    )  # fmt: skip
            except DataError as err:
                frep.problem = err.to_dict()
                report.add_problem(err, file=rel, table=table)
                continue
            if not frep.accounted:  # our bug, never their data
                raise AssertionError(
                    f"{rel}: {frep.lines} lines not all accounted for: {frep.as_dict()}"
                )
        for f in rep.files:
            rep.read += f.read
            rep.loaded += f.loaded
            rep.rejected += f.rejected
            rep.duplicate += f.duplicate
            rep.reasons.update(f.reasons)
            rep.warnings.update(f.warnings)
        rep.encoding = next((f.encoding for f in rep.files if f.encoding), None)
        rep.seconds = time.perf_counter() - t1
        report.tables[table] = rep
        if not rep.balanced:  # our bug, never their data
            raise AssertionError(
                f"{table}: read {rep.read} != loaded {rep.loaded} + rejected {rep.rejected} "
                f"+ duplicate {rep.duplicate}"
            )
    report.identity_conflicts = identity.conflicts
    if finish:
        finish_load(report, stage, store, rej_dir, details, report_lang, t0, flush=flush)
    else:
        plan.details = details
    return report


def finish_load(
    report: LoadReport,
    stage: GraphStage,
    store: GraphStore,
    rejects_dir: Path | None,
    details: dict[str, list[dict[str, Any]]] | None,
    report_lang: str = "zh",
    started: float | None = None,
    flush: bool = True,
) -> None:
    """The end of every load: dangling references counted over the whole load, required tables
    checked, the clerks' validation report written, then (no problems, or a partial load asked
    for) the resolved graph written into ``store`` and flushed; ``LoadFailed`` otherwise."""
    resolving = stage.resolve_ids(existing_ids(store))
    resolution = stage.dangling(resolving)
    for table, rep in report.tables.items():
        rep.dangling = resolution.dangling.get(table, 0)
        rep.dangling_refs.update(resolution.dangling_refs.get(table, {}))
    read_ok = {t for t, r in report.tables.items() if any(f.problem is None for f in r.files)}
    _required_tables(report, read_ok)
    if started is not None:
        report.seconds = time.perf_counter() - started
    if rejects_dir is not None:
        write_validation_report(report, rejects_dir, details, lang=report_lang)
    if report.problems and not report.allow_partial:
        raise LoadFailed(report)
    store.ensure_schema()
    stage.write(store, resolution=resolution, ids=resolving)
    for table, rep in report.tables.items():
        own = resolution.nodes.get(table, {})
        rep.nodes.update({label: n for label, n in own.items() if label != "RejectedRow"})
        rep.relationships.update(resolution.relationships.get(table, {}))
    if flush:  # a caller that persists the graph together with more (a scan's flags) says no
        store.flush()
