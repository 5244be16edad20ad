"""Benchmark of the debt-risk engine: guarantee circles, ownership control, DebtRank contagion.

Usage::

    .venv/bin/python bench/bench_debt.py --firms 200000 --guarantees 1000000 --kernels 20000,full

What runs
---------
1. A seeded synthetic credit network: ``--firms`` firms in regional clusters (most of 20-300
   firms, one dense 5,000-firm cluster), ``--guarantees`` guarantees (80 % forward inside a
   region of ~3,000 firms, acyclic; 20 % backward inside the cluster, which makes the circles), an
   ownership forest with gov units, persons and some cross-holdings, one loan per firm from 200
   banks (1 % overdue or defaulted).
2. **ours, end to end**: the three detectors ``guarantee.circle``, ``ownership.control`` and
   ``guarantee.contagion`` through ``run_detectors`` on a MemoryStore, evidence included, with
   ``flag_every_stress_run`` on so that every overdue/defaulted borrower's stress run is turned
   into a flag (the heaviest configuration, and the work the first benchmark of 2026-11-23 did).
3. **kernels, ours vs networkx-only**, each step from the same input frames to the same output,
   graph construction included on both sides, on the graph sizes in ``--kernels`` (a number is a
   subgraph of that many firms, whole clusters; ``full`` the whole graph):

   * ``graph``: guarantee graph from the edge frame (ours: node positions by one pyarrow
     dictionary encoding; networkx: ``DiGraph.add_edges_from``);
   * ``scc``: strongly connected components (scipy.sparse.csgraph vs networkx);
   * ``cycles``: elementary cycles of length <= 6 in every component of >= 3 firms, at most
     10,000 per component (engine.cycles vs ``nx.simple_cycles(length_bound=6)``);
   * ``pagerank``: PageRank of every such component (igraph vs networkx);
   * ``control``: ownership control from the holdings frame: integrated cash-flow rights of
     every (holder, company) pair, control rights (weakest link summed over simple chains of
     <= 10 links), ultimate controllers (> 50 %, else largest >= 25 %, resolved up the control
     chain) with the best chain and ``gov_linked``. networkx: the holdings as a ``DiGraph``;
     cash flow by a per-holder walk summing ``A + A^2 + ...`` along the adjacency until
     contributions fall below 1e-12 (the series the linear solve sums exactly); control by
     ``nx.all_simple_paths(cutoff=10)`` per holder; controllers by the same test and a recursive
     resolution in Python dicts;
   * ``debtrank``: DebtRank of ``--sources`` single-firm defaults from the exposure frame
     (engine.contagion: reachable-closure batches, sparse products; networkx: impact graph built
     edge by edge, then one run per source in Python over the adjacency, as in the paper).

   networkx steps stop at ``--nx-budget`` seconds; a step cut by the budget reports the share
   it finished and a linear extrapolation, marked ``extrapolated``.

Wall times are medians of ``--repeats`` runs (CPU times of the same runs are recorded too: the
machine is shared and noisy); peak RSS is sampled during the end-to-end runs and read from
``getrusage`` after each phase. Results go to ``bench/results/debt-<date>.json`` and a table is
printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine_info
from engine.contagion import debtrank_by_node
from engine.cycles import bounded_cycles, strong_components
from engine.node_index import encode_nodes
from engine.ownership import OwnershipGraph
from engine.runner import parse_settings, run_detectors
from graph_models.memory_store import MemoryStore

DETECTORS = ["guarantee.circle", "ownership.control", "guarantee.contagion"]
SETTINGS = {"guarantee.contagion": {"flag_every_stress_run": True}}
STEPS = ("graph", "scc", "cycles", "pagerank", "control", "debtrank")


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


class RssSampler:
    """Peak resident set size of this process while the block runs (sampled every 50 ms)."""

    def __enter__(self) -> RssSampler:
        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._proc.memory_info().rss / 2**20)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss / 2**20)


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


class Clock:
    """Wall and CPU seconds of named steps."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def step(self, name: str, fn):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        self.wall[name] = time.perf_counter() - w
        self.cpu[name] = time.process_time() - c
        return out


def kernels_ours(data, sources, gov_ids):
    g = data["guarantees"]
    clock = Clock()
    nodes, (s, d) = clock.step("graph", lambda: encode_nodes(g["src"], g["dst"]))
    labels = clock.step("scc", lambda: strong_components(len(nodes), s, d))
    sizes = np.bincount(labels)
    big = sizes[labels[s]] >= 3
    inside = big & (labels[s] == labels[d])

    def cycles():
        pairs = list(dict.fromkeys(zip(s[inside].tolist(), d[inside].tolist(), strict=True)))
        return bounded_cycles(pairs, 6, 10_000)

    found, truncated = clock.step("cycles", cycles)

    def pagerank():
        sub = ig.Graph(
            n=len(nodes), edges=np.stack([s[inside], d[inside]], axis=1).tolist(), directed=True
        )
        order = np.argsort(labels, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        for comp in np.flatnonzero(sizes >= 3):
            sub.induced_subgraph(order[bounds[comp] : bounds[comp + 1]].tolist()).pagerank()

    clock.step("pagerank", pagerank)
    h = data["holdings"].rename(columns={"src": "holder_id", "dst": "company_id"})
    ctrl = clock.step("control", lambda: OwnershipGraph(h).controllers(gov_ids))
    ex, eq, val = exposures_of(data)
    ranks = clock.step("debtrank", lambda: debtrank_by_node(ex, eq, val, sources))
    facts = {
        "cycles_found": len(found),
        "components_truncated": len(truncated),
        "controlled_companies": int(ctrl["company_id"].nunique()),
        "debtrank_sum": float(ranks.sum()),
    }
    return clock, facts


def _budgeted(items, work, budget: float) -> tuple[float, float, float]:
    """Run ``work`` over ``items`` until ``budget`` seconds: (wall, cpu, share of items done)."""
    w, c = time.perf_counter(), time.process_time()
    done = 0
    for item in items:
        if time.perf_counter() - w > budget:
            break
        work(item)
        done += 1
    return time.perf_counter() - w, time.process_time() - c, done / max(len(items), 1)


def _nx_control(h: pd.DataFrame, gov_ids: set[str], budget: float):
    """Cash flow, control, controllers and chains with networkx and Python only."""
    share: dict[tuple[str, str], float] = {}
    vote: dict[tuple[str, str], float] = {}
    for a, b, p in zip(h["src"], h["dst"], h["share_pct"], strict=True):
        if a != b and p > 0:
            share[(a, b)] = share.get((a, b), 0.0) + p
    total: dict[str, float] = {}
    for (_, b), p in share.items():
        total[b] = total.get(b, 0.0) + p
    H = nx.DiGraph()
    for (a, b), p in share.items():
        p = p * 100.0 / total[b] if total[b] > 100.0 else p
        vote[(a, b)] = p
        H.add_edge(a, b, w=p / 100.0)
    holders = [n for n in H if H.out_degree(n)]
    cash: dict[tuple[str, str], float] = {}
    control: dict[tuple[str, str], float] = {}
    best: dict[tuple[str, str], tuple[float, list[str]]] = {}

    def per_holder(src: str) -> None:
        frontier = {src: 1.0}
        while frontier:
            nxt: dict[str, float] = {}
            for u, x in frontier.items():
                for v, attr in H[u].items():
                    y = x * attr["w"]
                    if y > 1e-12:
                        nxt[v] = nxt.get(v, 0.0) + y
            for v, y in nxt.items():
                if v != src:
                    cash[(src, v)] = cash.get((src, v), 0.0) + y
            frontier = nxt
        for path in nx.all_simple_paths(H, src, list(nx.descendants(H, src)), cutoff=10):
            weak = min(H[a][b]["w"] for a, b in itertools.pairwise(path))
            key = (src, path[-1])
            control[key] = control.get(key, 0.0) + weak
            if key not in best or weak > best[key][0]:
                best[key] = (weak, path)

    wall, cpu, share_done = _budgeted(holders, per_holder, budget)
    if share_done < 1.0:
        return wall, cpu, share_done
    w, c = time.perf_counter(), time.process_time()
    by_company: dict[str, list[tuple[str, float]]] = {}
    for (a, b), x in control.items():
        by_company.setdefault(b, []).append((a, min(1.0, x) * 100.0))
    immediate: dict[str, list[str]] = {}
    for company, rows in by_company.items():
        major = [a for a, x in rows if x > 50.0]
        if major:
            immediate[company] = sorted(major)
            continue
        top = max(x for _, x in rows)
        if top >= 25.0:
            immediate[company] = sorted(a for a, x in rows if x >= top - 1e-9)
    resolved: dict[str, list[str]] = {}

    def resolve(company: str, seen: frozenset[str]) -> list[str]:
        if company not in resolved:
            out: list[str] = []
            for holder in immediate[company]:
                if holder in immediate and holder not in seen:
                    out.extend(resolve(holder, seen | {holder}))
                else:
                    out.append(holder)
            resolved[company] = [u for u in dict.fromkeys(out) if u != company] or immediate[
                company
            ]
        return resolved[company]

    rows = []
    for company in sorted(immediate):
        for ctrl in resolve(company, frozenset([company])):
            chain = best.get((ctrl, company), (0.0, [ctrl, company]))[1]
            links = [vote[(a, b)] for a, b in itertools.pairwise(chain) if (a, b) in vote]
            rows.append((company, ctrl, cash.get((ctrl, company)), chain, links, ctrl in gov_ids))
    return wall + time.perf_counter() - w, cpu + time.process_time() - c, 1.0


def kernels_nx(data, sources, gov_ids, budget: float):
    """The same steps with networkx and Python only; each step stops at ``budget`` seconds."""
    g = data["guarantees"]
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    share: dict[str, float] = {}

    def timed(name, fn):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall[name], cpu[name], share[name] = time.perf_counter() - w, time.process_time() - c, 1.0
        return out

    def build():
        G = nx.DiGraph()
        G.add_edges_from(zip(g["src"], g["dst"], strict=True))
        return G

    G = timed("graph", build)
    comps = timed("scc", lambda: list(nx.strongly_connected_components(G)))
    big = [c for c in comps if len(c) >= 3]
    weight = sum(len(c) for c in big) or 1

    def by_size(work):
        w, c = time.perf_counter(), time.process_time()
        done = 0
        for comp in big:
            if time.perf_counter() - w > budget:
                break
            work(comp)
            done += len(comp)
        return time.perf_counter() - w, time.process_time() - c, done / weight

    wall["cycles"], cpu["cycles"], share["cycles"] = by_size(
        lambda c: list(itertools.islice(nx.simple_cycles(G.subgraph(c), length_bound=6), 10_000))
    )
    wall["pagerank"], cpu["pagerank"], share["pagerank"] = by_size(
        lambda c: nx.pagerank(G.subgraph(c))
    )
    wall["control"], cpu["control"], share["control"] = _nx_control(
        data["holdings"], gov_ids, budget
    )

    ex, eq, val = exposures_of(data)
    w0, c0 = time.perf_counter(), time.process_time()
    equity = eq.to_dict()
    D = nx.DiGraph()
    for creditor, debtor, amount in zip(ex["creditor"], ex["debtor"], ex["amount"], strict=True):
        if creditor == debtor or not amount > 0:
            continue
        if D.has_edge(debtor, creditor):
            D[debtor][creditor]["a"] += amount
        else:
            D.add_edge(debtor, creditor, a=amount)
    for _, j, attr in D.edges(data=True):
        e = equity.get(j, float("nan"))
        attr["w"] = min(1.0, attr["a"] / e) if e > 0 else 1.0
    values = val.clip(lower=0.0)
    v = (values / values.sum()).to_dict()
    build_wall, build_cpu = time.perf_counter() - w0, time.process_time() - c0

    def debtrank_nx(src):
        h = {src: 1.0}
        distressed, inactive = {src}, set()
        while distressed:
            delta = {}
            for i in distressed:
                for j, attr in D[i].items():
                    delta[j] = delta.get(j, 0.0) + attr["w"] * h[i]
            inactive |= distressed
            fresh = set()
            for j, x in delta.items():
                h[j] = min(1.0, h.get(j, 0.0) + x)
                if j not in inactive and j not in distressed:
                    fresh.add(j)
            distressed = fresh
        return sum(h[j] * v.get(j, 0.0) for j in h) - v.get(src, 0.0)

    runs = [s for s in sources if s in D]
    w, c, done = _budgeted(runs, debtrank_nx, budget)
    wall["debtrank"], cpu["debtrank"], share["debtrank"] = build_wall + w, build_cpu + c, done
    return wall, cpu, share


def compare(data, label: str, args, gov_ids) -> dict:
    rng = np.random.default_rng(args.seed)
    firms = data["enterprises"]["id"][data["enterprises"]["kind"] != "bank"].to_numpy()
    sources = rng.choice(firms, min(args.sources, len(firms)), replace=False).tolist()
    runs = [kernels_ours(data, sources, gov_ids) for _ in range(args.repeats)]
    ours_wall = {k: statistics.median(r[0].wall[k] for r in runs) for k in STEPS}
    ours_cpu = {k: statistics.median(r[0].cpu[k] for r in runs) for k in STEPS}
    facts = runs[-1][1]
    rss_ours = peak_rss_mb()
    nx_wall, nx_cpu, nx_share = kernels_nx(data, sources, gov_ids, args.nx_budget)
    rows = []
    for step in STEPS:
        share = nx_share[step]
        est_wall = nx_wall[step] / share if share > 0 else float("inf")
        est_cpu = nx_cpu[step] / share if share > 0 else float("inf")
        rows.append(
            {
                "step": step,
                "ours_s": ours_wall[step],
                "ours_cpu_s": ours_cpu[step],
                "networkx_s": est_wall,
                "networkx_cpu_s": est_cpu,
                "networkx_measured_s": nx_wall[step],
                "networkx_share_done": share,
                "extrapolated": share < 1.0,
                "ratio": est_wall / ours_wall[step] if ours_wall[step] > 0 else None,
                "ratio_cpu": est_cpu / ours_cpu[step] if ours_cpu[step] > 0 else None,
            }
        )
    total_ours = sum(r["ours_s"] for r in rows)
    total_nx = sum(r["networkx_s"] for r in rows)
    total_ours_cpu = sum(r["ours_cpu_s"] for r in rows)
    total_nx_cpu = sum(r["networkx_cpu_s"] for r in rows)
    return {
        "graph": label,
        "firms": int((data["enterprises"]["kind"] != "bank").sum()),
        "guarantees": len(data["guarantees"]),
        "holdings": len(data["holdings"]),
        "exposures": len(data["guarantees"]) + len(data["loans"]),
        "debtrank_sources": len(sources),
        "steps": rows,
        "ours_total_s": total_ours,
        "networkx_total_s": total_nx,
        "ratio": total_nx / total_ours,
        "ours_total_cpu_s": total_ours_cpu,
        "networkx_total_cpu_s": total_nx_cpu,
        "ratio_cpu": total_nx_cpu / total_ours_cpu,
        **facts,
        "peak_rss_mb_after_ours": rss_ours,
        "peak_rss_mb_after_networkx": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firms", type=int, default=200_000)
    ap.add_argument("--guarantees", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--kernels",
        default="20000",
        help="comma-separated kernel-comparison graphs: a firm count (subgraph) or 'full'",
    )
    ap.add_argument("--nx-budget", type=float, default=120.0, help="seconds per networkx step")
    ap.add_argument(
        "--sources", type=int, default=500, help="DebtRank sources in the kernel comparison"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args(argv)

    report: dict = {
        "date": dt.date.today().isoformat(),
        "load_average_at_start": os.getloadavg(),
        "machine": machine_info(("numpy", "scipy", "pandas", "pyarrow", "igraph", "networkx")),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    t0 = time.perf_counter()
    data = synth(args.firms, args.guarantees, args.seed)
    report["generate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = store_of(data)
    store.counts()
    report["store_s"] = time.perf_counter() - t0
    report["graph"] = {
        "firms": args.firms,
        "guarantees": len(data["guarantees"]),
        "holdings": len(data["holdings"]),
        "loans": len(data["loans"]),
    }
    gov_ids = set(data["govs"]["id"])
    settings = parse_settings(SETTINGS)
    as_of = dt.date(2024, 6, 30)
    walls, cpus, peaks, result = [], [], [], None
    for _ in range(args.repeats):
        with RssSampler() as rss:
            w, c = time.perf_counter(), time.process_time()
            result = run_detectors(store, settings=settings, only=DETECTORS, as_of=as_of)
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        peaks.append(rss.peak)
    assert result is not None
    flags = {d: sum(f.detector == d for f in result.flags) for d in DETECTORS}
    report["end_to_end"] = {
        "detectors": DETECTORS,
        "settings": SETTINGS,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "runs_s": walls,
        "runs_cpu_s": cpus,
        "median_cpu_s": statistics.median(cpus),
        "per_detector_s": result.timings,
        "flags": flags,
        "peak_rss_mb": max(peaks),
    }
    del result
    e2e = report["end_to_end"]
    print(
        f"end to end ({', '.join(DETECTORS)}): {e2e['median_s']:.1f} s median of {args.repeats} "
        f"(min {e2e['min_s']:.1f} s, cpu {e2e['median_cpu_s']:.1f} s), "
        f"peak RSS {e2e['peak_rss_mb']:,.0f} MB",
        flush=True,
    )
    for d, s in e2e["per_detector_s"].items():
        print(f"  {d:24s} {s:8.2f} s  {flags[d]:>7,} flags", flush=True)
    report["kernels"] = []
    for label in args.kernels.split(","):
        part = data if label == "full" else subset(data, int(label))
        report["kernels"].append(compare(part, label, args, gov_ids))
        k = report["kernels"][-1]
        print(
            f"kernels on {label} ({k['firms']:,} firms / {k['guarantees']:,} guarantees / "
            f"{k['holdings']:,} holdings / {k['debtrank_sources']} DebtRank sources):",
            flush=True,
        )
        print(f"  {'step':10s} {'ours s':>9s} {'networkx s':>12s} {'ratio':>8s} {'cpu ratio':>10s}")
        for r in k["steps"]:
            mark = " (extrapolated)" if r["extrapolated"] else ""
            print(
                f"  {r['step']:10s} {r['ours_s']:9.3f} {r['networkx_s']:12.2f} "
                f"{r['ratio']:7.1f}x {r['ratio_cpu']:9.1f}x{mark}",
                flush=True,
            )
        print(
            f"  {'total':10s} {k['ours_total_s']:9.3f} {k['networkx_total_s']:12.2f} "
            f"{k['ratio']:7.1f}x {k['ratio_cpu']:9.1f}x",
            flush=True,
        )
    report["peak_rss_mb"] = peak_rss_mb()
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, load {report['load_average_at_start']}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"debt-{report['date']}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
