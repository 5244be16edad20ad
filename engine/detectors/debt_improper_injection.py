"""``debt.improper_injection``: public-interest assets or reserve land injected into a company.

Rules: 财预〔2012〕463号 (关于制止地方政府违法违规融资行为的通知) forbids injecting public-interest
assets (schools, hospitals, parks, government buildings...) and reserve land into financing
vehicles; 财预〔2018〕23号 repeats it (and forbids using them as collateral for financing).
A flag for every fund flow whose purpose is ``asset_injection`` with ``asset_type`` in the
configured set and whose payer is a government unit; severity high when the recipient is a
financing vehicle (kind ``lgfv``) or gov-linked, medium otherwise.
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

__all__ = ["ImproperInjectionSettings", "improper_injection"]

_ASSET_ZH = {"land_reserve": "储备土地", "public_building": "公益性资产"}


@dataclass(frozen=True)
class ImproperInjectionSettings:
    asset_types: tuple[str, ...] = field(
        default=("land_reserve", "public_building"),
        metadata={"doc": "Asset types that may not be injected into a financing vehicle."},
    )
    require_gov_payer: bool = field(
        default=True, metadata={"doc": "Only injections whose payer is a government unit."}
    )


@detector(
    "debt.improper_injection",
    title_zh="违规注入公益性资产或储备土地",
    title_en="Public-interest assets or reserve land injected into a company",
    subject="flow_id",
    reads=("FUND_FLOW", *ENTITIES),
    requires=("FUND_FLOW",),
    uses=("ownership.control",),
    settings=ImproperInjectionSettings,
    partition="component",
)
def improper_injection(
    ctx: DetectorContext, settings: ImproperInjectionSettings
) -> Iterator[Finding]:
    """Fund flows with purpose asset_injection and asset_type land_reserve / public_building
    (财预〔2012〕463号, 财预〔2018〕23号). Score = amount in 万元."""
    directory = entity_directory(ctx)
    flows = ctx.frame("FUND_FLOW")
    flows = flows[
        (flows["purpose"] == "asset_injection") & flows["asset_type"].isin(settings.asset_types)
    ]
    if settings.require_gov_payer:
        flows = flows[flows["src"].astype(str).isin(directory.gov_ids)]
    if flows.empty:
        return
    oc: OwnershipControl | None = ctx.result("ownership.control")
    flows["amount"] = pd.to_numeric(flows["amount"], errors="coerce").fillna(0.0)
    for row in flows.sort_values("id").to_dict("records"):
        payer, payee, amount = str(row["src"]), str(row["dst"]), float(row["amount"])
        kind = directory.frame["kind"].get(payee) if payee in directory.frame.index else None
        gov_linked = bool(oc and oc.is_gov_linked(payee))
        severity = "high" if kind == "lgfv" or gov_linked else "medium"
        asset = _ASSET_ZH.get(row["asset_type"], row["asset_type"])
        yield Finding(
            subject_id=str(row["id"]),
            severity=severity,
            score=amount / 10_000,
            entities=[payer, payee, str(row["id"])],
            region_code=directory.region(payer) or directory.region(payee),
            evidence={
                "flow": record(
                    row,
                    ["id", "src", "dst", "amount", "date", "purpose", "asset_type"],
                ),
                "recipient": {
                    "id": payee,
                    "name": directory.name(payee),
                    "kind": kind,
                    "gov_linked": gov_linked,
                },
                "rule": "财预〔2012〕463号; 财预〔2018〕23号",
            },
            explanation={
                "zh": f"{directory.name(payer)}于{row.get('date')}向{directory.name(payee)}注入{asset}，"
                f"作价{scaled_zh(amount)}；财预〔2012〕463号、财预〔2018〕23号禁止将储备土地和公益性资产注入融资平台。",
                "en": f"{directory.name(payer)} injected {str(row['asset_type']).replace('_', ' ')} worth "
                f"{yuan_en(amount)} into {directory.name(payee)} on {row.get('date')}; Cai Yu [2012] No. 463 "
                "and Cai Yu [2018] No. 23 forbid injecting reserve land or public-interest assets into financing vehicles.",
            },
        )
