"""``guarantee.circle``: guarantee circles (担保圈), circular and cross guarantees among >= 3 firms.

A circle is a strongly connected component of the guarantee graph (guarantor -> debtor) with at
least ``min_firms`` members: every firm in it is, through some chain, a guarantor of every other.
Inside it the elementary cycles of at most ``max_cycle_length`` guarantees are listed with
:func:`engine.cycles.bounded_cycles` (SCC-pruned, distance-pruned, capped per component so a dense
component cannot stall the scan; a capped listing is marked ``cycles_truncated``).

Metrics in the evidence: size, guarantees, density (directed pairs / n(n-1)), reciprocity (share
of directed pairs whose reverse is also present), total guaranteed amount over total net assets
(leverage of the circle), and the most central firms by PageRank inside the component
(igraph, weighted by amount: the firms most guaranteed by the circle). Severity high when the
circle's guarantees reach ``high_leverage`` of its net assets or it has ``high_size`` firms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import igraph as ig
import numpy as np

from engine.context import DetectorContext
from engine.cycles import bounded_cycles, strong_components
from engine.debt_registers import ENTITIES, entity_directory, guarantees_in_force
from engine.evidence import pct, record, scaled_zh, stable_id, yuan_en
from engine.flags import Finding
from engine.node_index import encode_nodes
from engine.registry import detector

__all__ = ["GuaranteeCircleSettings", "guarantee_circle"]


@dataclass(frozen=True)
class GuaranteeCircleSettings:
    min_firms: int = field(
        default=3, metadata={"doc": "Smallest strongly connected component flagged."}
    )
    max_cycle_length: int = field(
        default=6, metadata={"doc": "Longest elementary cycle listed (guarantees)."}
    )
    cycles_per_circle: int = field(
        default=10_000, metadata={"doc": "Cap on cycles enumerated per circle (marked truncated)."}
    )
    cycles_in_evidence: int = field(
        default=50, metadata={"doc": "Cycles written into the evidence."}
    )
    central_firms: int = field(default=5, metadata={"doc": "Most central firms listed."})
    include_lapsed: bool = field(
        default=False,
        metadata={
            "doc": "Also count guarantees whose end_date is before the reference date. Off: a circle is live credit risk only while its guarantees bind, and a lapsed guarantee no longer closes a loop. Guarantees starting after the reference date never count."
        },
    )
    high_leverage: float = field(
        default=1.0,
        metadata={"doc": "Severity high when guarantees inside / net assets reaches this."},
    )
    high_size: int = field(default=10, metadata={"doc": "Severity high from this many firms."})


@detector(
    "guarantee.circle",
    title_zh="担保圈",
    title_en="Guarantee circle",
    subject="circle_id",
    reads=ENTITIES,
    requires=("GUARANTEES",),
    settings=GuaranteeCircleSettings,
    partition="component",
)
def guarantee_circle(ctx: DetectorContext, settings: GuaranteeCircleSettings) -> Iterator[Finding]:
    """Strongly connected components of >= 3 firms in the guarantee graph, with their elementary
    cycles (length <= 6) and metrics. Score = leverage (guarantees / net assets; size/10 when
    net assets are unknown)."""
    directory = entity_directory(ctx)
    g = guarantees_in_force(ctx, settings.include_lapsed)
    if g.empty:
        return
    g = g[(g["src"] != g["dst"]).to_numpy(dtype=bool)]
    ids, (s, d) = encode_nodes(g["src"].astype(str), g["dst"].astype(str))
    nodes = ids.to_numpy(dtype=object)
    labels = strong_components(len(nodes), s, d)
    sizes = np.bincount(labels)
    big = sizes >= settings.min_firms
    if not big.any():
        return
    inside = (labels[s] == labels[d]) & big[labels[s]]
    g_in = g[inside].assign(comp=labels[s[inside]], s=s[inside], d=d[inside])
    g_in = g_in.sort_values(["comp", "id"], kind="stable").reset_index(drop=True)
    # node positions follow the ids' order, so cycles come back in the same canonical rotation
    cycles, truncated = bounded_cycles(
        list(dict.fromkeys(zip(g_in["s"].tolist(), g_in["d"].tolist(), strict=True))),
        settings.max_cycle_length,
        settings.cycles_per_circle,
    )
    cycles_of: dict[int, list[tuple]] = {}
    for c in cycles:
        cycles_of.setdefault(int(labels[c[0]]), []).append(tuple(nodes[list(c)].tolist()))
    truncated_comps = {int(labels[t[0]]) for t in truncated}
    in_big = np.flatnonzero(big[labels])
    in_big = in_big[np.argsort(labels[in_big], kind="stable")]
    member_bounds = np.searchsorted(labels[in_big], np.arange(len(sizes) + 1))
    comp_col = g_in["comp"].to_numpy()
    edge_bounds = np.searchsorted(comp_col, np.arange(len(sizes) + 1))
    src_at, dst_at = g_in["s"].to_numpy(), g_in["d"].to_numpy()
    amount_of = g_in["amount"].to_numpy(dtype=float)
    record_cols = {c: g_in[c].tolist() for c in ("id", "src", "dst", "amount", "_table", "_line")}
    width = max(len(nodes), 1)
    for comp in np.flatnonzero(big).tolist():
        lo, hi = edge_bounds[comp], edge_bounds[comp + 1]
        positions = in_big[member_bounds[comp] : member_bounds[comp + 1]]
        members = nodes[positions].tolist()
        n = len(members)
        pair_keys, pair_of = np.unique(src_at[lo:hi] * width + dst_at[lo:hi], return_inverse=True)
        pair_amount = np.bincount(pair_of, amount_of[lo:hi])
        m = len(pair_keys)
        reverse = (pair_keys % width) * width + pair_keys // width
        reciprocity = float(np.isin(reverse, pair_keys).sum()) / m
        total = float(amount_of[lo:hi].sum())
        net_assets = np.array([directory.figure(f, "net_assets") for f in members])
        known_na = float(np.nansum(net_assets))
        leverage = total / known_na if known_na > 0 else float("nan")
        sub = ig.Graph(
            n=n,
            edges=np.stack(
                [
                    np.searchsorted(positions, pair_keys // width),
                    np.searchsorted(positions, pair_keys % width),
                ],
                axis=1,
            ).tolist(),
            directed=True,
        )
        pr = sub.pagerank(weights=pair_amount.tolist())
        order = np.argsort(pr)[::-1][: settings.central_firms]
        central = [
            {"id": members[i], "name": directory.name(members[i]), "pagerank": pr[i]} for i in order
        ]
        edge_ids = record_cols["id"][lo:hi]
        edge_records = [
            record({c: record_cols[c][i] for c in record_cols}, ["id", "src", "dst", "amount"])
            for i in range(lo, min(hi, lo + 200))
        ]
        comp_cycles = cycles_of.get(int(comp), [])
        cid = stable_id("GC-", members)
        severity = (
            "high"
            if (leverage == leverage and leverage >= settings.high_leverage)
            or n >= settings.high_size
            else "medium"
        )
        first = comp_cycles[0] if comp_cycles else ()
        loop_zh = " → ".join(directory.name(x) for x in (*first, first[0])) if first else ""
        regions = Counter(directory.region(f) for f in members if directory.region(f))
        region = min(regions, key=lambda r: (-regions[r], r)) if regions else None
        yield Finding(
            subject_id=cid,
            severity=severity,
            score=leverage if leverage == leverage else n / 10,
            entities=[*members, *map(str, edge_ids)],
            region_code=region,
            evidence={
                "members": [
                    {"id": f, "name": directory.name(f), "net_assets": None if na != na else na}
                    for f, na in zip(members, net_assets, strict=True)
                ],
                "size": n,
                "guarantee_count": hi - lo,
                "density": m / (n * (n - 1)),
                "reciprocity": reciprocity,
                "total_guaranteed": total,
                "total_net_assets": known_na,
                "leverage": None if leverage != leverage else leverage,
                "central_firms": central,
                "cycle_count": len(comp_cycles),
                "cycles_truncated": int(comp) in truncated_comps,
                "cycles": [list(c) for c in comp_cycles[: settings.cycles_in_evidence]],
                "guarantees": edge_records,
            },
            explanation={
                "zh": f"{n}家企业相互担保形成担保圈（{hi - lo}笔担保，共{scaled_zh(total)}"
                + (f"，为成员净资产合计的{pct(leverage)}" if leverage == leverage else "")
                + f"），含{len(comp_cycles)}{'+' if int(comp) in truncated_comps else ''}个担保环"
                + (f"，如{loop_zh}" if loop_zh else "")
                + f"；核心企业为{central[0]['name']}。",
                "en": f"{n} firms guarantee one another in a circle ({hi - lo} guarantees, {yuan_en(total)}"
                + (
                    f", {pct(leverage)} of their combined net assets"
                    if leverage == leverage
                    else ""
                )
                + f") with {len(comp_cycles)}{'+' if int(comp) in truncated_comps else ''} guarantee loops"
                + (f", e.g. {loop_zh}" if loop_zh else "")
                + f"; most central firm: {central[0]['name']}.",
            },
        )
