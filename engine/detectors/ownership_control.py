"""``ownership.control``: ultimate controllers, cash-flow and control rights of every company.

This detector computes; it does not flag. Being gov-controlled is not a finding in itself (every
financing vehicle is), so it emits no flags; it is registered so that its settings (the control
test) are documented, digested and configurable like every other detector's, and it runs first
(``order=10``). The result is memoised per run under ``ctx.memo("ownership.control", ...)`` and
read through :func:`ownership_control` by ``debt.hidden_chain``, ``debt.disguised_equity``,
``debt.region_risk`` and ``guarantee.related_party``, which therefore always use this detector's
settings, whichever of them runs first.

Definitions (integrated cash-flow rights, weakest-link control over simple chains, the control
test and the chain cap) are in :mod:`engine.ownership`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.detectors.debt_evidence import entity_directory
from engine.flags import Flag
from engine.ownership import OwnershipGraph
from engine.registry import detector, get_detector

__all__ = ["ControlSettings", "OwnershipControl", "ownership_control"]


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


@dataclass
class OwnershipControl:
    """The run's ownership analysis: the graph, ultimate controllers and lookups by company."""

    graph: OwnershipGraph
    controllers: pd.DataFrame
    by_company: dict[str, list[dict]]
    companies_of: dict[str, set[str]]

    def controllers_of(self, company: str) -> list[dict]:
        """Rows of :func:`engine.ownership.ultimate_controllers` for ``company``."""
        return self.by_company.get(company, [])

    def gov_controllers(self, company: str) -> list[dict]:
        return [r for r in self.by_company.get(company, []) if r["gov_linked"]]

    def is_gov_linked(self, company: str) -> bool:
        return bool(self.gov_controllers(company))


def ownership_control(ctx: DetectorContext) -> OwnershipControl:
    """The memoised ownership analysis of this run (computed on first use)."""
    settings = ctx.settings_for(get_detector("ownership.control"))

    def build() -> OwnershipControl:
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

    return ctx.memo("ownership.control", build)


@detector(
    "ownership.control",
    title_zh="股权穿透与实际控制人",
    title_en="Ownership and ultimate control",
    requires=("HOLDS_SHARES",),
    settings=ControlSettings,
    subject="uscc",
    order=10,
)
def control(ctx: DetectorContext, settings: ControlSettings) -> Iterator[Flag]:
    """Compute ultimate controllers (La Porta et al. 1999; Claessens et al. 2000) and integrated
    cash-flow rights (Vitali et al. 2011) for every company; emits no flags (see module doc)."""
    ownership_control(ctx)
    return iter(())
