"""Benchmark of the debt-risk engine: guarantee circles, ownership control, DebtRank contagion.

Usage::

    .venv/bin/python bench/bench_debt.py --firms 200000 --guarantees 1000000

What runs
---------
1. A seeded synthetic credit network: ``--firms`` firms in regional clusters (most of 20-300
   firms, one dense 5,000-firm cluster), ``--guarantees`` guarantees (80 % forward inside a
   region of ~3,000 firms, acyclic; 20 % backward inside the cluster, which makes the circles), an
   ownership forest with gov units, persons and some cross-holdings, one loan per firm from 200
   banks (1 % overdue or defaulted).
2. **ours, end to end**: the three detectors ``guarantee.circle``, ``ownership.control`` and
   ``guarantee.contagion`` through ``run_detectors`` on a MemoryStore (evidence included).
3. **kernels, ours vs networkx-only**, on the same graph: SCC, bounded cycles (length 6, cap
   10,000 per component), PageRank per circle, control chains (weakest link, cap 10), and
   DebtRank for the same sources. The networkx baseline runs each step under ``--nx-budget``
   seconds; a step cut by the budget reports the share it finished and a linear extrapolation,
   marked ``extrapolated``. Without ``--nx-full`` the baseline runs on a ``--nx-firms`` subgraph
   (whole clusters), and ours is timed on that same subgraph for the ratio.

Times are medians of ``--repeats`` runs; peak RSS from ``resource.getrusage``. Results go to
``bench/results/debt-<date>.json`` and a table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd
import psutil
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.contagion import debtrank_by_node
from engine.cycles import bounded_cycles, strong_components
from engine.ownership import OwnershipGraph
from engine.runner import run_detectors
from graph_models.memory_store import MemoryStore

DETECTORS = ["guarantee.circle", "ownership.control", "guarantee.contagion"]


def dense_end(sizes: list[int]) -> int:
    """Firm index where the dense cluster ends (it sits in the middle of the cluster list)."""
    k = len(sizes) // 2
    return int(sum(sizes[: k + 1]))


def synth(firms: int, guarantees: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sizes = []
    dense = min(5000, firms // 4)
    total = dense
    while total < firms:
        s = int(min(rng.integers(20, 300), firms - total))
        sizes.append(s)
        total += s
    sizes.insert(len(sizes) // 2, dense)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])[cluster]
    end = start + np.array(sizes)[cluster]
    ids = np.array([f"F{i:07d}" for i in range(firms)], dtype=object)
    # credit is regional: clusters form regions of ~3,000 firms and forward guarantees stay
    # inside the region (the dense cluster is a region of its own)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    cut = [0]
    for b in bounds[1:]:
        if b - cut[-1] >= 3000 or b == dense_end(sizes) or b == bounds[-1]:
            cut.append(int(b))
    region_of = np.searchsorted(np.array(cut[1:]), np.arange(firms), side="right")
    r_start = np.array(cut)[region_of]
    r_end = np.array(cut[1:])[region_of]
    n_fwd = int(guarantees * 0.8)
    src = rng.integers(0, firms, n_fwd)
    span = r_end[src] - src - 1
    ok = span > 0
    src = src[ok]
    dst = src + 1 + (rng.random(len(src)) * span[ok]).astype(np.int64)
    del r_start
    n_back = guarantees - n_fwd
    b_src = rng.integers(0, firms, n_back)
    lo, hi = start[b_src], end[b_src]
    b_dst = lo + (rng.random(n_back) * (hi - lo)).astype(np.int64)
    g_src = np.concatenate([src, b_src])
    g_dst = np.concatenate([dst, b_dst])
    keep = g_src != g_dst
    g_src, g_dst = g_src[keep], g_dst[keep]
    net_assets = np.exp(rng.normal(18, 1.2, firms))
    enterprises = pd.DataFrame(
        {
            "id": ids,
            "name": ids,
            "region_code": [f"41{c % 90 + 10:02d}00" for c in cluster],
            "kind": "private",
            "net_assets": net_assets,
            "total_assets": net_assets * rng.uniform(1.5, 4, firms),
            "_table": "enterprises",
            "_line": np.arange(firms) + 2,
        }
    )
    banks = pd.DataFrame(
        {
            "id": [f"B{i:04d}" for i in range(200)],
            "name": [f"bank{i}" for i in range(200)],
            "region_code": "410000",
            "kind": "bank",
            "net_assets": np.exp(rng.normal(23, 0.5, 200)),
            "_table": "enterprises",
            "_line": firms + 2 + np.arange(200),
        }
    )
    amounts = net_assets[g_src] * rng.uniform(0.01, 0.3, len(g_src))
    gtable = pd.DataFrame(
        {
            "id": [f"G{i:08d}" for i in range(len(g_src))],
            "src": ids[g_src],
            "src_label": "Enterprise",
            "dst": ids[g_dst],
            "dst_label": "Enterprise",
            "amount": amounts,
            "_table": "guarantees",
            "_line": np.arange(len(g_src)) + 2,
        }
    )
    # ownership: a forest from gov units / persons down the firm order, plus cross-holdings
    # each cluster is a business group: a firm is held by an earlier firm of its cluster
    # (shallow trees, depth ~ log(cluster size)); cluster heads are held by gov units / persons
    pos = np.arange(firms) - start
    parent = start + (pos * rng.uniform(0.0, 0.3, firms)).astype(np.int64)
    root = pos == 0
    holder = np.where(root, 0, parent)
    holder_ids = ids[holder].copy()
    gov = rng.random(firms) < 0.1
    holder_ids[gov | root] = [f"GOV{i % 1000:04d}" for i in np.flatnonzero(gov | root)]
    pct1 = rng.uniform(30, 90, firms)
    second = rng.random(firms) < 0.5
    p2 = np.array([f"P{i:07d}" for i in rng.integers(0, firms, second.sum())], dtype=object)
    cross = rng.integers(0, firms, firms // 100)
    cross_dst = start[cross] + (rng.random(len(cross)) * (end[cross] - start[cross])).astype(int)
    holds = pd.concat(
        [
            pd.DataFrame({"src": holder_ids, "dst": ids, "share_pct": pct1}),
            pd.DataFrame({"src": p2, "dst": ids[second], "share_pct": 100 - pct1[second] - 1}),
            pd.DataFrame({"src": ids[cross], "dst": ids[cross_dst], "share_pct": 1.0}),
        ],
        ignore_index=True,
    )
    holds = holds[holds["src"] != holds["dst"]].reset_index(drop=True)
    holds["id"] = [f"H{i:08d}" for i in range(len(holds))]
    holds["src_label"] = np.where(
        holds["src"].str.startswith("GOV"),
        "GovUnit",
        np.where(holds["src"].str.startswith("P"), "Person", "Enterprise"),
    )
    holds["dst_label"] = "Enterprise"
    status = rng.choice(["normal", "overdue", "default"], firms, p=[0.99, 0.006, 0.004])
    loans = pd.DataFrame(
        {
            "id": [f"L{i:08d}" for i in range(firms)],
            "borrower_id": ids,
            "lender_id": banks["id"].to_numpy()[rng.integers(0, 200, firms)],
            "principal": net_assets * rng.uniform(0.2, 1.0, firms),
            "start_date": "2022-01-01",
            "maturity_date": "2027-01-01",
            "status": status,
        }
    )
    govs = pd.DataFrame(
        {"id": [f"GOV{i:04d}" for i in range(1000)], "name": "gov", "region_code": "410000"}
    )
    return {
        "enterprises": pd.concat([enterprises, banks], ignore_index=True),
        "guarantees": gtable,
        "holdings": holds,
        "loans": loans,
        "govs": govs,
    }


def store_of(data: dict[str, pd.DataFrame]) -> MemoryStore:
    s = MemoryStore()
    s.upsert_nodes("Enterprise", data["enterprises"])
    s.upsert_nodes("GovUnit", data["govs"])
    s.upsert_nodes("Loan", data["loans"])
    s.upsert_relationships("GUARANTEES", data["guarantees"])
    s.upsert_relationships("HOLDS_SHARES", data["holdings"])
    return s


def subset(data: dict[str, pd.DataFrame], firms: int) -> dict[str, pd.DataFrame]:
    keep = set(data["enterprises"]["id"].iloc[:firms]) | set(
        data["enterprises"].loc[data["enterprises"]["kind"] == "bank", "id"]
    )
    g, h = data["guarantees"], data["holdings"]
    return {
        "enterprises": data["enterprises"][data["enterprises"]["id"].isin(keep)],
        "guarantees": g[g["src"].isin(keep) & g["dst"].isin(keep)],
        "holdings": h[h["dst"].isin(keep) & (h["src"].isin(keep) | ~h["src"].str.startswith("F"))],
        "loans": data["loans"][data["loans"]["borrower_id"].isin(keep)],
        "govs": data["govs"],
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def exposures_of(data):
    g, loans = data["guarantees"], data["loans"]
    ex = pd.concat(
        [
            pd.DataFrame({"creditor": g["src"], "debtor": g["dst"], "amount": g["amount"]}),
            pd.DataFrame(
                {
                    "creditor": loans["lender_id"],
                    "debtor": loans["borrower_id"],
                    "amount": loans["principal"],
                }
            ),
        ],
        ignore_index=True,
    )
    ent = data["enterprises"].set_index("id")
    return ex, ent["net_assets"], ent["total_assets"].fillna(ent["net_assets"])


def kernels_ours(data, sources):
    g = data["guarantees"]
    nodes = pd.Index(sorted(set(g["src"]) | set(g["dst"])))
    s, d = nodes.get_indexer(g["src"]), nodes.get_indexer(g["dst"])
    out = {}
    t0 = time.perf_counter()
    labels = strong_components(len(nodes), s, d)
    out["scc"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sizes = np.bincount(labels)
    big = sizes[labels[s]] >= 3
    inside = big & (labels[s] == labels[d])
    cycles, truncated = bounded_cycles(g.loc[inside, ["src", "dst"]], 6, 10_000)
    out["cycles"] = time.perf_counter() - t0
    out["cycles_found"], out["components_truncated"] = len(cycles), len(truncated)
    t0 = time.perf_counter()
    sub = ig.Graph(
        n=len(nodes), edges=np.stack([s[inside], d[inside]], axis=1).tolist(), directed=True
    )
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for comp in np.flatnonzero(sizes >= 3):
        sub.induced_subgraph(order[bounds[comp] : bounds[comp + 1]].tolist()).pagerank()
    out["pagerank"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = data["holdings"].rename(columns={"src": "holder_id", "dst": "company_id"})
    OwnershipGraph(h).controllers()
    out["control"] = time.perf_counter() - t0
    ex, eq, val = exposures_of(data)
    t0 = time.perf_counter()
    debtrank_by_node(ex, eq, val, sources)
    out["debtrank"] = time.perf_counter() - t0
    return out


class Budget(Exception):
    pass


def kernels_nx(data, sources, budget: float):
    """The same steps with networkx only; each step stops at ``budget`` seconds."""
    g = data["guarantees"]
    G = nx.DiGraph()
    G.add_edges_from(zip(g["src"], g["dst"], strict=True))
    out = {}
    t0 = time.perf_counter()
    comps = [c for c in nx.strongly_connected_components(G)]
    out["scc"] = (time.perf_counter() - t0, 1.0)
    big = [c for c in comps if len(c) >= 3]
    weight = sum(len(c) for c in big) or 1

    def run_over(items, work, size):
        t0 = time.perf_counter()
        done = 0
        for item in items:
            if time.perf_counter() - t0 > budget:
                break
            work(item)
            done += size(item)
        return time.perf_counter() - t0, done

    el, done = run_over(
        big,
        lambda c: list(itertools.islice(nx.simple_cycles(G.subgraph(c), length_bound=6), 10_000)),
        len,
    )
    out["cycles"] = (el, done / weight)
    el, done = run_over(big, lambda c: nx.pagerank(G.subgraph(c)), len)
    out["pagerank"] = (el, done / weight)
    h = data["holdings"]
    H = nx.DiGraph()
    for a, b, p in zip(h["src"], h["dst"], h["share_pct"], strict=True):
        H.add_edge(a, b, w=p / 100)
    holders = [n for n in H if H.out_degree(n)]

    def control_from(src):
        acc = {}
        for path in nx.all_simple_paths(H, src, [t for t in nx.descendants(H, src)], cutoff=10):
            weak = min(H[a][b]["w"] for a, b in itertools.pairwise(path))
            acc[path[-1]] = acc.get(path[-1], 0.0) + weak
        return acc

    el, done = run_over(holders, control_from, lambda _: 1)
    out["control"] = (el, done / max(len(holders), 1))
    ex, eq, val = exposures_of(data)
    D = nx.DiGraph()
    for c, dd, a in zip(ex["creditor"], ex["debtor"], ex["amount"], strict=True):
        e = eq.get(c, 0.0)
        w = min(1.0, a / e) if e and e > 0 else 1.0
        if D.has_edge(dd, c):
            D[dd][c]["w"] = min(1.0, D[dd][c]["w"] + w)
        else:
            D.add_edge(dd, c, w=w)
    v = val.reindex(list(D.nodes)).fillna(0.0)
    v = (v / v.sum()).to_dict()

    def debtrank_nx(src):
        h = {src: 1.0}
        distressed, inactive = {src}, set()
        while distressed:
            delta = {}
            for i in distressed:
                for j, attr in D[i].items():
                    delta[j] = delta.get(j, 0.0) + attr["w"] * h[i]
            inactive |= distressed
            new = set()
            for j, x in delta.items():
                h[j] = min(1.0, h.get(j, 0.0) + x)
                if j not in inactive and j not in distressed:
                    new.add(j)
            distressed = new
        return sum(h[j] * v.get(j, 0.0) for j in h) - v.get(src, 0.0)

    el, done = run_over([s for s in sources if s in D], debtrank_nx, lambda _: 1)
    out["debtrank"] = (el, done / max(len([s for s in sources if s in D]), 1))
    return out


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "igraph": ig.__version__,
        "networkx": nx.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firms", type=int, default=200_000)
    ap.add_argument("--guarantees", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--nx-firms", type=int, default=20_000, help="firms in the networkx comparison graph"
    )
    ap.add_argument("--nx-full", action="store_true", help="run networkx on the full graph")
    ap.add_argument("--nx-budget", type=float, default=120.0, help="seconds per networkx step")
    ap.add_argument(
        "--sources", type=int, default=500, help="DebtRank sources in the kernel comparison"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    data = synth(args.firms, args.guarantees, args.seed)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = store_of(data)
    store.counts()
    load_s = time.perf_counter() - t0
    as_of = dt.date(2024, 6, 30)
    e2e_s, result = timed(lambda: run_detectors(store, only=DETECTORS, as_of=as_of), args.repeats)
    per_detector = result.timings
    flags = {d: sum(f.detector == d for f in result.flags) for d in DETECTORS}
    rss_full = peak_rss_mb()

    cmp_data = data if args.nx_full else subset(data, args.nx_firms)
    rng = np.random.default_rng(args.seed)
    firms = cmp_data["enterprises"]["id"][cmp_data["enterprises"]["kind"] != "bank"].to_numpy()
    sources = rng.choice(firms, min(args.sources, len(firms)), replace=False).tolist()
    _, ours = timed(lambda: kernels_ours(cmp_data, sources), args.repeats)
    theirs = kernels_nx(cmp_data, sources, args.nx_budget)
    rows = []
    for step in ("scc", "cycles", "pagerank", "control", "debtrank"):
        el, share = theirs[step]
        est = el / share if share > 0 else float("inf")
        rows.append(
            {
                "step": step,
                "ours_s": ours[step],
                "networkx_s": est,
                "networkx_measured_s": el,
                "networkx_share_done": share,
                "extrapolated": share < 1.0,
                "ratio": est / ours[step] if ours[step] > 0 else None,
            }
        )
    total_ours = sum(r["ours_s"] for r in rows)
    total_nx = sum(r["networkx_s"] for r in rows)
    report = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "graph": {
            "firms": args.firms,
            "guarantees": len(data["guarantees"]),
            "holdings": len(data["holdings"]),
            "loans": len(data["loans"]),
        },
        "generate_s": gen_s,
        "store_s": load_s,
        "end_to_end": {
            "detectors": DETECTORS,
            "median_s": e2e_s,
            "per_detector_s": per_detector,
            "flags": flags,
            "peak_rss_mb": rss_full,
        },
        "kernels": {
            "graph_firms": len(cmp_data["enterprises"]),
            "graph_guarantees": len(cmp_data["guarantees"]),
            "steps": rows,
            "ours_total_s": total_ours,
            "networkx_total_s": total_nx,
            "ratio": total_nx / total_ours,
            "cycles_found": ours["cycles_found"],
            "components_truncated": ours["components_truncated"],
        },
        "peak_rss_mb": peak_rss_mb(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"debt-{report['date']}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GiB; python {m['python']}, igraph {m['igraph']}, networkx {m['networkx']}, scipy {m['scipy']}"
    )
    print(
        f"graph: {args.firms:,} firms, {len(data['guarantees']):,} guarantees, {len(data['holdings']):,} holdings, {len(data['loans']):,} loans"
    )
    print(
        f"end to end ({', '.join(DETECTORS)}): {e2e_s:.1f} s median of {args.repeats}, peak RSS {rss_full:,.0f} MB"
    )
    for d, s in per_detector.items():
        print(f"  {d:24s} {s:8.2f} s  {flags[d]:>7,} flags")
    print(
        f"kernels on {len(cmp_data['enterprises']):,} firms / {len(cmp_data['guarantees']):,} guarantees:"
    )
    print(f"  {'step':10s} {'ours s':>9s} {'networkx s':>12s} {'ratio':>8s}")
    for r in rows:
        mark = " (extrapolated)" if r["extrapolated"] else ""
        print(
            f"  {r['step']:10s} {r['ours_s']:9.2f} {r['networkx_s']:12.2f} {r['ratio']:8.1f}x{mark}"
        )
    print(f"  {'total':10s} {total_ours:9.2f} {total_nx:12.2f} {total_nx / total_ours:8.1f}x")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
