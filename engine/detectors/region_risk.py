"""``debt.region_risk``: regions whose debt burden, hidden debt included, passes warning lines.

Debt ratio (债务率) = debt / comprehensive fiscal resources, with

* debt = statutory debt balance (法定债务余额) + hidden debt attributed to the region: the
  outstanding amount of every loan/bond flagged by ``debt.hidden_chain`` (attributed to the
  controlling government's region) and every guarantee flagged by ``debt.gov_guarantee``
  that is still in force on the reference date (attributed to the guarantor's region; a
  lapsed guarantee is still reported as a violation by ``debt.gov_guarantee``, but it no
  longer adds to what the region stands behind), each debt counted once;
* resources = general budget revenue + transfer revenue + government-fund revenue.

Warning lines follow the Ministry of Finance's local-government debt risk grading used since
2019 (debt ratio = bond balance plus hidden debt over comprehensive fiscal resources; green
< 120 %, yellow 120-200 %, orange 200-300 %, red >= 300 %): ``warn_ratio`` 1.2 (yellow, severity
medium), ``high_ratio`` 2.0 (orange and red, severity high); the grade is in the evidence.

Roll-up county -> city -> province (``Region.parent_code``, else PART_OF): each region row is
taken as its own level's figures and a region's totals are its own plus all regions below it.
Transfers between levels are not netted out (a province's transfer to a county counts in both),
which understates ratios of upper levels; set ``rollup`` off when the data already holds
consolidated figures per region.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.evidence import pct, record, scaled_zh, yuan_en
from engine.flags import Finding
from engine.registry import detector

__all__ = ["RegionRiskSettings", "region_risk"]

_REVENUE = ("general_budget_revenue", "transfer_revenue", "fund_budget_revenue")
_GRADES = (("red", "红"), ("orange", "橙"), ("yellow", "黄"), ("green", "绿"))


@dataclass(frozen=True)
class RegionRiskSettings:
    warn_ratio: float = field(
        default=1.2,
        metadata={
            "doc": "Debt ratio at or above which a region is flagged (medium); MOF yellow line."
        },
    )
    high_ratio: float = field(
        default=2.0,
        metadata={"doc": "Debt ratio at or above which severity is high; MOF orange line."},
    )
    red_ratio: float = field(default=3.0, metadata={"doc": "MOF red line (grade label only)."})
    include_hidden: bool = field(
        default=True,
        metadata={"doc": "Add hidden debt from debt.hidden_chain and debt.gov_guarantee."},
    )
    rollup: bool = field(
        default=True,
        metadata={
            "doc": "Add every lower region's figures to its parent's (figures are per level)."
        },
    )
    top_contributors: int = field(
        default=10,
        metadata={"doc": "How many hidden-debt items and sub-regions the evidence lists."},
    )


def _hidden_items(ctx: DetectorContext) -> list[dict]:
    items: dict[str, dict] = {}
    for f in ctx.result("debt.hidden_chain"):
        items[f.subject_id] = {
            "debt_id": f.subject_id,
            "source": "debt.hidden_chain",
            "flag_id": f.flag_id,
            "region_code": f.region_code,
            "amount": float(f.evidence.get("outstanding") or 0.0),
            "entities": f.entities[:4],
        }
    today = ctx.as_of.isoformat()
    for f in ctx.result("debt.gov_guarantee"):
        end = (f.evidence.get("guarantee") or {}).get("end_date")
        if isinstance(end, str) and end < today:
            continue
        loan = (f.evidence.get("loan") or {}).get("id")
        key = loan or f.subject_id
        if key in items:
            continue
        items[key] = {
            "debt_id": key,
            "source": "debt.gov_guarantee",
            "flag_id": f.flag_id,
            "region_code": f.region_code,
            "amount": float(f.evidence.get("amount") or 0.0),
            "entities": f.entities[:3],
        }
    return list(items.values())


def _grade(ratio: float, s: RegionRiskSettings) -> tuple[str, str]:
    for (en, zh), line in zip(_GRADES, (s.red_ratio, s.high_ratio, s.warn_ratio), strict=False):
        if ratio >= line:
            return en, zh
    return _GRADES[-1]


@detector(
    "debt.region_risk",
    title_zh="地区债务风险预警",
    title_en="Regional debt-ratio warning",
    subject="region_code",
    reads=("Region", "PART_OF"),
    requires=("Region",),
    uses=("debt.hidden_chain", "debt.gov_guarantee"),
    settings=RegionRiskSettings,
    partition="driver",
)
def region_risk(ctx: DetectorContext, settings: RegionRiskSettings) -> Iterator[Finding]:
    """Debt ratio (statutory + attributed hidden debt) / (general budget + transfer + fund
    revenue) per region, rolled up county -> city -> province; warn 120 %, high 200 % (MOF risk
    grading). Score = debt ratio."""
    regions = ctx.frame("Region")
    regions["id"] = regions["id"].astype(str)
    for col in (*_REVENUE, "statutory_debt_balance"):
        regions[col] = pd.to_numeric(regions[col], errors="coerce").fillna(0.0)
    parent = {
        r: p
        for r, p in zip(regions["id"], regions["parent_code"], strict=True)
        if isinstance(p, str) and p
    }
    for src, dst in zip(
        *(ctx.relationships("PART_OF", ["src", "dst"])[c] for c in ("src", "dst")), strict=True
    ):
        parent.setdefault(str(src), str(dst))
    known = set(regions["id"])
    items = _hidden_items(ctx) if settings.include_hidden else []
    hidden_own: dict[str, float] = {}
    for it in items:
        if it["region_code"] in known:
            hidden_own[it["region_code"]] = hidden_own.get(it["region_code"], 0.0) + it["amount"]

    own = regions.set_index("id")
    statutory = own["statutory_debt_balance"].to_dict()
    revenue = {k: own.loc[k, list(_REVENUE)].to_dict() for k in own.index}
    hidden = dict(hidden_own)
    subtree: dict[str, set[str]] = {r: {r} for r in known}
    if settings.rollup:
        for r in known:
            seen = {r}
            p = parent.get(r)
            while p in known and p not in seen:
                subtree[p].add(r)
                seen.add(p)
                p = parent.get(p)
    names = own["name"].to_dict() if "name" in own.columns else {}
    for r in sorted(known):
        members = subtree[r]
        stat = sum(statutory[m] for m in members)
        hid = sum(hidden.get(m, 0.0) for m in members)
        rev = {k: sum(revenue[m][k] for m in members) for k in _REVENUE}
        resources = sum(rev.values())
        if resources <= 0:
            continue
        ratio = (stat + hid) / resources
        if ratio < settings.warn_ratio:
            continue
        grade, grade_zh = _grade(ratio, settings)
        top = sorted(
            (it for it in items if it["region_code"] in members), key=lambda it: -it["amount"]
        )
        top = top[: settings.top_contributors]
        children = sorted(
            (
                {
                    "region_code": m,
                    "name": names.get(m),
                    "statutory_debt": statutory[m],
                    "hidden_debt": hidden.get(m, 0.0),
                }
                for m in members
                if m != r and parent.get(m) == r
            ),
            key=lambda c: -(c["statutory_debt"] + c["hidden_debt"]),
        )[: settings.top_contributors]
        row = own.loc[r]
        name = names.get(r) or r
        yield Finding(
            subject_id=r,
            severity="high" if ratio >= settings.high_ratio else "medium",
            score=ratio,
            entities=[
                r,
                *[c["region_code"] for c in children],
                *[e for it in top for e in it["entities"]],
            ],
            region_code=r,
            evidence={
                "region": record(
                    {**row.to_dict(), "region_code": r, "name": name},
                    ["region_code", "name", "level", "year"],
                ),
                "debt_ratio": ratio,
                "grade": grade,
                "statutory_debt": stat,
                "hidden_debt": hid,
                "revenue": rev,
                "comprehensive_resources": resources,
                "regions_included": sorted(members),
                "top_hidden_debt": top,
                "top_subregions": children,
                "lines": {
                    "warn": settings.warn_ratio,
                    "high": settings.high_ratio,
                    "red": settings.red_ratio,
                },
            },
            explanation={
                "zh": f"{name}债务率{pct(ratio)}（{grade_zh}色档）：法定债务{scaled_zh(stat)}，"
                f"加计隐性债务{scaled_zh(hid)}，综合财力{scaled_zh(resources)}，超过{pct(settings.warn_ratio)}预警线。",
                "en": f"{name} has a debt ratio of {pct(ratio)} ({grade} grade): statutory debt {yuan_en(stat)} "
                f"plus hidden debt {yuan_en(hid)} against comprehensive resources of {yuan_en(resources)}, "
                f"above the {pct(settings.warn_ratio)} warning line.",
            },
        )
