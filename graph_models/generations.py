"""Generations of a workspace's graph: every write is a new directory, made current atomically.

A workspace directory ``W`` holds the embedded store's graph as generations::

    W/generations/000007/              one generation (never changed once committed):
        graph/nodes/<Label>.parquet        the embedded store's persisted form, the files
        graph/relationships/<TYPE>.parquet Spark and pyarrow read
        generation.json                    id, parent, kind, when, node/relationship counts
        ...                                what the writer adds (workspace.json, scan/)
    W/current -> generations/000007    the current generation (a relative symbolic link)
    W/graph -> current/graph           so ``W/graph/nodes/<Label>.parquet`` names the current files
    W/workspace.json -> current/workspace.json   (when the loader wrote one)
    W/.lock                            held by the one writer at a time (``flock``)

A writer (:func:`begin`) holds the lock, builds the next generation in a hidden directory
(``generations/.tmp-000008-<pid>``) and :meth:`GenerationWriter.commit` renames it into place
and replaces ``current`` with ``rename(2)``, which is atomic: a reader resolves ``current`` once
(:func:`current`) and sees either the whole old generation or the whole new one, and a writer
killed before its commit leaves the previous generation intact and current (its hidden
directory is removed by the next writer). Committed generations other than the newest
:data:`KEEP` are removed by the next commit, so a reader that resolved ``current`` a moment
before a switch can still finish reading.

A workspace written before generations existed (``W/graph`` a plain directory) is read as it is
(generation 0) and moved into ``generations/000000`` by the first writer.

Examples
--------
>>> import tempfile
>>> ws = Path(tempfile.mkdtemp())
>>> current(ws) is None
True
>>> with begin(ws, kind="load") as w:
...     _ = (w.graph / "nodes").mkdir(parents=True)
...     g = w.commit({"nodes": {}, "relationships": {}})
>>> g.id, current(ws).id, (ws / "graph" / "nodes").is_dir()
(1, 1, True)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_models.errors import DataError

__all__ = [
    "KEEP",
    "Generation",
    "GenerationWriter",
    "WorkspaceBusy",
    "begin",
    "current",
    "generation",
    "history",
]

#: committed generations kept after a commit (the current one included)
KEEP = 3
_GENERATIONS = "generations"
_TMP = ".tmp-"


class WorkspaceBusy(DataError):
    """Another process is writing the workspace (a load or scan holds its lock)."""


@dataclass(frozen=True)
class Generation:
    """One committed generation: its number, directory and ``generation.json``."""

    id: int
    path: Path
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def graph(self) -> Path:
        """The directory holding ``nodes/`` and ``relationships/``."""
        return self.path / "graph"


def _name(gen_id: int) -> str:
    return f"{gen_id:06d}"


def _committed(workspace: Path) -> list[int]:
    d = workspace / _GENERATIONS
    if not d.is_dir():
        return []
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit() and p.is_dir())


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / "generation.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def current(workspace: str | os.PathLike[str]) -> Generation | None:
    """The current generation of ``workspace`` (resolved once), or None when it has none.

    A workspace of the layout before generations (``graph/`` a plain directory) is generation 0
    in place.
    """
    ws = Path(workspace)
    link = ws / "current"
    if link.is_symlink():
        target = (ws / os.readlink(link)).resolve()
        if target.is_dir() and target.name.isdigit():
            return Generation(int(target.name), target, _read_meta(target))
        return None
    legacy = ws / "graph"
    if legacy.is_dir() and not legacy.is_symlink():
        return Generation(0, ws, {"id": 0, "kind": "legacy"})
    return None


def generation(workspace: str | os.PathLike[str], gen_id: int) -> Generation:
    """A committed generation by number (``DataError`` when it is gone or never existed)."""
    path = Path(workspace) / _GENERATIONS / _name(gen_id)
    if not path.is_dir():
        raise DataError("missing_generation", f"{workspace}: generation {gen_id} does not exist")
    return Generation(gen_id, path, _read_meta(path))


def history(workspace: str | os.PathLike[str]) -> list[Generation]:
    """The committed generations still on disk, oldest first."""
    ws = Path(workspace)
    return [generation(ws, g) for g in _committed(ws)]


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _replace_link(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


class GenerationWriter:
    """The next generation being written (see the module docstring). Use as a context manager:
    leaving it without :meth:`commit` (an exception) removes what was written."""

    def __init__(self, workspace: Path, kind: str, lock_fd: int) -> None:
        self.workspace = workspace
        self.kind = kind
        self._lock_fd: int | None = lock_fd
        base = current(workspace)
        self.parent: Generation | None = base
        self.id = max([*_committed(workspace), base.id if base else 0]) + 1
        self.path = workspace / _GENERATIONS / f"{_TMP}{_name(self.id)}-{os.getpid()}"
        self.path.mkdir(parents=True)
        self.committed: Generation | None = None

    @property
    def graph(self) -> Path:
        """Where the generation's ``nodes/`` and ``relationships/`` go."""
        return self.path / "graph"

    def commit(self, meta: dict[str, Any] | None = None) -> Generation:
        """Make this generation the current one (atomically) and release the lock."""
        if self.committed is not None:
            return self.committed
        doc = {
            "id": self.id,
            "parent": self.parent.id if self.parent else None,
            "kind": self.kind,
            "committed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(meta or {}),
        }
        (self.path / "generation.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=2, default=str), "utf-8"
        )
        final = self.workspace / _GENERATIONS / _name(self.id)
        os.rename(self.path, final)
        _fsync_dir(final.parent)
        self.path = final
        _replace_link(self.workspace / "current", f"{_GENERATIONS}/{_name(self.id)}")
        for name in ("graph", "workspace.json"):
            link = self.workspace / name
            if (final / name).exists() and not link.is_symlink() and not link.exists():
                os.symlink(f"current/{name}", link)
        _fsync_dir(self.workspace)
        self.committed = Generation(self.id, final, doc)
        self._collect()
        self._release()
        return self.committed

    def abort(self) -> None:
        """Forget this generation (the current one stays) and release the lock."""
        if self.committed is None and self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)
        self._release()

    def _collect(self) -> None:
        """Remove committed generations beyond :data:`KEEP` and writers' leftovers."""
        gens = self.workspace / _GENERATIONS
        for old in _committed(self.workspace)[:-KEEP]:
            shutil.rmtree(gens / _name(old), ignore_errors=True)
        for p in gens.iterdir():
            if p.name.startswith(_TMP):  # we hold the lock: a writer that died left it
                shutil.rmtree(p, ignore_errors=True)

    def _release(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> GenerationWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.committed is None:
            self.abort()

    def __del__(self) -> None:  # a writer dropped without commit or abort
        with contextlib.suppress(Exception):
            if self.committed is None:
                self.abort()


def _migrate_legacy(ws: Path) -> None:
    """Move a pre-generations ``W/graph`` directory into generation 0."""
    legacy = ws / "graph"
    if not legacy.is_dir() or legacy.is_symlink():
        return
    g0 = ws / _GENERATIONS / _name(0)
    g0.mkdir(parents=True, exist_ok=True)
    os.rename(legacy, g0 / "graph")
    (g0 / "generation.json").write_text(json.dumps({"id": 0, "kind": "legacy"}), "utf-8")
    _replace_link(ws / "current", f"{_GENERATIONS}/{_name(0)}")
    os.symlink("current/graph", legacy)


def begin(workspace: str | os.PathLike[str], kind: str = "write") -> GenerationWriter:
    """Start writing the next generation of ``workspace`` (created when missing).

    Raises :class:`WorkspaceBusy` when another process holds the workspace's lock.
    """
    ws = Path(workspace)
    ws.mkdir(parents=True, exist_ok=True)
    fd = os.open(ws / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
            raise WorkspaceBusy(
                "workspace_busy",
                f"{ws}: another riskgraph process is writing this workspace (a load or scan); "
                "wait for it to finish",
            ) from e
        raise
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _migrate_legacy(ws)
        return GenerationWriter(ws, kind, fd)
    except BaseException:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
