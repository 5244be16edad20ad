"""Load a dataset directory into a GraphStore, accounting for every input row.

For each table (in contract order, so local references can be resolved): stream chunks, validate
lazily, quarantine rejects to ``rejects/<table>.csv`` (and as ``RejectedRow`` nodes in the store,
so the ``aid.invalid_identity`` detector and reviewers can see them), map valid rows to nodes and
relationships, and upsert them in batches. The per-table report checks
``read = loaded + rejected + duplicate``; a violation is a riskgraph bug and raises.

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

import pandas as pd

from graph_models.store import GraphStore
from loaders.contract import CONTRACT
from loaders.mapping import KnownIds, map_chunk
from loaders.reading import CHUNK_ROWS, TableSource, discover, read_chunks
from loaders.validation import REJECT_COLUMNS, DuplicateTracker, check_columns, validate_chunk

__all__ = ["LoadReport", "TableReport", "load_dataset"]

#: person_id-typed columns whose invalid values are flagged by aid.invalid_identity
_RAW_LIMIT = 4000


@dataclass
class TableReport:
    table: str
    file: str
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
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.rejected + self.duplicate

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "read": self.read,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "duplicate": self.duplicate,
            "dangling": self.dangling,
            "balanced": self.balanced,
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
    ignored_files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, dict[str, int]]:
        """``summary.json``'s ``load`` section: per table read/loaded/rejected/duplicate/dangling."""
        keys = ("read", "loaded", "rejected", "duplicate", "dangling")
        return {t: {k: getattr(r, k) for k in keys} for t, r in self.tables.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "tables": {t: r.as_dict() for t, r in self.tables.items()},
            "missing_tables": self.missing_tables,
            "ignored_files": self.ignored_files,
            "seconds": round(self.seconds, 3),
        }


def _known_from_store(store: GraphStore) -> KnownIds:
    known = KnownIds()
    known.gov.update(store.nodes("GovUnit", ["id"])["id"].dropna())
    known.enterprises.update(store.nodes("Enterprise", ["id"])["id"].dropna())
    for label in ("Household", "Loan", "Project"):
        known.of(label).update(store.nodes(label, ["id"])["id"].dropna())
    return known


def _rejected_nodes(rej: pd.DataFrame, table: str, batch: str) -> pd.DataFrame:
    raw_cols = [c for c in rej.columns if c not in REJECT_COLUMNS]
    spec = CONTRACT[table]
    raw = rej[raw_cols].to_dict("records")
    raw_value = [
        (r.get(c) if c in spec.columns else None) if isinstance(c, str) else None
        for r, c in zip(raw, rej["column"], strict=True)
    ]
    return pd.DataFrame(
        {
            "id": [f"{table}:{ln}" for ln in rej["line"]],
            "table": table,
            "line": rej["line"].astype("int64"),
            "reason": rej["reason"],
            "column": rej["column"],
            "message": rej["message"],
            "raw_value": raw_value,
            "raw": [json.dumps(r, ensure_ascii=False)[:_RAW_LIMIT] for r in raw],
            "_table": table,
            "_line": rej["line"].astype("int64"),
            "_batch": batch,
        }
    )


def _load_table(
    src: TableSource,
    store: GraphStore,
    known: KnownIds,
    rejects_dir: Path | None,
    progress: Callable[[str, int], None] | None,
    chunk_rows: int,
) -> TableReport:
    spec = CONTRACT[src.table]
    rep = TableReport(src.table, src.path.name, src.format)
    t0 = time.perf_counter()
    dups = DuplicateTracker()
    reject_file = rejects_dir / f"{src.table}.csv" if rejects_dir else None
    if reject_file is not None and reject_file.exists():
        reject_file.unlink()
    first = True
    for raw in read_chunks(src, chunk_rows):
        if first:
            check_columns(spec, list(raw.columns), src.path.name)
            rep.extra_columns = [c for c in raw.columns if c not in spec.columns and c != "_line"]
            first = False
        v = validate_chunk(raw, spec, dups)
        rep.read += v.read
        rep.duplicate += v.duplicate
        rep.rejected += len(v.rejects)
        rep.reasons.update(v.reasons)
        rep.warnings.update(v.warnings)
        rep.loaded += len(v.clean)
        if len(v.rejects):
            if reject_file is not None:
                reject_file.parent.mkdir(parents=True, exist_ok=True)
                header = not reject_file.exists()
                v.rejects.to_csv(
                    reject_file, mode="a", header=header, index=False,
                    encoding="utf-8-sig" if header else "utf-8",
                )  # fmt: skip
            store.upsert_nodes("RejectedRow", _rejected_nodes(v.rejects, src.table, src.digest))
        mapped = map_chunk(v.clean, spec, src.digest, known)
        rep.dangling += mapped.dangling
        rep.dangling_refs.update(mapped.dangling_refs)
        for label, frame, create_only in mapped.nodes:
            n = store.upsert_nodes(label, frame, create_only=create_only)
            if not create_only:
                rep.nodes[label] += n
        for rtype, frame in mapped.relationships:
            rep.relationships[rtype] += store.upsert_relationships(rtype, frame)
        if progress:
            progress(src.table, v.read)
    rep.encoding = src.encoding
    rep.seconds = time.perf_counter() - t0
    if not rep.balanced:  # our bug, never their data
        raise AssertionError(
            f"{src.table}: read {rep.read} != loaded {rep.loaded} + rejected {rep.rejected} "
            f"+ duplicate {rep.duplicate}"
        )
    return rep


def load_dataset(
    dataset_dir: str | Path,
    store: GraphStore,
    rejects_dir: str | Path | None = None,
    progress: Callable[[str, int], None] | None = None,
    tables: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> LoadReport:
    """Load every contract table found in ``dataset_dir`` into ``store``.

    Parameters
    ----------
    dataset_dir : path
        A dataset directory as docs/data-contract.md describes.
    store : GraphStore
        Target store; loading the same directory twice yields the same graph.
    rejects_dir : path, optional
        Where ``<table>.csv`` reject files go (UTF-8 with BOM, so Excel opens them).
    progress : callable, optional
        ``progress(table, rows_read_in_chunk)`` after each chunk.
    tables : list of str, optional
        Load only these tables.

    Returns
    -------
    LoadReport

    Raises
    ------
    graph_models.errors.DataError
        A missing directory, an unreadable file, a missing required column, a wrong-typed column.
    """
    t0 = time.perf_counter()
    sources, ignored = discover(dataset_dir)
    if tables is not None:
        sources = {t: s for t, s in sources.items() if t in tables}
    report = LoadReport(str(dataset_dir), ignored_files=ignored)
    report.missing_tables = [
        t for t in CONTRACT if t not in sources and (tables is None or t in tables)
    ]
    store.ensure_schema()
    known = _known_from_store(store)
    rej_dir = Path(rejects_dir) if rejects_dir else None
    for table, src in sources.items():
        report.tables[table] = _load_table(src, store, known, rej_dir, progress, chunk_rows)
    store.flush()
    report.seconds = time.perf_counter() - t0
    return report
