"""A workspace: one dataset loaded once, scanned many times, added to month by month.

The workspace directory holds the embedded store's graph as generations
(:mod:`graph_models.generations`), the state DB, and what each source file mapped to::

    W/parts/<key>/          one source file's mapped rows (loaders.staging.Part), its load
                            report, its rejects and the row hashes it added to its table's
                            duplicate check; <key> digests the contract version, the table, the
                            file's place and name, its content hash and reading options, and the
                            key of the file before it in the same table
    W/generations/<id>/     graph/ (nodes, relationships), workspace.json (this manifest),
                            load.json (the load report), rejects/ (every table's rejects,
                            blanked cells, skipped lines, the clerks' validation report),
                            scan/ (flags of a scan on this graph; written by api/scan)
    W/current, W/graph, W/workspace.json, W/rejects   links into the current generation

**Load once, scan many**: :meth:`Workspace.load` discovers the dataset, hashes every file and
stages each file's stored part when its key matches, so unchanged files are never read again; a
changed or new file is read (and the files after it in the same table, whose duplicate checks
depend on it; every file of ``persons`` when one changed, for the one-ID-one-person check); a
file no longer in the dataset drops out. The graph is then resolved from all parts and written
into a new generation, which :meth:`Build.commit` makes current. The result is exactly what a
fresh load of the directory gives (tests/loaders/test_workspace.py checks it).

**Monthly deliveries**: a new payments file sorts after the earlier ones and is the only file
read; its rows identical to earlier rows are counted as duplicates and the payment ids it shares
with earlier files are listed (``LoadReport.deliveries``); loading the same directory again
changes nothing (no new generation).

Examples
--------
>>> import tempfile, pathlib
>>> d, w = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "deaths.csv").write_text("person_id,death_date\\n11010519491231002X,2021-03-02\\n")
>>> ws = Workspace(w)
>>> with ws.load(d) as build:
...     gen = build.commit()
>>> build.loaded_files, ws.load(d).changed
(['deaths.csv'], False)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph_models import generations
from graph_models.memory_store import MemoryStore
from loaders.limits import ReadLimits
from loaders.load import (
    DETAIL_LIMIT,
    FileReport,
    LoadReport,
    PartPlan,
    StoredFile,
    _Sink,
    finish_load,
    load_dataset,
)
from loaders.reading import TableSource
from loaders.staging import GraphStage, Part
from loaders.staging_workers import report_done, report_rows, stage_tables, stage_workers

__all__ = ["CONTRACT_VERSION", "Build", "Workspace", "WorkspacePlan", "link_file"]

#: bump when mapping or staging changes what a file's part holds (stored parts then reload)
LOADER_VERSION = 1
_REJECT_KINDS = {"": "rejects", ".blanked": "blanked", ".skipped": "skipped"}
_HISTORY = 100


def _contract_version() -> str:
    h = hashlib.sha256(f"loader {LOADER_VERSION}\n".encode())
    for package, name in (("loaders", "contract.yaml"), ("graph_models", "schema.yaml")):
        h.update(resources.files(package).joinpath(name).read_bytes())
    return h.hexdigest()[:16]


#: digest of the contract, the schema and the loader version: a stored part is reused only
#: when it matches
CONTRACT_VERSION = _contract_version()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _part_key(
    table: str, index: int, rel: str, src: TableSource, limits: ReadLimits, before: str
) -> str:
    doc = {
        "contract": CONTRACT_VERSION,
        "table": table,
        "index": index,
        "file": rel,
        "digest": src.digest,
        "format": src.format,
        "encoding": src.encoding,
        "renames": dict(sorted((getattr(src, "renames", None) or {}).items())),
        "sheet": getattr(src, "sheet", None),
        "limits": repr(limits),
        "before": before,
    }
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return f"{table}-{hashlib.sha256(blob).hexdigest()[:20]}"


def _read_fragment(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    frame = pd.read_csv(path, dtype=object, keep_default_na=False, encoding="utf-8-sig",
                        nrows=DETAIL_LIMIT)  # fmt: skip
    frame = frame.replace({"": None})
    if "line" in frame:
        frame["line"] = pd.to_numeric(frame["line"], errors="coerce").astype("Int64")
    return frame.to_dict("records")


def _digest_and_rows(src: TableSource) -> tuple[str, int | None]:
    """The file's digest (as :func:`loaders.reading.file_digest` gives it) and, read in the same
    pass, about how many rows it has (a CSV's lines less the header; a Parquet file's rows)."""
    h = hashlib.sha256()
    lines = 0
    with open(src.path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            lines += block.count(b"\n")
    rows: int | None = None
    if src.format == "csv":
        rows = max(lines - 1, 0)
    elif src.format == "parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(src.path).metadata.num_rows
        except Exception:  # an unreadable file: the load says why
            rows = None
    return h.hexdigest()[:16], rows


#: a file's recorded digest is trusted only if it was hashed this long after its last write
_RACY_NS = 2_000_000_000


class _DigestCache:
    """Digests of the dataset's files by their identity (device, inode, size, modified and
    changed times), kept in ``W/parts/file-digests.json``: a file whose identity is the one
    recorded when it was last hashed is not hashed again, as git's index does (writing a file
    changes its changed time, which no tool can set back). As in git, a file hashed less than
    :data:`_RACY_NS` after it was last written is hashed again next time (file times have a
    coarse clock: a second write in the same tick could keep them). Anything else is hashed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.used: dict[str, list[Any]] = {}  # this load's entries (files gone drop out)
        try:
            self.entries: dict[str, list[Any]] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def get(self, src: TableSource) -> tuple[str, int | None]:
        st = os.stat(src.path)
        ident = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, src.format]
        name = str(Path(src.path).resolve())
        known = self.entries.get(name)
        if (
            isinstance(known, list) and len(known) == 9 and known[:6] == ident
            and known[8] - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS
        ):  # fmt: skip
            digest, rows, hashed_at = known[6], known[7], known[8]
        else:
            hashed_at = time.time_ns()
            digest, rows = _digest_and_rows(src)
        self.used[name] = [*ident, digest, rows, hashed_at]
        return digest, rows

    def save(self) -> None:
        if self.used == self.entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(dict(sorted(self.used.items()))), "utf-8")
        os.replace(tmp, self.path)


def _stage_table(dataset: str, workspace: str, limits: ReadLimits | None, table: str) -> None:
    """In a staging worker (:mod:`loaders.staging_workers`): the ordinary load of one table,
    into the workspace's parts."""
    report_rows(table, 0)  # the table starts now (its time is counted from here)
    plan = WorkspacePlan(Path(workspace), save_digests=False, workers=False)
    load_dataset(dataset, MemoryStore(), tables=[table], parts=plan, finish=False,
                 limits=limits, progress=report_rows)  # fmt: skip
    report_done(table)


def _rel(src: TableSource, root: Path) -> str:
    return str(src.path.relative_to(root)) if src.path.is_relative_to(root) else src.name


class WorkspacePlan(PartPlan):
    """Parts of a workspace, stored in ``W/parts``: a file's part is reused while it and the
    files before it in its table are unchanged; ``persons`` is reused whole or not at all (see
    the module docstring)."""

    per_file_rejects = True

    def __init__(
        self, workspace: Path, progress: Any = None, *, save_digests: bool = True,
        workers: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.workspace = workspace
        self.progress = progress
        self.save_digests = save_digests  # False in a staging worker (the load saves them)
        self.workers = workers  # stage the tables to read in worker processes when worth it
        self.fresh: set[str] = set()  # parts staged by workers for this load
        self.parts_dir = workspace / "parts"
        self.stage = GraphStage(self.parts_dir)
        self.keys: list[str] = []  # every part of the load, in order
        self.sources: list[dict[str, Any]] = []  # the manifest's "sources"
        self.loaded: list[str] = []  # files read in this load
        self.reused: list[str] = []
        self._plan: dict[tuple[str, int], tuple[str, bool]] = {}  # (table, index) -> key, reuse

    def begin(self, sources: dict[str, list[TableSource]], root: Path, limits: ReadLimits) -> None:
        digests = _DigestCache(self.parts_dir / "file-digests.json")
        everything = sorted((s for srcs in sources.values() for s in srcs),
                            key=lambda s: -s.path.stat().st_size)  # fmt: skip
        with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:  # hashlib needs no GIL
            found = dict(zip(map(id, everything), pool.map(digests.get, everything), strict=True))
        pending: dict[str, int] = {}  # table -> rows of the files to read
        for table, srcs in sources.items():
            before, reusing, keys, rows = "", True, [], []
            for i, src in enumerate(srcs):
                src.digest, lines = found[id(src)]
                key = _part_key(table, i, _rel(src, root), src, limits, before)
                reusing = reusing and Part.meta(self.parts_dir / key) is not None
                keys.append((key, reusing))
                rows.append(lines)
                before = key
            if table == "persons" and not all(r for _, r in keys):
                keys = [(k, False) for k, _ in keys]  # one ID, one person: all files or none
            for i, kr in enumerate(keys):
                self._plan[(table, i)] = kr
            to_read = sum(n or 0 for (_, reused), n in zip(keys, rows, strict=True) if not reused)
            if not all(reused for _, reused in keys):
                pending[table] = to_read
            expect = getattr(self.progress, "expect", None)
            if expect is not None:
                expect(table, to_read)
        if self.save_digests:
            digests.save()
        workers = stage_workers(sum(pending.values()), len(pending)) if self.workers else 1
        if workers > 1:
            args = (str(root), str(self.workspace), limits)
            staged = set(stage_tables(pending, workers, _stage_table, args, self.progress))
            for (table, i), (key, reused) in list(self._plan.items()):
                if table in staged and not reused and Part.meta(self.parts_dir / key) is not None:
                    self._plan[(table, i)] = (key, True)
                    self.fresh.add(key)

    def reuse(
        self, table: str, index: int, rel: str, src: TableSource, limits: ReadLimits
    ) -> StoredFile | None:
        key, reuse = self._plan[(table, index)]
        if not reuse:
            return None
        directory = self.parts_dir / key
        meta = Part.meta(directory)
        assert meta is not None
        part = Part.open(directory)
        report = FileReport.from_dict(meta["report"])
        report.reused = key not in self.fresh  # a worker's part was read by this load
        hashes_path = directory / "hashes.npy"
        hashes = np.load(hashes_path) if hashes_path.exists() else np.empty(0, np.uint64)
        self.keys.append(key)
        (self.reused if report.reused else self.loaded).append(rel)
        self._source(table, src, key, report, meta.get("loaded_at"))

        def details() -> dict[str, list[dict[str, Any]]]:
            return {
                kind: _read_fragment(directory / "rejects" / f"{table}{suffix}.csv")
                for suffix, kind in _REJECT_KINDS.items()
            }

        return StoredFile(part, report, hashes, list(meta.get("conflicts", [])), details)

    def part(self, table: str, index: int, rel: str, src: TableSource, limits: ReadLimits) -> Part:
        key, _ = self._plan[(table, index)]
        self.keys.append(key)
        self.loaded.append(rel)
        part = self.stage.part(table, key)
        part.source = src  # type: ignore[attr-defined]
        return part

    def sink(self, part: Part, table: str) -> _Sink | None:
        assert part.directory is not None
        return _Sink(part.directory / "rejects", table)

    def done(
        self, part: Part, report: FileReport, hashes: np.ndarray, conflicts: list[dict[str, Any]]
    ) -> None:
        assert part.directory is not None
        part.directory.mkdir(parents=True, exist_ok=True)
        np.save(part.directory / "hashes.npy", np.asarray(hashes, dtype=np.uint64))
        when = _now()
        part.close({
            "report": {**report.as_dict(), "skipped_above": report.skipped_above,
                       "examples": report.examples},
            "conflicts": conflicts, "loaded_at": when,
            "file": report.file, "digest": report.digest,
        })  # fmt: skip
        self._source(part.table, getattr(part, "source", None), part.key, report, when)

    def _source(
        self, table: str, src: TableSource | None, key: str, report: FileReport,
        loaded_at: str | None,
    ) -> None:  # fmt: skip
        path = src.path if src is not None else None
        self.sources.append({
            "table": table, "file": report.file, "digest": report.digest,
            "format": report.format,
            "size": path.stat().st_size if path is not None and path.exists() else None,
            "rows": report.read, "loaded": report.loaded, "rejected": report.rejected,
            "duplicate": report.duplicate, "part": key, "loaded_at": loaded_at,
            "reused": report.reused,
        })  # fmt: skip


@dataclass
class Build:
    """A load into a workspace, not current yet: detect on :attr:`store`, then :meth:`commit`
    (leaving the ``with`` block without committing forgets it; the current generation stays)."""

    workspace: Workspace
    writer: generations.GenerationWriter | None
    report: LoadReport
    store: MemoryStore
    changed: bool
    loaded_files: list[str] = field(default_factory=list)
    reused_files: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    #: seconds: "staging" (files read, validated, mapped; stored parts staged), "build"
    #: (references resolved, the graph written into the generation)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> Path | None:
        """The generation's directory (scan outputs may be added there before the commit)."""
        return self.writer.path if self.writer is not None else None

    def commit(self, meta: dict[str, Any] | None = None) -> generations.Generation | None:
        """Make the generation current (atomically); None when nothing changed and nothing was
        written (a load of an unchanged dataset)."""
        if self.writer is None:
            return None
        doc = {**self.manifest, "generation": self.writer.id, **(meta or {})}
        (self.writer.path / "workspace.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=2, default=str), "utf-8"
        )
        counts = self.store.counts()
        parent = self.writer.parent
        if parent is not None and not (self.writer.path / "scan").exists():
            # a load: the flags of the last scan stay at hand (what the next scan compares with)
            for name in ("scan", "last-scan"):
                if (parent.path / name / "flags.jsonl").exists():
                    _link_tree(parent.path / name, self.writer.path / "last-scan")
                    break
        gen = self.writer.commit({**counts, "loaded_files": self.loaded_files, **(meta or {})})
        for name in ("rejects",):
            link = self.workspace.path / name
            if (gen.path / name).exists() and not link.is_symlink() and not link.exists():
                os.symlink(f"current/{name}", link)
        self.workspace.collect()
        return gen

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def __enter__(self) -> Build:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None and self.writer.committed is None:
            self.writer.abort()


class Workspace:
    """A workspace directory (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def current(self) -> generations.Generation | None:
        return generations.current(self.path)

    def manifest(self) -> dict[str, Any] | None:
        """``workspace.json`` of the current generation (None before the first load)."""
        gen = self.current()
        if gen is None:
            return None
        try:
            return json.loads((gen.path / "workspace.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def load(
        self,
        dataset_dir: str | os.PathLike[str],
        *,
        progress: Callable[[str, int], None] | None = None,
        allow_partial: bool = False,
        limits: ReadLimits | None = None,
        report_lang: str = "zh",
        kind: str = "load",
        always: bool = False,
    ) -> Build:
        """Bring the workspace up to date with ``dataset_dir`` (see the module docstring).

        Returns a :class:`Build` holding the workspace's lock. When no file changed, nothing is
        read: the build's store is the current graph and, unless ``always`` (a scan, which
        writes a generation with its flags anyway), nothing will be written.
        """
        dataset = Path(dataset_dir)
        writer = generations.begin(self.path, kind=kind)
        try:
            return self._load(dataset, writer, progress, allow_partial, limits, report_lang,
                              always)  # fmt: skip
        except BaseException:
            writer.abort()
            raise

    def _load(
        self, dataset: Path, writer: generations.GenerationWriter,
        progress: Callable[[str, int], None] | None, allow_partial: bool,
        limits: ReadLimits | None, report_lang: str, always: bool,
    ) -> Build:  # fmt: skip
        plan = WorkspacePlan(self.path, progress)
        rejects = writer.path / "rejects"
        old = self.manifest()
        t0 = time.perf_counter()
        report = load_dataset(
            dataset, MemoryStore(), rejects_dir=rejects, progress=progress,
            allow_partial=allow_partial, limits=limits, report_lang=report_lang, parts=plan,
            finish=False,
        )  # fmt: skip
        timings = {"staging": round(time.perf_counter() - t0, 3)}
        manifest = {
            "format": 1,
            "dataset": str(dataset.resolve()),
            "contract_version": CONTRACT_VERSION,
            "parts": plan.keys,
            "sources": plan.sources,
            "loaded_at": _now(),
            "loaded_files": plan.loaded,
            "history": list((old or {}).get("history", []))[-_HISTORY:],
        }
        entry = {"at": manifest["loaded_at"], "generation": writer.id,
                 "loaded_files": plan.loaded, "reused_files": len(plan.reused)}  # fmt: skip
        current = self.current()
        unchanged = (
            current is not None
            and old is not None
            and old.get("parts") == plan.keys
            and old.get("contract_version") == CONTRACT_VERSION
            and not report.problems
        )
        if unchanged:
            assert current is not None and old is not None
            stored = _stored_report(current)
            if not always:
                writer.abort()
                return Build(self, None, stored or report, MemoryStore(self.path), False, [],
                             plan.reused, old, timings)  # fmt: skip
            MemoryStore(self.path).persist(writer.graph)  # hard links: the same graph
            _link_tree(current.path / "rejects", rejects)
            link_file(current.path / "load.json", writer.path / "load.json")
            manifest["history"].append(entry)
            return Build(self, writer, stored or report, MemoryStore.at(writer.graph), False,
                         [], plan.reused, manifest, timings)  # fmt: skip
        note = getattr(progress, "note", None)
        if note is not None:
            getattr(progress, "finish_tables", lambda: None)()
            note(f"resolving references and writing the graph (generation {writer.id}) ...")
        t0 = time.perf_counter()
        _assemble_rejects(plan, rejects)
        report.deliveries = _deliveries(plan)
        graph = MemoryStore.building(writer.graph)
        finish_load(report, plan.stage, graph, rejects, plan.details, report_lang)
        graph.persist(writer.graph)
        (writer.path / "load.json").write_text(
            json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str), "utf-8"
        )
        manifest["history"].append(entry)
        timings["build"] = round(time.perf_counter() - t0, 3)
        return Build(self, writer, report, graph, True, plan.loaded, plan.reused, manifest,
                     timings)  # fmt: skip

    def collect(self) -> None:
        """Remove parts no kept generation refers to."""
        keep: set[str] = set()
        for gen in generations.history(self.path):
            try:
                doc = json.loads((gen.path / "workspace.json").read_text("utf-8"))
            except (OSError, ValueError):
                continue
            keep.update(doc.get("parts", []))
        d = self.path / "parts"
        if not d.is_dir():
            return
        for p in d.iterdir():
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)


def _stored_report(gen: generations.Generation | None) -> LoadReport | None:
    """The load report kept with a generation (``load.json``)."""
    if gen is None or not (gen.path / "load.json").exists():
        return None
    return LoadReport.from_dict(json.loads((gen.path / "load.json").read_text("utf-8")))


def link_file(src: Path, dst: Path) -> None:
    """``dst`` becomes a hard link to ``src`` (replacing it), or a copy where the file system
    cannot link; nothing when ``src`` does not exist."""
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    if not src.is_dir():
        return
    for p in src.rglob("*"):
        if p.is_file():
            link_file(p, dst / p.relative_to(src))


def _assemble_rejects(plan: WorkspacePlan, rejects: Path) -> None:
    """``rejects/<table>{,.blanked,.skipped}.csv`` from every part's fragments, in load order."""
    rejects.mkdir(parents=True, exist_ok=True)
    for suffix in _REJECT_KINDS:
        for part in plan.stage.parts:
            assert part.directory is not None
            frag = part.directory / "rejects" / f"{part.table}{suffix}.csv"
            if frag.exists():
                _append_csv(frag, rejects / f"{part.table}{suffix}.csv")


def _append_csv(frag: Path, target: Path) -> None:
    data = frag.read_bytes()
    if target.exists():
        body = data.removeprefix("\ufeff".encode())
        _, _, rest = body.partition(b"\n")
        with open(target, "ab") as f:
            f.write(rest)
    else:
        target.write_bytes(data)


def _deliveries(plan: WorkspacePlan) -> list[dict[str, Any]]:
    """For each file read in this load that follows earlier files of its table: its rows
    identical to earlier rows (duplicates) and the ids of its own records earlier files
    already gave (e.g. payment ids delivered twice with other values)."""
    out = []
    seen_tables: dict[str, list[Part]] = {}
    loaded = set(plan.loaded)
    for part in plan.stage.parts:
        earlier = seen_tables.setdefault(part.table, [])
        meta = Part.meta(part.directory) if part.directory is not None else None
        rel = (meta or {}).get("file")
        if earlier and rel in loaded:
            report = (meta or {}).get("report", {})
            same_ids: dict[str, int] = {}
            for label in part.names("nodes"):
                if label == "RejectedRow":
                    continue
                mine = part.read(f"nodes/{label}", ["id"])
                prior = [t for p in earlier if (t := p.read(f"nodes/{label}", ["id"])) is not None]
                if mine is None or not prior:
                    continue
                prior_ids = pc.unique(
                    pa.chunked_array([c for t in prior for c in t.column("id").chunks])
                )
                n = int(pc.sum(pc.is_in(mine.column("id"), value_set=prior_ids)).as_py() or 0)
                if n:
                    same_ids[label] = n
            if report.get("duplicate") or same_ids:
                out.append({
                    "table": part.table, "file": rel,
                    "identical_rows": int(report.get("duplicate", 0)),
                    "same_ids": same_ids,
                    "earlier_files": [Part.meta(p.directory).get("file") for p in earlier
                                      if p.directory is not None and Part.meta(p.directory)],
                })  # fmt: skip
        earlier.append(part)
    return out
