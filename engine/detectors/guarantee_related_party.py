"""``guarantee.related_party``: guarantor and debtor share an ultimate controller nothing discloses.

A guarantee between two firms under one controller moves risk inside a group while looking like
an arm's-length credit enhancement to the lender. From ``ownership.control``: the guarantor's
and the debtor's ultimate controllers intersect. "Undisclosed" means the relation is not visible
on the guarantee's face: neither firm holds shares in the other (a parent guaranteeing its
subsidiary is disclosed by the shareholding itself). Firms related only through the state are
not related parties (企业会计准则第36号——关联方披露, art. 6: enterprises merely both controlled by
the state are not related parties), so government controllers are skipped by default.
Severity high when the control chains to both firms run through intermediaries (each at least
``high_min_links`` links), medium otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory, guarantees_in_force
from engine.evidence import record, scaled_zh, yuan_en
from engine.flags import Finding
from engine.ownership import OwnershipControl
from engine.registry import detector

__all__ = ["RelatedPartyGuaranteeSettings", "related_party_guarantee"]


@dataclass(frozen=True)
class RelatedPartyGuaranteeSettings:
    exclude_state_controlled: bool = field(
        default=True,
        metadata={"doc": "Skip a shared controller that is a government unit (CAS 36 art. 6)."},
    )
    high_min_links: int = field(
        default=2,
        metadata={"doc": "Severity high when both control chains have at least this many links."},
    )
    include_lapsed: bool = field(
        default=False,
        metadata={
            "doc": "Also check guarantees whose end_date is before the reference date. Off: control is read from the current shareholdings, which do not say who controlled the two firms when a lapsed guarantee was given; turn on to review lapsed guarantees for disclosure too. Guarantees starting after the reference date never count."
        },
    )


def _share_a_controller(guarantees: pd.DataFrame, controllers: pd.DataFrame) -> np.ndarray:
    """Which guarantees have a guarantor and a debtor with an ultimate controller in common
    (one join over all guarantees, so the row-by-row checks run on the few that do)."""
    edges = pd.DataFrame(
        {
            "row": np.arange(len(guarantees)),
            "src": guarantees["src"].astype(str).to_numpy(),
            "dst": guarantees["dst"].astype(str).to_numpy(),
        }
    )
    ctrl = controllers[["company_id", "controller_id"]].astype(str)
    above_src = edges.merge(ctrl, left_on="src", right_on="company_id")[["row", "controller_id"]]
    above_dst = edges.merge(ctrl, left_on="dst", right_on="company_id")[["row", "controller_id"]]
    shared = above_src.merge(above_dst, on=["row", "controller_id"])["row"].to_numpy()
    hit = np.zeros(len(guarantees), dtype=bool)
    hit[shared] = True
    return hit


@detector(
    "guarantee.related_party",
    title_zh="关联担保未披露",
    title_en="Undisclosed related-party guarantee",
    subject="guarantee_id",
    reads=ENTITIES,
    requires=("GUARANTEES", "HOLDS_SHARES"),
    uses=("ownership.control",),
    settings=RelatedPartyGuaranteeSettings,
    partition="component",
)
def related_party_guarantee(
    ctx: DetectorContext, settings: RelatedPartyGuaranteeSettings
) -> Iterator[Finding]:
    """Guarantees whose guarantor and debtor share an ultimate controller (from ownership.control),
    with no direct shareholding between them. Score = amount in 万元."""
    directory = entity_directory(ctx)
    oc: OwnershipControl = ctx.result("ownership.control")
    g = guarantees_in_force(ctx, settings.include_lapsed)
    if g.empty:
        return
    candidates = g[_share_a_controller(g, oc.controllers)]
    if candidates.empty:
        return
    direct = set(zip(oc.graph.holdings["holder_id"], oc.graph.holdings["company_id"], strict=True))
    for row in candidates.sort_values("id").to_dict("records"):
        a, b = str(row["src"]), str(row["dst"])
        if a == b or (a, b) in direct or (b, a) in direct:
            continue
        ca = {r["controller_id"]: r for r in oc.controllers_of(a)}
        cb = {r["controller_id"]: r for r in oc.controllers_of(b)}
        shared = sorted(set(ca) & set(cb))
        if settings.exclude_state_controlled:
            shared = [c for c in shared if not directory.is_gov(c)]
        shared = [c for c in shared if c not in (a, b)]
        if not shared:
            continue
        ctrl = shared[0]
        chain_a, chain_b = ca[ctrl]["chain"], cb[ctrl]["chain"]
        hidden = min(len(chain_a), len(chain_b)) - 1 >= settings.high_min_links
        amount = float(row["amount"])
        na_a, na_b, na_c = directory.name(a), directory.name(b), directory.name(ctrl)
        yield Finding(
            subject_id=str(row["id"]),
            severity="high" if hidden else "medium",
            score=amount / 10_000,
            entities=[a, b, ctrl, *chain_a, *chain_b, str(row["id"])],
            region_code=directory.region(a) or directory.region(b),
            evidence={
                "guarantee": record(
                    row,
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
                "controller": {"id": ctrl, "name": na_c},
                "shared_controllers": shared,
                "guarantor_chain": {
                    "chain": chain_a,
                    "link_pcts": ca[ctrl]["chain_pcts"],
                    "control_pct": ca[ctrl]["control_pct"],
                },
                "debtor_chain": {
                    "chain": chain_b,
                    "link_pcts": cb[ctrl]["chain_pcts"],
                    "control_pct": cb[ctrl]["control_pct"],
                },
            },
            explanation={
                "zh": f"{na_a}为{na_b}提供担保{scaled_zh(amount)}，两者同受{na_c}控制"
                f"（{' → '.join(directory.name(x) for x in chain_a)}；{' → '.join(directory.name(x) for x in chain_b)}），"
                "双方无直接持股关系，关联关系未在担保中体现。",
                "en": f"{na_a} guarantees {yuan_en(amount)} for {na_b}; both are controlled by {na_c} "
                f"({' → '.join(directory.name(x) for x in chain_a)}; {' → '.join(directory.name(x) for x in chain_b)}) "
                "and neither holds shares in the other, so the relation does not show on the guarantee.",
            },
        )
