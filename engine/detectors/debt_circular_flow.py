"""``debt.circular_flow``: money that leaves a government unit and comes back (资金空转/回流).

Temporal cycles in FUND_FLOW (:mod:`engine.temporal_cycles`) that start and end at a government
unit: at most ``max_length`` flows, dates non-decreasing, all within ``window_days`` of the first
flow, every amount within ``amount_tolerance`` of the first. Such round trips inflate fiscal
revenue or an enterprise's capital without real funding (the "空转" the audit office reports).

One flag per set of entities (the cycle id is built from the sorted members), listing every
occurrence of the round trip among them. Severity high when the money came back within
``high_within_days`` or the round trip occurred more than once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory
from engine.evidence import record, scaled_zh, stable_id, yuan_en
from engine.flags import Finding
from engine.registry import detector
from engine.temporal_cycles import temporal_cycles

__all__ = ["CircularFlowSettings", "circular_flow"]


@dataclass(frozen=True)
class CircularFlowSettings:
    max_length: int = field(default=6, metadata={"doc": "Most flows in a round trip."})
    window_days: int = field(
        default=180, metadata={"doc": "Most days between the first and the last flow."}
    )
    amount_tolerance: float = field(
        default=0.2,
        metadata={"doc": "Every flow's amount within this relative deviation of the first flow's."},
    )
    high_within_days: int = field(
        default=30, metadata={"doc": "Severity high when the money returns within this many days."}
    )
    max_steps_per_start: int = field(
        default=1_000_000, metadata={"doc": "Search budget per government unit."}
    )


@detector(
    "debt.circular_flow",
    title_zh="财政资金空转回流",
    title_en="Fiscal money flowing back to its source",
    subject="cycle_id",
    reads=("FUND_FLOW", *ENTITIES),
    requires=("FUND_FLOW",),
    settings=CircularFlowSettings,
    partition="component",
)
def circular_flow(ctx: DetectorContext, settings: CircularFlowSettings) -> Iterator[Finding]:
    """Temporal cycles in fund flows starting at a government unit (length <= 6, window 180 days,
    amounts within 20 %). Score = first amount in 万元 x occurrences."""
    directory = entity_directory(ctx)
    flows = ctx.frame("FUND_FLOW")
    flows = flows.assign(amount=pd.to_numeric(flows["amount"], errors="coerce"))
    cycles, truncated = temporal_cycles(
        flows,
        starts=directory.gov_ids,
        max_length=settings.max_length,
        window_days=settings.window_days,
        amount_tolerance=settings.amount_tolerance,
        max_steps_per_start=settings.max_steps_per_start,
    )
    prov = flows.set_index("id")
    groups: dict[str, list] = {}
    for c in cycles:
        groups.setdefault(stable_id("CF-", c.nodes), []).append(c)
    for cid, occ in sorted(groups.items()):
        first = occ[0]
        start = first.nodes[0]
        fastest = min(c.span_days for c in occ)
        severity = "high" if fastest <= settings.high_within_days or len(occ) > 1 else "medium"
        path_names = " → ".join(directory.name(x) for x in (*first.nodes, start))
        amount = first.amounts[0]
        occurrences = []
        for c in occ:
            steps = []
            for k, fid in enumerate(c.flow_ids):
                rec = prov.loc[fid]
                steps.append(
                    record(
                        {
                            "flow_id": fid,
                            "from": c.nodes[k],
                            "to": c.nodes[(k + 1) % len(c.nodes)],
                            "amount": c.amounts[k],
                            "date": c.dates[k],
                            "purpose": rec.get("purpose"),
                            "_table": rec.get("_table"),
                            "_line": rec.get("_line"),
                        },
                        ["flow_id", "from", "to", "amount", "date", "purpose"],
                    )
                )
            occurrences.append({"span_days": c.span_days, "flows": steps})
        members = list(first.nodes)
        yield Finding(
            subject_id=cid,
            severity=severity,
            score=amount / 10_000 * len(occ),
            entities=[*members, *[f for c in occ for f in c.flow_ids]],
            region_code=directory.region(start),
            evidence={
                "members": members,
                "names": [directory.name(x) for x in members],
                "occurrences": occurrences,
                "occurrence_count": len(occ),
                "fastest_return_days": fastest,
                "search_truncated_for": sorted(truncated),
            },
            explanation={
                "zh": f"资金从{directory.name(start)}流出，沿{path_names}流转，{first.span_days}天内"
                f"（{first.dates[0]}至{first.dates[-1]}）回流，首笔{scaled_zh(amount)}、末笔{scaled_zh(first.amounts[-1])}；"
                f"同一路径共出现{len(occ)}次，疑似资金空转。",
                "en": f"Money left {directory.name(start)} and came back within {first.span_days} days "
                f"({first.dates[0]} to {first.dates[-1]}) along {path_names}: first {yuan_en(amount)}, last "
                f"{yuan_en(first.amounts[-1])}; {len(occ)} occurrence(s) on this route, likely a round trip.",
            },
        )
