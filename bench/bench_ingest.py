"""Store ingest benchmark: rows/s into the memory store and into Neo4j, each against a naive
baseline measured in the same run.

What is timed is the store alone: the synthetic dataset is loaded once through the loaders into a
recording store, which keeps every ``upsert_nodes`` / ``upsert_relationships`` call (label, frame,
``create_only``) in order; each measurement replays exactly those calls into an empty store.

* memory: ``MemoryStore`` (append, then the consolidation the first read triggers). Baseline: a
  dict per label/type updated row by row (nulls never erase, create-only keeps existing rows),
  then one frame per label/type.
* neo4j: ``Neo4jStore`` (batched ``UNWIND ... MERGE``). Baseline: one ``MERGE`` statement per row
  through the same driver, each in its own transaction, on a sample of rows (``--naive-sample``)
  spread over every call, extrapolated to the whole dataset.

Results (medians of ``--repeats`` runs, ratios, peak RSS of this process and of the Neo4j JVM,
machine, Neo4j and driver versions, load average) go to ``bench/results/ingest-<date>.json``.

Usage::

    .venv/bin/python bench/bench_ingest.py --households 100000
    .venv/bin/python bench/bench_ingest.py --households 10000 --sweep 1000,5000,10000,20000

Neo4j settings come from ``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD`` or the bundled
server (``bash scripts/neo4j.sh start``). The Neo4j database is cleared by this benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import pickle
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402

from bench.machine import machine_info  # noqa: E402
from graph_models.memory_store import MemoryStore  # noqa: E402

Rows = pd.DataFrame | pa.Table
Op = tuple[str, str, Rows, bool]  # ("nodes" | "relationships", label/type, rows, create_only)


# -- the workload -------------------------------------------------------------------------------


class _Recorder(MemoryStore):
    """Keeps the loader's store calls instead of storing anything.

    It asks for nodes first, as :class:`~graph_models.neo4j_store.Neo4jStore` does, so the
    calls are those a Neo4j load makes; rows stay as the loader hands them (Arrow tables).
    """

    nodes_first = True

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[Op] = []

    def upsert_nodes(self, label: str, rows: Rows, *, create_only: bool = False) -> int:
        self.ops.append(("nodes", label, rows, create_only))
        return len(rows)

    def upsert_relationships(self, rtype: str, rows: Rows) -> int:
        self.ops.append(("relationships", rtype, rows, False))
        return len(rows)


def workload(households: int, seed: int, cache: Path) -> tuple[list[Op], dict[str, Any]]:
    """The loader's store calls for a synthetic dataset (generated and recorded once, cached)."""
    from fixtures.synth import generate
    from loaders.load import load_dataset

    dataset = cache / f"synth-{households}-{seed}"
    ops_file = cache / f"ops-{households}-{seed}.pickle"
    info: dict[str, Any] = {"dataset": str(dataset)}
    if ops_file.exists():
        with open(ops_file, "rb") as f:
            return pickle.load(f), info
    if not (dataset / "ground_truth.jsonl").exists():
        t0 = time.perf_counter()
        generate(dataset, households=households, seed=seed)
        info["generate_seconds"] = round(time.perf_counter() - t0, 1)
    recorder = _Recorder()
    t0 = time.perf_counter()
    load_dataset(dataset, recorder)
    info["record_seconds"] = round(time.perf_counter() - t0, 1)
    with open(ops_file, "wb") as f:
        pickle.dump(recorder.ops, f, protocol=pickle.HIGHEST_PROTOCOL)
    return recorder.ops, info


def row_counts(ops: list[Op]) -> dict[str, int]:
    nodes = sum(len(r) for k, _, r, _ in ops if k == "nodes")
    rels = sum(len(r) for k, _, r, _ in ops if k == "relationships")
    return {"node_rows": nodes, "relationship_rows": rels, "rows": nodes + rels}


def sample(ops: list[Op], rows: int) -> list[Op]:
    """The first rows of every call, about ``rows`` in all, in the original order."""
    total = row_counts(ops)["rows"]
    share = min(1.0, rows / total)
    return [(k, n, _head(r, max(1, math.ceil(len(r) * share))), c) for k, n, r, c in ops]


def _head(rows: Rows, n: int) -> Rows:
    return rows.slice(0, n) if isinstance(rows, pa.Table) else rows.iloc[:n]


def _as_frame(rows: Rows) -> pd.DataFrame:
    """Rows as pandas, as the memory store reads an Arrow table."""
    if isinstance(rows, pa.Table):
        from graph_models.memory_store import arrow_to_frame

        return arrow_to_frame(rows)
    return rows


# -- measuring ----------------------------------------------------------------------------------


class _PeakRss:
    """Peak RSS (MiB) of some processes, sampled every 0.2 s while a block runs."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.procs = {k: psutil.Process(p) for k, p in pids.items() if p}
        self.peak = dict.fromkeys(self.procs, 0.0)
        self._stop = threading.Event()

    def _sample(self) -> None:
        for k, p in self.procs.items():
            with suppress(psutil.Error):
                self.peak[k] = max(self.peak[k], p.memory_info().rss / 2**20)

    @contextmanager
    def watch(self) -> Iterator[None]:
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(0.2):
                self._sample()

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        try:
            yield
        finally:
            self._stop.set()
            t.join()
            self._sample()


def timed(fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Wall seconds of ``fn`` and the parts it reports (its own "seconds" wins, if given)."""
    t0 = time.perf_counter()
    parts = fn()
    return {"seconds": time.perf_counter() - t0, **parts}


def replay(store: Any, ops: list[Op]) -> dict[str, float]:
    """Replay the calls; seconds spent on node and on relationship calls."""
    spent = {"node_seconds": 0.0, "relationship_seconds": 0.0}
    for kind, name, rows, create_only in ops:
        t0 = time.perf_counter()
        if kind == "nodes":
            store.upsert_nodes(name, rows, create_only=create_only)
            spent["node_seconds"] += time.perf_counter() - t0
        else:
            store.upsert_relationships(name, rows)
            spent["relationship_seconds"] += time.perf_counter() - t0
    return spent


def memory_store_run(ops: list[Op]) -> dict[str, float]:
    store = MemoryStore()
    parts = replay(store, ops)
    t0 = time.perf_counter()
    store.counts()  # the first read consolidates the appended batches
    parts["consolidate_seconds"] = time.perf_counter() - t0
    return parts


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def memory_naive_run(ops: list[Op]) -> dict[str, float]:
    """Row by row into dicts (nulls never erase; create-only keeps existing ids), then frames."""
    tables: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
    for kind, name, rows, create_only in ops:
        table = tables.setdefault((kind, name), {})
        rows = _as_frame(rows)
        cols = list(rows.columns)
        for values in rows.itertuples(index=False, name=None):
            rec = {c: v for c, v in zip(cols, values, strict=True) if not _missing(v)}
            current = table.get(rec["id"])
            if current is None:
                table[rec["id"]] = rec
            elif not create_only:
                current.update(rec)
    for table in tables.values():
        pd.DataFrame.from_records(list(table.values()))
    return {}


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when unknown)."""
    if not pid:
        return 0.0
    with suppress(psutil.Error):
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    return 0.0


def neo4j_run(
    make_store: Callable[[], Any], ops: list[Op], server_pid: int | None = None
) -> dict[str, float]:
    """Replay into an empty database; wall seconds, and CPU seconds of this process (the
    client: frames to rows, driver encoding) and of the Neo4j server while it ran."""
    store = make_store()
    try:
        store.clear()
        store.ensure_schema()
        t0, c0, s0 = time.perf_counter(), _cpu_seconds(os.getpid()), _cpu_seconds(server_pid)
        parts = replay(store, ops)
        return {
            "seconds": time.perf_counter() - t0,  # without clear/ensure_schema
            "client_cpu_seconds": _cpu_seconds(os.getpid()) - c0,
            "server_cpu_seconds": _cpu_seconds(server_pid) - s0,
            **parts,
        }
    finally:
        store.close()


def neo4j_bulk_run(ops: list[Op], workdir: Path) -> dict[str, float]:
    """First load the bulk way: the calls into a MemoryStore (the loaders' staging store), then
    ``neo4j-admin database import`` via :func:`graph_models.neo4j_bulk.bulk_import` (files,
    server stop, import, start, constraints and indexes, count check). All of it is timed."""
    from graph_models.neo4j_bulk import bulk_import

    shutil.rmtree(workdir, ignore_errors=True)
    t0 = time.perf_counter()
    staging = MemoryStore()
    replay(staging, ops)
    staging.counts()
    t_staged = time.perf_counter()
    files, store = bulk_import(staging, workdir)
    seconds = time.perf_counter() - t0
    store.close()
    shutil.rmtree(workdir, ignore_errors=True)
    steps = {f"{k}_seconds": v for k, v in files.seconds.items()}
    return {"seconds": seconds, "staging_seconds": t_staged - t0, **steps}


def _bare_driver() -> tuple[Any, str | None]:
    """The official driver on the same server, without the store (the naive baseline's floor)."""
    import neo4j

    from graph_models.neo4j_settings import connection_settings

    cfg = connection_settings()
    auth = (str(cfg["user"]), str(cfg["password"]))
    return neo4j.GraphDatabase.driver(str(cfg["uri"]), auth=auth), cfg["database"]


def neo4j_naive_run(make_store: Callable[[], Any], ops: list[Op]) -> dict[str, float]:
    """One MERGE per row, one transaction per row, through the bare driver."""
    store = make_store()
    driver, database = _bare_driver()
    try:
        store.clear()
        store.ensure_schema()
        t_start = time.perf_counter()
        with driver.session(database=database) as session:
            for kind, name, rows, create_only in ops:
                rows = _as_frame(rows)
                cols = list(rows.columns)
                for values in rows.itertuples(index=False, name=None):
                    rec = {c: v for c, v in zip(cols, values, strict=True) if not _missing(v)}
                    rec = {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
                    if kind == "nodes":
                        node_id = rec.pop("id")
                        on = "ON CREATE SET" if create_only else "SET"
                        session.run(
                            f"MERGE (n:{name} {{id: $id}}) {on} n += $props", id=node_id, props=rec
                        ).consume()
                    else:
                        keys = {
                            k: rec.pop(k) for k in ("id", "src", "dst", "src_label", "dst_label")
                        }
                        session.run(
                            f"MERGE (a:{keys['src_label']} {{id: $src}}) "
                            f"MERGE (b:{keys['dst_label']} {{id: $dst}}) "
                            f"MERGE (a)-[r:{name} {{id: $id}}]->(b) SET r += $props",
                            id=keys["id"], src=keys["src"], dst=keys["dst"], props=rec,
                        ).consume()  # fmt: skip
        return {"seconds": time.perf_counter() - t_start}  # without clear/ensure_schema
    finally:
        driver.close()
        store.close()


def summarise(runs: list[dict[str, float]], counts: dict[str, int]) -> dict[str, Any]:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out: dict[str, Any] = {
        "median_seconds": round(med["seconds"], 2),
        "rows_per_s": round(counts["rows"] / med["seconds"]),
        "runs_seconds": [round(r["seconds"], 2) for r in runs],
    }
    if "relationship_seconds" in med and "consolidate_seconds" not in med:
        out["relationships_per_s"] = round(
            counts["relationship_rows"] / med["relationship_seconds"]
        )
        out["nodes_per_s"] = round(counts["node_rows"] / med["node_seconds"])
        out["median_relationship_seconds"] = round(med["relationship_seconds"], 2)
        out["median_node_seconds"] = round(med["node_seconds"], 2)
    if med.get("server_cpu_seconds"):
        out["server_cpu_us_per_row"] = round(med["server_cpu_seconds"] / counts["rows"] * 1e6, 1)
        out["client_cpu_us_per_row"] = round(med["client_cpu_seconds"] / counts["rows"] * 1e6, 1)
    if "consolidate_seconds" in med:
        out["median_consolidate_seconds"] = round(med["consolidate_seconds"], 2)
    return out


# -- neo4j plumbing -----------------------------------------------------------------------------


def neo4j_setup(batch_size: int, writers: int) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    from graph_models.neo4j_errors import describe_neo4j_error
    from graph_models.neo4j_store import Neo4jStore

    def make(size: int = batch_size, create_first: bool = True, n: int = writers) -> Neo4jStore:
        return Neo4jStore.from_env(batch_size=size, writers=n, create_first=create_first)

    try:
        probe = make()
    except Exception as e:
        print(f"neo4j: not measured ({describe_neo4j_error(e) or e})", file=sys.stderr)
        return None
    driver, database = _bare_driver()
    try:
        with driver.session(database=database) as session:
            rec = session.run("CALL dbms.components() YIELD name, versions, edition").single()
        info: dict[str, Any] = {
            "uri": probe.uri,
            "version": rec["versions"][0],
            "edition": rec["edition"],
        }
    finally:
        driver.close()
        probe.close()
    import neo4j

    info["driver"] = neo4j.__version__
    from importlib import metadata

    try:
        info["rust_ext"] = metadata.version("neo4j-rust-ext")
    except metadata.PackageNotFoundError:
        info["rust_ext"] = None
    from graph_models.neo4j_settings import bundled_home

    home = bundled_home()
    pid_file = home / "run" / "neo4j.pid"
    info["pid"] = int(pid_file.read_text().strip()) if pid_file.exists() else None
    if info["pid"]:
        conf = home / "conf" / "neo4j.conf"
        if conf.exists():
            info["memory_settings"] = [
                ln.strip() for ln in conf.read_text().splitlines() if ln.startswith("server.memory")
            ]
    return make, info


def _server_pid() -> int | None:
    """The bundled server's pid (None for another server: its CPU is then not measured)."""
    from graph_models.neo4j_settings import bundled_home

    pid_file = bundled_home() / "run" / "neo4j.pid"
    with suppress(OSError, ValueError):
        return int(pid_file.read_text().strip())
    return None


def cpu_probe() -> float:
    """Seconds for a fixed pure-Python loop (about 0.5 s on an idle 2020s server core): a larger
    number means other processes were taking the CPU while we measured."""
    t0 = time.perf_counter()
    sum(range(30_000_000))
    return round(time.perf_counter() - t0, 2)


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--neo4j-repeats", type=int, default=None, help="Full Neo4j ingests (default --repeats)"
    )
    ap.add_argument(
        "--batch-size", type=int, default=None, help="Neo4jStore batch size (default: the store's)"
    )
    ap.add_argument(
        "--writers", type=int, default=None, help="Neo4jStore writers (default: the store's)"
    )
    ap.add_argument(
        "--naive-sample", type=int, default=20_000, help="Rows for the per-row Neo4j baseline."
    )
    ap.add_argument(
        "--sweep", default="", help="Comma-separated batch sizes to time on --sweep-rows rows."
    )
    ap.add_argument("--sweep-rows", type=int, default=1_000_000)
    ap.add_argument("--stores", default="memory,neo4j")
    ap.add_argument(
        "--neo4j-modes",
        default="merge,cypher,bulk",
        help="cypher: Neo4jStore as configured (CREATE first, MERGE fallback; online, "
        "idempotent); merge: the same store with MERGE only (as before CREATE-first); "
        "cypher-2-writers: two sessions at once; bulk: first load through neo4j-admin import "
        "(bundled server only; it is stopped and restarted). Modes alternate within each repeat.",
    )
    ap.add_argument("--cache", type=Path, default=Path("/tmp/riskgraph-bench"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument(
        "--tag", default="", help="Suffix of the result file name (ingest-...-TAG.json)"
    )
    args = ap.parse_args()
    from graph_models.neo4j_store import DEFAULT_BATCH_SIZE, DEFAULT_WRITERS

    batch_size = args.batch_size or DEFAULT_BATCH_SIZE
    writers = args.writers or DEFAULT_WRITERS
    args.cache.mkdir(parents=True, exist_ok=True)
    load_before, probe_before = os.getloadavg(), cpu_probe()
    ops, data_info = workload(args.households, args.seed, args.cache)
    counts = row_counts(ops)
    print(
        f"households={args.households:,}: {len(ops)} store calls, {counts['node_rows']:,} node rows, "
        f"{counts['relationship_rows']:,} relationship rows",
        flush=True,
    )
    workload_rss = round(psutil.Process().memory_info().rss / 2**20)
    result: dict[str, Any] = {
        "benchmark": "ingest",
        "date": dt.date.today().isoformat(),
        "households": args.households,
        "seed": args.seed,
        "workload": {
            **counts,
            "store_calls": len(ops),
            **data_info,
            "rss_mb_python_holding_the_workload": workload_rss,  # peaks below include this
        },
        "repeats": args.repeats,
        "neo4j_repeats": args.neo4j_repeats or args.repeats,
    }
    stores = set(args.stores.split(","))
    neo = neo4j_setup(batch_size, writers) if "neo4j" in stores else None
    rss = _PeakRss({"python": os.getpid(), "neo4j": neo[1]["pid"] if neo else None})

    if "memory" in stores:
        with rss.watch():
            ours = [timed(lambda: memory_store_run(ops)) for _ in range(args.repeats)]
        naive = [timed(lambda: memory_naive_run(ops)) for _ in range(args.repeats)]
        m, b = summarise(ours, counts), summarise(naive, counts)
        result["memory"] = {
            "store": m, "naive_row_by_row_dicts": b,
            "speedup": round(b["median_seconds"] / m["median_seconds"], 1),
            "peak_rss_mb_python": round(rss.peak["python"]),
        }  # fmt: skip
        print(f"memory: {m['rows_per_s']:,} rows/s vs naive {b['rows_per_s']:,} rows/s", flush=True)

    if neo is not None:
        make, info = neo
        result["neo4j"] = {"server": info, "batch_size": batch_size, "writers": writers}
        if args.sweep:
            sub = sample(ops, args.sweep_rows)
            sub_counts = row_counts(sub)
            sweep = {}
            for size in [int(s) for s in args.sweep.split(",")]:
                run = timed(lambda size=size: neo4j_run(lambda: make(size), sub, _server_pid()))
                sweep[size] = summarise([run], sub_counts)
                print(f"neo4j batch {size:>6,}: {sweep[size]['relationships_per_s']:,} rels/s, "
                      f"{sweep[size]['nodes_per_s']:,} nodes/s", flush=True)  # fmt: skip
            result["neo4j"]["batch_size_sweep"] = {"rows": sub_counts, "by_batch_size": sweep}
        naive_ops = sample(ops, args.naive_sample)
        naive_counts = row_counts(naive_ops)
        naive = [timed(lambda: neo4j_naive_run(make, naive_ops)) for _ in range(args.repeats)]
        b = summarise(naive, naive_counts)
        b["sample_rows"] = naive_counts["rows"]
        b["extrapolated_seconds"] = round(counts["rows"] / b["rows_per_s"])
        result["neo4j"].update(naive_merge_per_row=b, target={"relationships_per_s": 50_000,
                               "speedup": 30})  # fmt: skip
        modes = args.neo4j_modes.split(",")
        online = {  # name -> store factory; "merge" is the store before CREATE-first
            "cypher": lambda: make(),
            "merge": lambda: make(create_first=False),
            "cypher-2-writers": lambda: make(n=2),
        }
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        rss.peak = dict.fromkeys(rss.procs, 0.0)
        for i in range(args.neo4j_repeats or args.repeats):  # modes interleaved: same noise
            for mode in modes:
                if mode == "bulk":
                    runs[mode].append(
                        timed(lambda: neo4j_bulk_run(ops, args.cache / "neo4j-import"))
                    )
                else:  # the bulk import restarts the server: its pid is read again
                    pid = _server_pid()
                    watch = _PeakRss({"python": os.getpid(), "neo4j": pid})
                    with watch.watch():
                        runs[mode].append(timed(lambda m=mode, p=pid: neo4j_run(online[m], ops, p)))
                    for k, v in watch.peak.items():
                        rss.peak[k] = max(rss.peak.get(k, 0.0), v)
                print(f"neo4j {mode} run {i + 1}: {runs[mode][-1]['seconds']:.1f} s", flush=True)
        for mode in modes:
            if mode == "bulk":
                continue
            m = summarise(runs[mode], counts)
            key = "store" if mode == "cypher" else f"store_{mode.replace('-', '_')}"
            result["neo4j"][key] = m
            if mode == "cypher":
                result["neo4j"].update(
                    speedup=round(m["rows_per_s"] / b["rows_per_s"], 1),
                    peak_rss_mb_python=round(rss.peak["python"]),
                    peak_rss_mb_neo4j=round(rss.peak.get("neo4j", 0)) or None,
                )
            print(f"neo4j {mode}: {m['relationships_per_s']:,} rels/s, {m['nodes_per_s']:,} nodes/s, "
                  f"server CPU {m.get('server_cpu_us_per_row')} us/row", flush=True)  # fmt: skip
        if "bulk" in modes:
            bulk = runs["bulk"]
            k = summarise(bulk, counts)
            k["relationships_per_s"] = round(counts["relationship_rows"] / k["median_seconds"])
            for step in ("staging", "write", "import_and_restart", "schema"):
                k[f"median_{step}_seconds"] = round(
                    statistics.median(r[f"{step}_seconds"] for r in bulk), 2
                )
            result["neo4j"].update(
                bulk_import=k, bulk_speedup=round(k["rows_per_s"] / b["rows_per_s"], 1)
            )
            print(f"neo4j bulk: {k['relationships_per_s']:,} rels/s (whole first load)", flush=True)
        n = result["neo4j"]
        if "bulk_import" in n:  # the floor: online rates as a share of the offline importer's
            n["ratio_to_bulk"] = {
                key[len("store_") :] if key != "store" else "cypher": round(
                    n["bulk_import"]["median_seconds"] / n[key]["median_seconds"], 2
                )
                for key in n
                if key == "store" or key.startswith("store_")
            }

    result["machine"] = {
        **machine_info(("pandas", "numpy", "pyarrow", "neo4j", "neo4j-rust-ext")),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_probe_seconds_before_after": [probe_before, cpu_probe()],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    size = "" if args.households == 100_000 else f"{args.households}-"
    tag = f"-{args.tag}" if args.tag else ""
    out = args.out / f"ingest-{size}{result['date']}{tag}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), "utf-8")
    print_table(result)
    print(f"-> {out}")


def print_table(result: dict[str, Any]) -> None:
    w = result["workload"]
    print(f"\ningest, {result['households']:,} households: {w['node_rows']:,} node rows + "
          f"{w['relationship_rows']:,} relationship rows (medians of {result['repeats']})")  # fmt: skip
    print(f"{'store':<8}{'how':<28}{'seconds':>10}{'rows/s':>12}{'rels/s':>12}{'speedup':>9}")
    for name in ("memory", "neo4j"):
        r = result.get(name)
        if not r:
            continue
        base_key = next(k for k in r if k.startswith("naive"))
        rows = [("riskgraph", r["store"], r.get("speedup"))] if "store" in r else []
        rows += [(f"riskgraph {k[6:]}", r[k], None) for k in r if k.startswith("store_")]
        if "bulk_import" in r:
            rows.append(("riskgraph bulk import", r["bulk_import"], r["bulk_speedup"]))
        for how, x, speedup in [*rows, (base_key, r[base_key], None)]:
            secs = x.get("extrapolated_seconds", x["median_seconds"])
            speed = f"{speedup}x" if speedup else ""
            print(f"{name:<8}{how:<28}{secs:>10,.1f}{x['rows_per_s']:>12,}"
                  f"{x.get('relationships_per_s', 0):>12,}{speed:>9}")  # fmt: skip
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB; load average "
          f"{m['load_average_before']} -> {m['load_average_after']}; CPU probe "
          f"{m['cpu_probe_seconds_before_after']} s (~0.5 s when idle)")  # fmt: skip
    if "neo4j" in result:
        s = result["neo4j"]["server"]
        print(f"neo4j {s['version']} {s['edition']}, driver {s['driver']} (rust ext {s['rust_ext']}), "
              f"batch {result['neo4j']['batch_size']:,}, peak RSS python "
              f"{result['neo4j'].get('peak_rss_mb_python')} MiB / neo4j {result['neo4j'].get('peak_rss_mb_neo4j')} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
