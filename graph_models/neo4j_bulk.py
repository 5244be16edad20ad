"""First load of a Neo4j database with Neo4j's offline bulk importer (``neo4j-admin database import``).

Batched Cypher (:class:`graph_models.neo4j_store.Neo4jStore`) is the idempotent, online path:
it works against any server and any existing graph, but every relationship costs the server a
transactional write (~37 us of server CPU each, see ``docs/neo4j-ingest.md``). For the
first load of a bureau's whole dataset into an empty database, Neo4j's own answer is the offline
importer, which writes the store files directly. This module does that:

1. :func:`write_import_files` turns a consolidated graph (normally the embedded store the loaders
   just filled, so validation, rejects and the read = loaded + rejected check are exactly those
   of a normal load) into the importer's CSV files, one per label and one per relationship type
   and endpoint-label pair, with typed headers (``id:ID(Person)``, ``:START_ID(Person)``,
   ``amount:double``, ``_line:long``, ``flag:boolean``). Values are written as the Cypher path
   writes them (dates as ISO text, missing values absent), so both paths give the same graph,
   and endpoints no node table defines become bare nodes, as ``MERGE`` makes them.
2. :func:`bulk_import` runs ``scripts/neo4j.sh import`` (the script ``RISKGRAPH_NEO4J_SCRIPT``
   names, see :mod:`graph_models.neo4j_settings`), which stops the bundled server, runs the
   importer (replacing the ``neo4j`` database) and starts it again; then the schema's constraints
   and indexes are created and the counts are compared with the source graph.

The importer needs the server's files, so this works with the bundled server (or any server
whose home directory is local and which may be stopped); for other servers, write the files
with :func:`write_import_files` and run ``neo4j-admin database import full`` with the argument
file it writes.

Examples
--------
>>> import pandas as pd, tempfile
>>> from graph_models.memory_store import MemoryStore
>>> g = MemoryStore()
>>> g.upsert_nodes("Person", pd.DataFrame({"id": ["P1"], "name": ["张三"]}))
1
>>> files = write_import_files(g, tempfile.mkdtemp())
>>> files.nodes, files.relationships
({'Person': 1}, {})
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from graph_models.store import GraphStore

__all__ = ["ImportFiles", "bulk_import", "write_import_files"]


@dataclass
class ImportFiles:
    """What :func:`write_import_files` wrote."""

    directory: Path
    #: label -> node rows written (including bare endpoint nodes)
    nodes: dict[str, int] = field(default_factory=dict)
    #: relationship type -> rows written
    relationships: dict[str, int] = field(default_factory=dict)
    #: ``neo4j-admin database import full`` arguments (after the database name)
    arguments: list[str] = field(default_factory=list)
    #: file holding ``arguments``, one per line (for ``scripts/neo4j.sh import``)
    arguments_file: Path | None = None
    #: seconds per step of :func:`bulk_import` (write, import_and_restart, schema)
    seconds: dict[str, float] = field(default_factory=dict)


def _typed(values: pd.Series) -> tuple[pa.Array, str]:
    """A column as an Arrow array and its importer type, as the Cypher path would store it."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return pa.array(values.to_numpy(), from_pandas=True), "double"  # NaN -> absent
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pa.array(values.to_numpy()), "long"
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return pa.array(values.to_numpy()), "boolean"
    if isinstance(dtype, np.dtype) and dtype.kind == "M":  # datetimes travel as ISO text
        text = values.map(lambda v: None if pd.isna(v) else v.isoformat())
        return pa.array(text.to_numpy(dtype=object), type=pa.string()), "string"
    if isinstance(dtype, pd.Int64Dtype | pd.Int32Dtype):
        return pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.int64()), "long"
    if isinstance(dtype, pd.BooleanDtype):
        return pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.bool_()), "boolean"
    if isinstance(dtype, pd.Float64Dtype):
        return pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.float64()), "double"
    objects = values.to_numpy(dtype=object, na_value=None)
    kind = pd.api.types.infer_dtype(objects, skipna=True)
    if kind == "boolean":
        return pa.array(objects, type=pa.bool_()), "boolean"
    if kind == "integer":
        return pa.array(objects, type=pa.int64()), "long"
    if kind in ("floating", "mixed-integer-float"):
        floats = [None if v is None else float(v) for v in objects]
        return pa.array(floats, type=pa.float64(), from_pandas=True), "double"
    if kind not in ("string", "empty"):  # dates, decimals, mixed: as the Cypher path sends them
        from graph_models.neo4j_store import _py_value

        objects = np.array(
            [None if (x := _py_value(v)) is None else str(x) for v in objects], dtype=object
        )
    return pa.array(objects, type=pa.string()), "string"


def _write_csv(frame: pd.DataFrame, headers: dict[str, str], path: Path) -> None:
    """``frame`` as an importer CSV; ``headers`` maps a column to its header field (or None to
    type it from the values: ``name:type``)."""
    arrays, names = [], []
    for col in frame.columns:
        array, kind = _typed(frame[col])
        arrays.append(array)
        names.append(headers.get(col) or (col if kind == "string" else f"{col}:{kind}"))
    table = pa.Table.from_arrays(arrays, names=names)
    # quoting "needed": every string quoted (so "" is an empty string), missing values as bare
    # empty fields (absent properties), quotes inside doubled
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
    pacsv.write_csv(table, path, options)


def write_import_files(graph: GraphStore, directory: str | Path) -> ImportFiles:
    """Write ``graph`` as ``neo4j-admin database import`` CSV files into ``directory``.

    Parameters
    ----------
    graph : GraphStore
        A consolidated graph (normally the embedded store the loaders filled).
    directory : str or Path
        Created if missing; files already there with the same names are replaced.

    Returns
    -------
    ImportFiles
        Row counts per label and type, the importer arguments and the file holding them.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = ImportFiles(directory=out)
    counts = graph.counts()
    endpoints: dict[str, list[np.ndarray]] = {}
    rel_parts: list[tuple[str, str, str, pd.DataFrame]] = []
    for rtype in counts["relationships"]:
        frame = graph.relationships(rtype)
        for (src_label, dst_label), part in frame.groupby(["src_label", "dst_label"], sort=True):
            rel_parts.append((rtype, str(src_label), str(dst_label), part))
            endpoints.setdefault(str(src_label), []).append(part["src"].to_numpy(dtype=object))
            endpoints.setdefault(str(dst_label), []).append(part["dst"].to_numpy(dtype=object))
    for label in sorted(set(counts["nodes"]) | set(endpoints)):
        frame = graph.nodes(label) if label in counts["nodes"] else pd.DataFrame({"id": []})
        ids = pd.Index(frame["id"].to_numpy(dtype=object))
        if label in endpoints:  # endpoints no table defines: bare nodes, as MERGE makes them
            wanted = pd.Index(np.concatenate(endpoints[label])).unique()
            bare = wanted[~wanted.isin(ids)]
            if len(bare):
                frame = pd.concat(
                    [frame, pd.DataFrame({"id": bare.to_numpy(dtype=object)})], ignore_index=True
                )
        path = out / f"nodes-{label}.csv"
        _write_csv(frame, {"id": f"id:ID({label})"}, path)
        files.nodes[label] = len(frame)
        files.arguments.append(f"--nodes={label}={path}")
    for rtype, src_label, dst_label, part in rel_parts:
        part = part.drop(columns=["src_label", "dst_label"])
        path = out / f"relationships-{rtype}-{src_label}-{dst_label}.csv"
        headers = {"src": f":START_ID({src_label})", "dst": f":END_ID({dst_label})"}
        _write_csv(part, headers, path)
        files.relationships[rtype] = files.relationships.get(rtype, 0) + len(part)
        files.arguments.append(f"--relationships={rtype}={path}")
    files.arguments += ["--id-type=string", "--multiline-fields=true"]
    files.arguments_file = out / "import.args"
    files.arguments_file.write_text("\n".join(files.arguments) + "\n", encoding="utf-8")
    return files


def bulk_import(
    graph: GraphStore,
    directory: str | Path,
    *,
    script: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[ImportFiles, Any]:
    """Replace the bundled server's ``neo4j`` database with ``graph`` (offline import).

    Writes the import files into ``directory``, runs ``script`` (default
    :func:`~graph_models.neo4j_settings.bundled_script`) with ``import`` (stop, import,
    start), then opens a :class:`~graph_models.neo4j_store.Neo4jStore`, creates the schema's
    constraints and indexes and checks that Neo4j holds as many nodes and relationships per
    label and type as the files do.

    Returns
    -------
    (ImportFiles, Neo4jStore)
        The files written and an open store on the imported database (close it when done).

    Raises
    ------
    graph_models.errors.DataError
        When the importer fails or the counts afterwards differ.
    """
    from graph_models.errors import DataError
    from graph_models.neo4j_settings import bundled_script
    from graph_models.neo4j_store import Neo4jStore

    script = script if script is not None else bundled_script()
    t0 = time.perf_counter()
    files = write_import_files(graph, directory)
    assert files.arguments_file is not None
    t1 = time.perf_counter()
    run = subprocess.run(
        ["bash", str(script), "import", str(files.arguments_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise DataError("neo4j_import", f"Neo4j bulk import failed:\n{run.stderr.strip()[-2000:]}")
    t2 = time.perf_counter()
    store = Neo4jStore.from_env()
    store.ensure_schema()
    files.seconds = {"write": t1 - t0, "import_and_restart": t2 - t1}
    files.seconds["schema"] = time.perf_counter() - t2
    got = store.counts()
    want = {"nodes": dict(sorted(files.nodes.items())), "relationships": files.relationships}
    if got["nodes"] != want["nodes"] or got["relationships"] != dict(
        sorted(want["relationships"].items())
    ):
        store.close()
        raise DataError(
            "neo4j_import", f"Neo4j bulk import: the database holds {got}, the files {want}"
        )
    return files, store
