"""``debt.disguised_equity``: "equity in name, debt in substance" (明股实债).

Rule: 财预〔2017〕50号 and 财金〔2018〕23号 forbid local governments to promise buy-backs of
investors' equity or a fixed return in PPP and government-fund projects; such an investment is
debt in disguise. Flag every project with a buy-back clause or a fixed return whose owner is
government-linked (a government unit itself, or an enterprise whose ultimate controller is one,
from ``ownership.control``). Both clauses together -> high; one -> medium.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory
from engine.evidence import record, scaled_zh, yuan_en
from engine.flags import Finding
from engine.ownership import OwnershipControl
from engine.registry import detector

__all__ = ["DisguisedEquitySettings", "disguised_equity"]


@dataclass(frozen=True)
class DisguisedEquitySettings:
    high_when_both: bool = field(
        default=True,
        metadata={
            "doc": "Severity high only when the project has both a buy-back clause and a fixed return."
        },
    )


def _true(value: object) -> bool:
    return value is True or (isinstance(value, (int, float)) and not pd.isna(value) and bool(value))


@detector(
    "debt.disguised_equity",
    title_zh="明股实债",
    title_en="Equity in name, debt in substance",
    subject="project_id",
    reads=("Project", *ENTITIES),
    requires=("Project",),
    uses=("ownership.control",),
    settings=DisguisedEquitySettings,
    partition="component",
)
def disguised_equity(ctx: DetectorContext, settings: DisguisedEquitySettings) -> Iterator[Finding]:
    """Projects with buyback_clause or fixed_return whose owner is gov-linked (财预〔2017〕50号,
    财金〔2018〕23号). Score = total investment in 万元 (plus 1 per clause)."""
    directory = entity_directory(ctx)
    oc: OwnershipControl | None = ctx.result("ownership.control")
    for row in ctx.frame("Project").sort_values("id").to_dict("records"):
        buyback, fixed = _true(row.get("buyback_clause")), _true(row.get("fixed_return"))
        if not (buyback or fixed):
            continue
        owner = str(row.get("owner_id"))
        ctrl = oc.gov_controllers(owner) if oc else []
        if not (owner in directory.gov_ids or ctrl):
            continue
        controller = ctrl[0]["controller_id"] if ctrl else owner
        both = buyback and fixed
        severity = "high" if both or not settings.high_when_both else "medium"
        invest = float(pd.to_numeric(row.get("total_investment"), errors="coerce") or 0.0)
        clauses_zh = "、".join(c for c, on in (("回购条款", buyback), ("固定回报", fixed)) if on)
        clauses_en = " and ".join(
            c for c, on in (("a buy-back clause", buyback), ("a fixed return", fixed)) if on
        )
        name = row.get("name") or row["id"]
        yield Finding(
            subject_id=str(row["id"]),
            severity=severity,
            score=invest / 10_000 + int(buyback) + int(fixed),
            entities=[str(row["id"]), owner, controller, *(ctrl[0]["chain"] if ctrl else [])],
            region_code=row.get("region_code") or directory.region(owner),
            evidence={
                "project": record(
                    row,
                    [
                        "id",
                        "name",
                        "owner_id",
                        "project_type",
                        "total_investment",
                        "buyback_clause",
                        "fixed_return",
                    ],
                ),
                "owner": {"id": owner, "name": directory.name(owner)},
                "controller": {"id": controller, "name": directory.name(controller)},
                "control_path": {
                    "chain": ctrl[0]["chain"],
                    "link_pcts": ctrl[0]["chain_pcts"],
                    "control_pct": ctrl[0]["control_pct"],
                }
                if ctrl
                else None,
                "rule": "财预〔2017〕50号; 财金〔2018〕23号",
            },
            explanation={
                "zh": f"项目{name}（总投资{scaled_zh(invest)}）设有{clauses_zh}，项目单位{directory.name(owner)}"
                f"受{directory.name(controller)}控制，属“明股实债”，实为政府承担的变相举债。",
                "en": f"Project {name} ({yuan_en(invest)}) carries {clauses_en}, and its owner {directory.name(owner)} "
                f"is controlled by {directory.name(controller)}: equity in name, government-borne debt in substance.",
            },
        )
