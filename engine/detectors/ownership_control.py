"""``ownership.control``: ultimate controllers, cash-flow and control rights of every company.

This detector computes; it does not flag. Being gov-controlled is not a finding in itself (every
financing vehicle is), so it raises no flags (``computes=True``); it is registered so that its
settings (the control test) are documented, digested and configurable like every other
detector's. Its result, an :class:`OwnershipControl`, is what ``debt.hidden_chain``,
``debt.improper_injection``, ``debt.disguised_equity`` and ``guarantee.related_party`` read with
``ctx.result("ownership.control")`` (they declare it in ``uses``, so the runner runs this first;
the result is None when there are no shareholdings).

Definitions (integrated cash-flow rights, weakest-link control over simple chains, the control
test and the chain cap) are in :mod:`engine.ownership`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory
from engine.ownership import OwnershipControl, OwnershipGraph
from engine.registry import detector

__all__ = ["ControlSettings", "control"]


@dataclass(frozen=True)
class ControlSettings:
    majority_pct: float = field(
        default=50.0,
        metadata={"doc": "A holder controls a company with a control share above this (%)."},
    )
    plurality_pct: float = field(
        default=25.0,
        metadata={
            "doc": "If nobody passes majority_pct, the largest holder controls when its control "
            "share is at least this (%)."
        },
    )
    max_chain_length: int = field(
        default=10,
        metadata={"doc": "Longest ownership chain (links) counted for control rights."},
    )
    max_paths: int = field(
        default=20_000_000,
        metadata={
            "doc": "Stop lengthening control chains when one more link would exceed this many chains."
        },
    )


@detector(
    "ownership.control",
    title_zh="股权穿透与实际控制人",
    title_en="Ownership and ultimate control",
    reads=("HOLDS_SHARES", *ENTITIES),
    requires=("HOLDS_SHARES",),
    settings=ControlSettings,
    computes=True,
    partition="component",
)
def control(ctx: DetectorContext, settings: ControlSettings) -> OwnershipControl:
    """Compute ultimate controllers (La Porta et al. 1999; Claessens et al. 2000) and integrated
    cash-flow rights (Vitali et al. 2011) for every company; raises no flags (see module doc)."""
    rel = ctx.relationships("HOLDS_SHARES", ["src", "dst", "share_pct", "voting_pct"])
    holdings = rel.rename(columns={"src": "holder_id", "dst": "company_id"})
    graph = OwnershipGraph(
        holdings, max_chain_length=settings.max_chain_length, max_paths=settings.max_paths
    )
    gov = entity_directory(ctx).gov_ids
    ctrl = graph.controllers(
        gov, majority_pct=settings.majority_pct, plurality_pct=settings.plurality_pct
    )
    by_company: dict[str, list[dict]] = {}
    companies_of: dict[str, set[str]] = {}
    columns = list(ctrl.columns)
    values = [ctrl[c].tolist() for c in columns]
    for row in (dict(zip(columns, v, strict=True)) for v in zip(*values, strict=True)):
        by_company.setdefault(row["company_id"], []).append(row)
        companies_of.setdefault(row["controller_id"], set()).add(row["company_id"])
    return OwnershipControl(graph, ctrl, by_company, companies_of)
