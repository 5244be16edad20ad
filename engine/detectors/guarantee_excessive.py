"""``guarantee.excessive``: over-guarantee against the lines of 证监发〔2005〕120号.

证监发〔2005〕120号 (关于规范上市公司对外担保行为的通知) requires a shareholders' meeting for a
listed company's external guarantees when (1) their total exceeds 50 % of its latest audited net
assets, (2) the debtor's liabilities exceed 70 % of its assets, or (3) a single guarantee exceeds
10 % of net assets. Those lines are the defaults here, applied to every enterprise guarantor
(banks excluded by default: guaranteeing is their business and is regulated by capital rules).
A guarantor with zero or negative net assets that guarantees anything crosses both net-asset
lines. Severity high when two or more lines are crossed, medium for one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory, guarantees_in_force
from engine.evidence import pct, records, scaled_zh, yuan_en
from engine.flags import Finding
from engine.registry import detector

__all__ = ["ExcessiveGuaranteeSettings", "excessive_guarantee"]


@dataclass(frozen=True)
class ExcessiveGuaranteeSettings:
    total_share: float = field(
        default=0.5, metadata={"doc": "Total external guarantees / net assets line."}
    )
    single_share: float = field(default=0.1, metadata={"doc": "One guarantee / net assets line."})
    debtor_leverage: float = field(
        default=0.7, metadata={"doc": "Debtor liabilities / assets line."}
    )
    exclude_kinds: tuple[str, ...] = field(
        default=("bank",), metadata={"doc": "Guarantor kinds not checked."}
    )
    include_lapsed: bool = field(
        default=False,
        metadata={
            "doc": "Also count guarantees whose end_date is before the reference date. Off: the lines of 证监发〔2005〕120号 apply to guarantees outstanding, and a lapsed guarantee no longer adds to the guarantor's total. Guarantees starting after the reference date never count."
        },
    )


@detector(
    "guarantee.excessive",
    title_zh="超额担保",
    title_en="Over-guarantee",
    subject="uscc",
    reads=ENTITIES,
    requires=("GUARANTEES", "Enterprise"),
    settings=ExcessiveGuaranteeSettings,
    partition="component",
)
def excessive_guarantee(
    ctx: DetectorContext, settings: ExcessiveGuaranteeSettings
) -> Iterator[Finding]:
    """Per enterprise guarantor: total guarantees > 50 % of net assets; a single guarantee > 10 %;
    a debtor with liabilities/assets > 70 % (证监发〔2005〕120号). Score = lines crossed + total/net assets."""
    directory = entity_directory(ctx)
    g = guarantees_in_force(ctx, settings.include_lapsed)
    if g.empty:
        return
    ent = directory.frame[directory.frame["label"] == "Enterprise"]
    ent = ent[~ent["kind"].isin(settings.exclude_kinds)]
    g = g[g["src"].astype(str).isin(ent.index) & (g["src"] != g["dst"])]
    lev = (directory.frame["total_liabilities"] / directory.frame["total_assets"]).replace(
        [np.inf, -np.inf], np.nan
    )
    for guarantor, rows in g.groupby(g["src"].astype(str), sort=True):
        na = directory.figure(guarantor, "net_assets")
        total = float(rows["amount"].sum())
        largest = rows.loc[rows["amount"].idxmax()]
        has_na = na == na
        insolvent = has_na and na <= 0
        total_ratio = (
            total / na if has_na and na > 0 else (float("inf") if insolvent else float("nan"))
        )
        single_ratio = float(largest["amount"]) / na if has_na and na > 0 else total_ratio
        debtors = rows["dst"].astype(str)
        debtor_lev = debtors.map(lambda d: lev.get(d, np.nan))
        risky = rows[debtor_lev.to_numpy() > settings.debtor_leverage]
        lines = {
            "total_over_net_assets": bool(total_ratio > settings.total_share),
            "single_over_net_assets": bool(single_ratio > settings.single_share),
            "debtor_over_leverage": not risky.empty,
        }
        crossed = sum(lines.values())
        if not crossed:
            continue
        name = directory.name(guarantor)
        parts_zh, parts_en = [], []
        if lines["total_over_net_assets"]:
            parts_zh.append(
                f"对外担保合计{scaled_zh(total)}，占净资产{'(净资产≤0)' if insolvent else pct(total_ratio)}，超过{pct(settings.total_share)}"
            )
            parts_en.append(
                f"external guarantees of {yuan_en(total)} are {'above its non-positive net assets' if insolvent else pct(total_ratio) + ' of net assets'} (line {pct(settings.total_share)})"
            )
        if lines["single_over_net_assets"]:
            parts_zh.append(
                f"单笔担保{largest['id']}金额{scaled_zh(float(largest['amount']))}，超过净资产的{pct(settings.single_share)}"
            )
            parts_en.append(
                f"guarantee {largest['id']} of {yuan_en(float(largest['amount']))} exceeds {pct(settings.single_share)} of net assets"
            )
        if lines["debtor_over_leverage"]:
            names = "、".join(directory.name(d) for d in dict.fromkeys(risky["dst"].astype(str)))
            parts_zh.append(f"为资产负债率超过{pct(settings.debtor_leverage)}的{names}提供担保")
            parts_en.append(
                f"it guarantees debtors with liabilities above {pct(settings.debtor_leverage)} of assets ({names})"
            )
        yield Finding(
            subject_id=guarantor,
            severity="high" if crossed >= 2 else "medium",
            score=crossed + (min(total_ratio, 10.0) if total_ratio == total_ratio else 0.0),
            entities=[guarantor, *debtors, *rows["id"].astype(str)],
            region_code=directory.region(guarantor),
            evidence={
                "guarantor": {"id": guarantor, "name": name, "net_assets": na if has_na else None},
                "total_guaranteed": total,
                "total_share_of_net_assets": None
                if total_ratio != total_ratio or total_ratio == float("inf")
                else total_ratio,
                "largest_guarantee": {"id": str(largest["id"]), "amount": float(largest["amount"])},
                "lines_crossed": lines,
                "debtors_over_leverage": [
                    {"id": d, "name": directory.name(d), "liabilities_to_assets": float(lev.get(d))}
                    for d in dict.fromkeys(risky["dst"].astype(str))
                ],
                "guarantees": records(
                    rows.sort_values("id"),
                    ["id", "dst", "loan_id", "amount", "start_date", "end_date", "guarantee_type"],
                ),
                "rule": "证监发〔2005〕120号",
            },
            explanation={
                "zh": f"{name}（净资产{scaled_zh(na) if has_na else '未知'}）："
                + "；".join(parts_zh)
                + "，超出证监发〔2005〕120号规定的担保限额。",
                "en": f"{name} (net assets {yuan_en(na) if has_na else 'unknown'}): "
                + "; ".join(parts_en)
                + " (CSRC [2005] No. 120 lines).",
            },
        )
