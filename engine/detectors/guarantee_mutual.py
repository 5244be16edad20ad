"""``guarantee.mutual``: mutual guarantees (互保), A guarantees B and B guarantees A.

Mutual guarantees turn two firms' credit risk into one: the default of either calls the other's
guarantee while its own guarantor is the firm in default (the pattern behind the 2012-2014
Zhejiang guarantee-chain crises). One flag per pair; severity high when what either firm
guarantees for the other reaches ``high_share_of_net_assets`` of its net assets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory, guarantees_in_force
from engine.evidence import pct, records, scaled_zh, yuan_en
from engine.flags import Finding
from engine.registry import detector

__all__ = ["MutualGuaranteeSettings", "mutual_guarantee"]


@dataclass(frozen=True)
class MutualGuaranteeSettings:
    include_lapsed: bool = field(
        default=False,
        metadata={
            "doc": "Also count guarantees whose end_date is before the reference date. Off: a lapsed guarantee no longer binds the guarantor, so a pair whose guarantees have lapsed is history, not a live mutual guarantee. Guarantees starting after the reference date never count."
        },
    )
    high_share_of_net_assets: float = field(
        default=0.5,
        metadata={
            "doc": "Severity high when one side guarantees at least this share of its net assets for the other."
        },
    )


@detector(
    "guarantee.mutual",
    title_zh="互保",
    title_en="Mutual guarantees",
    subject="pair_id",
    reads=ENTITIES,
    requires=("GUARANTEES",),
    settings=MutualGuaranteeSettings,
    partition="component",
)
def mutual_guarantee(ctx: DetectorContext, settings: MutualGuaranteeSettings) -> Iterator[Finding]:
    """Reciprocal guarantee edges A -> B and B -> A (pair id = the two ids sorted, joined by ~).
    Score = the larger side's guarantees / its net assets (or 1 when unknown) + amount in 亿元."""
    directory = entity_directory(ctx)
    g = guarantees_in_force(ctx, settings.include_lapsed)
    if g.empty:
        return
    g = g[g["src"] != g["dst"]]
    g = g.assign(src=g["src"].astype(str), dst=g["dst"].astype(str))
    by_pair = g.groupby(["src", "dst"])["amount"].sum()
    pairs = sorted({(a, b) for a, b in by_pair.index if a < b and (b, a) in by_pair.index})
    for a, b in pairs:
        ab, ba = float(by_pair[(a, b)]), float(by_pair[(b, a)])
        shares = {}
        for firm, amount in ((a, ab), (b, ba)):
            na = directory.figure(firm, "net_assets")
            shares[firm] = amount / na if na > 0 else float("nan")
        known = [s for s in shares.values() if s == s]
        top = max(known) if known else float("nan")
        severity = "high" if known and top >= settings.high_share_of_net_assets else "medium"
        rows = g[
            ((g["src"] == a) & (g["dst"] == b)) | ((g["src"] == b) & (g["dst"] == a))
        ].sort_values("id")
        na_a, na_b = directory.name(a), directory.name(b)
        share_zh = "；".join(
            f"{directory.name(f)}担保额占其净资产{pct(s)}" for f, s in shares.items() if s == s
        )
        share_en = "; ".join(
            f"{directory.name(f)} guarantees {pct(s)} of its net assets"
            for f, s in shares.items()
            if s == s
        )
        yield Finding(
            subject_id=f"{a}~{b}",
            severity=severity,
            score=(top if known else 1.0) + (ab + ba) / 1e8,
            entities=[a, b, *rows["id"].astype(str)],
            region_code=directory.region(a) or directory.region(b),
            evidence={
                "pair": [a, b],
                "names": [na_a, na_b],
                "a_guarantees_b": ab,
                "b_guarantees_a": ba,
                "share_of_net_assets": shares,
                "guarantees": records(
                    rows,
                    [
                        "id",
                        "src",
                        "dst",
                        "loan_id",
                        "amount",
                        "start_date",
                        "end_date",
                        "guarantee_type",
                    ],
                ),
            },
            explanation={
                "zh": f"{na_a}为{na_b}担保{scaled_zh(ab)}，{na_b}同时为{na_a}担保{scaled_zh(ba)}，构成互保"
                + (f"（{share_zh}）" if share_zh else "")
                + "，一方违约将直接传导至另一方。",
                "en": f"{na_a} guarantees {yuan_en(ab)} for {na_b} while {na_b} guarantees {yuan_en(ba)} for {na_a}: "
                "a mutual guarantee"
                + (f" ({share_en})" if share_en else "")
                + "; a default of either passes straight to the other.",
            },
        )
