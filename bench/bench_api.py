"""API latency under load: p50 / p99 of flag list, flag detail, 2-hop neighbourhood and paths at
50 concurrent clients, on the synthetic 100k-household dataset, embedded (memory) and Neo4j stores.

Setup (cached in ``--work``, reused when present): ``fixtures.synth.generate`` writes the dataset,
the loaders fill an embedded store (and, for ``neo4j``, the Neo4j database), every detector runs
(a detector that crashes is recorded and skipped, not fatal), the flags are imported into a fresh
SQLite state DB with three users. Then for each store and each ``--workers`` count a real server
runs (``riskgraph serve --workers N`` on 127.0.0.1) and a closed-loop load generator
(``bench.http_load``: raw keep-alive HTTP/1.1, a tenth of httpx's CPU per request) keeps
``--concurrency`` requests in flight until ``--requests`` have completed per scenario, after a
warm-up; then the same number of users who pause between requests (``--think``). Each scenario
also runs with one client, and ``/me`` (authentication only) is the do-nothing baseline.

Who asks: an investigator with a national scope (personal-data clearance: every response with
personal data is written to the audit trail, so reads cost a state-DB write) and, for the
neighbourhood, the flag list and flag detail, also a city-level aid inspector (region scoping
and masking on every node; a flag cut to the scope: every id it names looked up).
The load generator runs on the same 2-core machine as the server, so its CPU competes.

Usage::

    .venv/bin/python bench/bench_api.py [--households 100000] [--stores memory,neo4j]
        [--requests 1000] [--concurrency 50] [--work /tmp/riskgraph-bench-api]

For ``neo4j`` (the default only when ``NEO4J_URI`` is set) the server comes from
``NEO4J_URI``/``NEO4J_PASSWORD`` or the bundled one; its database is cleared and reloaded, so use
a separate instance, e.g. ``RISKGRAPH_NEO4J_HOME=/tmp/n RISKGRAPH_NEO4J_BOLT_PORT=7711
RISKGRAPH_NEO4J_HTTP_PORT=7511 bash scripts/neo4j.sh start``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine_info  # noqa: E402

#: ``me`` is the baseline: an authenticated request that does no graph or state-DB work, so it
#: measures what FastAPI, uvicorn and the load generator cost on this machine at this concurrency
SCENARIOS = (
    "me",
    "flag_list",
    "flag_detail",
    "neighborhood_2hop",
    "neighborhood_2hop_regional",
    "flag_list_regional",
    "flag_detail_regional",
    "paths",
)


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def prepare_memory(work: Path, households: int, seed: int) -> dict[str, Any]:
    """Dataset, embedded store and flags in ``work`` (each step skipped when already done)."""
    from engine.outputs import flag_counts, write_flags
    from engine.registry import all_detectors
    from engine.runner import run_detectors
    from fixtures.synth import generate
    from graph_models.memory_store import MemoryStore
    from loaders.load import load_dataset

    info: dict[str, Any] = {}
    dataset, ws, scan = work / "dataset", work / "ws", work / "scan"
    if not (dataset / "ground_truth.jsonl").exists():
        _log(f"generating {households:,} households")
        t0 = time.perf_counter()
        generate(dataset, households=households, seed=seed)
        info["generate_seconds"] = round(time.perf_counter() - t0, 1)
    store = MemoryStore(ws)
    if not store.counts()["nodes"]:
        _log("loading the embedded store")
        t0 = time.perf_counter()
        load_dataset(dataset, store, rejects_dir=ws / "rejects")
        store.flush()
        info["load_seconds"] = round(time.perf_counter() - t0, 1)
    if not (scan / "flags.jsonl").exists():
        flags, failed = [], {}
        for spec in all_detectors():
            _log(f"detector {spec.id}")
            try:
                flags.extend(
                    run_detectors(store, only=[spec.id], as_of=dt.date(2024, 12, 31)).flags
                )
            except Exception as e:  # recorded: the bench measures the API, not the detectors
                failed[spec.id] = f"{type(e).__name__}: {e}"[:300]
        write_flags(scan, flags)
        (scan / "detectors.json").write_text(
            json.dumps({"counts": flag_counts(flags), "failed": failed}, indent=2), "utf-8"
        )
    info.update(json.loads((scan / "detectors.json").read_text("utf-8")))
    info["graph"] = store.counts()
    return info


def prepare_neo4j(work: Path) -> None:
    from graph_models.neo4j_store import Neo4jStore
    from loaders.load import load_dataset

    store = Neo4jStore.from_env()
    marker = work / "neo4j-loaded"
    if marker.exists() and store.counts()["nodes"].get("Household"):
        store.close()
        return
    _log("loading Neo4j (cleared first)")
    store.clear()
    store.ensure_schema()
    t0 = time.perf_counter()
    load_dataset(work / "dataset", store, rejects_dir=work / "neo4j-rejects")
    marker.write_text(f"{time.perf_counter() - t0:.1f}", "utf-8")
    store.close()


def prepare_state(work: Path) -> tuple[str, dict[str, str]]:
    """A fresh SQLite state DB with the flags and three users; returns (url, tokens).

    Done with the ``riskgraph`` commands a bureau would run (``users add``, ``import-flags``).
    """
    import pandas as pd
    from click.testing import CliRunner

    from api.cli.main import main as riskgraph

    def run(*args: str) -> str:
        result = CliRunner().invoke(riskgraph, [*args, "--state-db", url], catch_exceptions=False)
        if result.exit_code:
            raise SystemExit(f"riskgraph {' '.join(args)} failed: {result.output}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""

    path = work / "state.sqlite"
    for p in work.glob("state.sqlite*"):
        p.unlink()
    url = f"sqlite:///{path}"
    hh = pd.read_parquet(
        work / "ws" / "graph" / "nodes" / "Household.parquet", columns=["region_code"]
    )
    city = hh["region_code"].str[:4].value_counts().index[0] + "00"
    tokens = {
        "investigator": run("users", "add", "bench-investigator", "--role", "investigator",
                            "--region", "000000"),
        "aid_inspector": run("users", "add", "bench-inspector", "--role", "aid_inspector",
                             "--region", city),
        "admin": run("users", "add", "bench-admin", "--role", "admin"),
    }  # fmt: skip
    run("import-flags", str(work / "scan"))
    return url, tokens | {"_city": city}


def samples(work: Path, n: int, seed: int) -> dict[str, list[Any]]:
    """Flag ids, households (all / in the inspector's city) and entity pairs for paths."""
    import pandas as pd

    from engine.outputs import read_flags

    rng = random.Random(seed)
    flags = read_flags(work / "scan" / "flags.jsonl")
    nodes = work / "ws" / "graph" / "nodes"
    hh = pd.read_parquet(nodes / "Household.parquet", columns=["id", "region_code"])
    known = set(hh["id"]) | set(pd.read_parquet(nodes / "Person.parquet", columns=["id"])["id"])
    known |= set(pd.read_parquet(nodes / "Account.parquet", columns=["id"])["id"])
    pairs = []
    for f in flags:
        ents = [e for e in f.entities if e in known]
        if len(ents) >= 2:
            pairs.append((ents[0], ents[-1]))
    rng.shuffle(pairs)
    return {
        "flags": rng.sample([f.flag_id for f in flags], min(n, len(flags))),
        # aid flags of the inspector's city (set by the caller once the city is known)
        "all_flags": [(f.flag_id, f.family, f.region_code or "") for f in flags],
        "households": rng.sample(list(hh["id"]), min(n, len(hh))),
        "pairs": pairs[:n],
        "hh_region": dict(zip(hh["id"], hh["region_code"], strict=True)),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    store: str, work: Path, url: str, workers: int = 1
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "riskgraph"), "serve", "--store", store,
           "--workspace", str(work / "ws"), "--state-db", url, "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    with open(work / f"serve-{store}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}/api/v1"
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited, see {work / f'serve-{store}.log'}")
        try:
            health = httpx.get(f"{base}/healthz", timeout=2)
            # measure only once the startup cache build is done (it competes for the CPU)
            if health.status_code == 200 and health.json().get("warm", True):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("server did not come up")


def _load(
    base: str, token: str, requests: list[str], concurrency: int, think: float = 0.0
) -> tuple[list[float], dict[Any, int]]:
    from bench.http_load import run_load

    auth = {"Authorization": f"Bearer {token}"}
    res = asyncio.run(run_load(base, requests, concurrency, auth, think_seconds=think))
    return res.latencies, res.statuses


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and its children (the worker processes
    of ``serve --workers``), from Linux /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return own + sum(_cpu_seconds(int(c)) for c in children if Path(f"/proc/{c}").exists())


def _pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def run_scenarios(
    server_pid: int,
    base: str,
    tokens: dict[str, str],
    smp: dict[str, Any],
    n: int,
    concurrency: int,
    only: tuple[str, ...] = SCENARIOS,
    think: float = 0.0,
) -> dict[str, Any]:
    city = tokens["_city"]
    local = [h for h in smp["households"] if str(smp["hh_region"].get(h, "")).startswith(city[:4])]
    local = local or smp["households"]
    smp["local_flags"] = [
        f
        for f, family, region in smp["all_flags"]
        if family == "aid" and region.startswith(city[:4])
    ][:n]

    def cycle(items: list[Any], fmt) -> list[str]:
        return [fmt(items[i % len(items)]) for i in range(n)]

    plans = {
        "me": ("investigator", ["/me"] * n),
        "flag_list": ("investigator", cycle(list(range(20)), lambda i: f"/flags?limit=50&offset={i * 50}")),
        "flag_detail": ("investigator", cycle(smp["flags"], lambda f: f"/flags/{f}")),
        "neighborhood_2hop": ("investigator", cycle(smp["households"], lambda h: f"/entities/{h}/neighborhood?hops=2")),
        "neighborhood_2hop_regional": ("aid_inspector", cycle(local, lambda h: f"/entities/{h}/neighborhood?hops=2")),
        # a regional user's flags are cut to their scope (api.server.flag_views.FlagReader)
        "flag_list_regional": ("aid_inspector", cycle(list(range(5)), lambda i: f"/flags?limit=50&offset={i * 50}")),
        "flag_detail_regional": ("aid_inspector", cycle(smp["local_flags"] or smp["flags"], lambda f: f"/flags/{f}")),
        "paths": ("investigator", cycle(smp["pairs"], lambda p: f"/paths?source={p[0]}&target={p[1]}&max_hops=4")),
    }  # fmt: skip
    out = {}
    for name, (user, reqs) in plans.items():
        if not reqs or name not in only:
            continue
        _log(f"  {name}: warm-up")
        _load(base, tokens[user], reqs[: max(20, concurrency)], concurrency)
        out[name] = {"user": user}
        # one client first (service time), then the concurrent clients back to back (service +
        # queueing at saturation), then the same clients as people who read each answer for a
        # while (mean think time): the latency a user sees at that offered load
        runs = [("single_client", 1, reqs[: min(100, len(reqs))], 0.0),
                ("concurrent", concurrency, reqs, 0.0)]  # fmt: skip
        if think > 0:
            runs.append(("concurrent_with_think_time", concurrency, reqs, think))
        for label, clients, batch, pause in runs:
            _log(f"  {name}: {len(batch)} requests, {clients} client(s)")
            t0, cpu0, own0 = time.perf_counter(), _cpu_seconds(server_pid), time.process_time()
            lat, statuses = _load(base, tokens[user], batch, clients, pause)
            wall = time.perf_counter() - t0
            server_cpu = (_cpu_seconds(server_pid) - cpu0) * 1000 / max(1, len(lat))
            client_cpu = (time.process_time() - own0) * 1000 / max(1, len(lat))
            out[name][label] = {
                "requests": len(lat), "clients": clients,
                "p50_ms": _pct(lat, 0.5), "p90_ms": _pct(lat, 0.9), "p99_ms": _pct(lat, 0.99),
                "mean_ms": round(statistics.fmean(lat), 1), "max_ms": round(max(lat), 1),
                "think_time_mean_s": pause,
                "throughput_rps": round(len(lat) / wall, 1), "statuses": statuses,
                "server_cpu_ms_per_request": round(server_cpu, 2),
                "load_generator_cpu_ms_per_request": round(client_cpu, 2),
            }  # fmt: skip
            r = out[name][label]
            _log(f"    p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  {r['throughput_rps']} req/s  "
                 f"server {r['server_cpu_ms_per_request']} ms CPU/req  {statuses}")  # fmt: skip
    base_run = out.get("me", {}).get("concurrent")
    for name, res in out.items():
        run = res.get("concurrent")
        if base_run and run and name != "me":
            res["vs_baseline_me"] = {
                "p50_ratio": round(run["p50_ms"] / max(base_run["p50_ms"], 0.1), 2),
                "p99_ratio": round(run["p99_ms"] / max(base_run["p99_ms"], 0.1), 2),
                "throughput_ratio": round(run["throughput_rps"] / base_run["throughput_rps"], 3),
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument(
        "--stores",
        default="memory,neo4j" if os.environ.get("NEO4J_URI") else "memory",
        help="Default memory,neo4j when NEO4J_URI names a server to clear and reload, else memory.",
    )
    ap.add_argument("--requests", type=int, default=1000, help="Per scenario.")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument(
        "--think", type=float, default=1.0,
        help="Mean think time (s) of the third run per scenario; 0 skips it.",
    )  # fmt: skip
    ap.add_argument(
        "--workers", default="1",
        help="Comma-separated worker process counts to run each store with (serve --workers).",
    )  # fmt: skip
    ap.add_argument("--tag", default="", help="Suffix for the result file name.")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="Comma-separated subset.")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=Path("/tmp/riskgraph-bench-api"))
    ap.add_argument("--fresh", action="store_true", help="Delete --work first.")
    args = ap.parse_args()
    if args.fresh and args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    info = prepare_memory(args.work, args.households, args.seed)
    url, tokens = prepare_state(args.work)
    smp = samples(args.work, 300, args.seed)
    result: dict[str, Any] = {
        "benchmark": "api",
        "date": dt.date.today().isoformat(),
        "households": args.households,
        "graph": info["graph"],
        "flags": sum(c["total"] for c in info["counts"].values()),
        "detectors_failed": info["failed"],
        "regional_user_scope": tokens["_city"],
        "stores": {},
        "machine": machine_info(("fastapi", "uvicorn", "httpx", "sqlalchemy", "pandas", "neo4j")),
        "notes": "server and load generator share one 2-core machine; one uvicorn process per "
                 "worker (stores named <store>_<n>_workers ran with serve --workers n, compared "
                 "in vs_one_worker with the 1-worker run of the same invocation); investigator "
                 "reads with personal data append a hash-chained audit row each",
    }  # fmt: skip
    for store in args.stores.split(","):
        if store == "neo4j":
            prepare_neo4j(args.work)
            result["neo4j_load_seconds"] = float((args.work / "neo4j-loaded").read_text())
        for workers in (int(w) for w in args.workers.split(",")):
            key = store if workers == 1 else f"{store}_{workers}_workers"
            _log(f"store {store}, {workers} worker process(es): starting server")
            proc, base = start_server(store, args.work, url, workers)
            try:
                result["stores"][key] = run_scenarios(
                    proc.pid,
                    base, tokens, smp, args.requests, args.concurrency,
                    tuple(args.scenarios.split(",")), args.think,
                )  # fmt: skip
                result["stores"][key]["workers"] = workers
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            one = result["stores"].get(store)
            if workers > 1 and one:
                for name, res in result["stores"][key].items():
                    if not isinstance(res, dict) or not isinstance(one.get(name), dict):
                        continue
                    run, base_run = res.get("concurrent"), one[name].get("concurrent")
                    if run and base_run:
                        res["vs_one_worker"] = {
                            "p99_ratio": round(run["p99_ms"] / max(base_run["p99_ms"], 0.1), 2),
                            "throughput_ratio": round(
                                run["throughput_rps"] / base_run["throughput_rps"], 2
                            ),
                        }
    out = (
        ROOT
        / "bench"
        / "results"
        / f"api-{args.households}-{result['date']}{'-' + args.tag if args.tag else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), "utf-8")
    _log(f"written {out}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
