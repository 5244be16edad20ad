"""``debt.hidden_chain``: debt of a government-controlled enterprise that the government services.

Hidden debt (隐性债务) in the sense of 中发〔2018〕27号 and the audit practice that followed: a
financing vehicle borrows in its own name, but the money to service the debt comes from the
budget. The detector takes every loan (and bond) whose borrower is ``gov_linked`` (its ultimate
controller is a government unit: the result of ``ownership.control``, which it uses), and looks for fiscal fund flows
(``debt_service``, ``subsidy``, ``capital_injection`` by default) during the loan's life
(start date to maturity, or to the reference date when maturity is missing) that go

* from the controlling government -- optionally every government unit of the same region, since
  a county's finance bureau pays for what its SASAC holds -- or from an entity it controls,
* to the borrower or to an enterprise on the control chain between government and borrower.

Evidence: the control chain with link percentages, the loan, every matched flow with provenance,
totals by purpose. Severity high when a flow is labelled debt service or the flows reach
``high_share`` of the principal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory
from engine.evidence import pct, record, records, scaled_zh, yuan_en
from engine.flags import Finding
from engine.ownership import OwnershipControl
from engine.registry import any_of, detector

__all__ = ["HiddenChainSettings", "hidden_chain"]

PURPOSE_ZH = {
    "debt_service": "还本付息",
    "subsidy": "补贴",
    "capital_injection": "注资",
    "service_purchase": "购买服务",
    "asset_injection": "资产注入",
    "other": "其他",
}


@dataclass(frozen=True)
class HiddenChainSettings:
    fiscal_purposes: tuple[str, ...] = field(
        default=("debt_service", "subsidy", "capital_injection"),
        metadata={"doc": "Fund-flow purposes that count as the government servicing the debt."},
    )
    same_region_government: bool = field(
        default=True,
        metadata={
            "doc": "Treat every government unit of the controller's region as the same government."
        },
    )
    include_bonds: bool = field(
        default=True, metadata={"doc": "Also check bonds issued by gov-linked enterprises."}
    )
    high_share: float = field(
        default=0.3,
        metadata={
            "doc": "Severity high when matched flows reach this share of the principal (or any is debt service)."
        },
    )


@dataclass(frozen=True)
class _Debt:
    kind: str  # loan_id / bond_id
    id: str
    borrower: str
    lender: str | None
    principal: float
    outstanding: float
    start: str | None
    end: str | None
    record: dict


def _debts(ctx: DetectorContext, include_bonds: bool) -> Iterator[_Debt]:
    as_of = ctx.as_of.isoformat()
    for row in ctx.frame("Loan").to_dict("records"):
        principal = float(pd.to_numeric(row.get("principal"), errors="coerce") or 0.0)
        balance = pd.to_numeric(row.get("balance"), errors="coerce")
        yield _Debt(
            "loan_id",
            str(row["id"]),
            str(row.get("borrower_id")),
            row.get("lender_id") if isinstance(row.get("lender_id"), str) else None,
            principal,
            principal if pd.isna(balance) else float(balance),
            row.get("start_date") if isinstance(row.get("start_date"), str) else None,
            row.get("maturity_date") if isinstance(row.get("maturity_date"), str) else as_of,
            record(
                row,
                [
                    "id",
                    "borrower_id",
                    "lender_id",
                    "principal",
                    "balance",
                    "start_date",
                    "maturity_date",
                    "status",
                ],
            ),
        )
    if not include_bonds:
        return
    for row in ctx.frame("Bond").to_dict("records"):
        amount = float(pd.to_numeric(row.get("amount"), errors="coerce") or 0.0)
        yield _Debt(
            "bond_id",
            str(row["id"]),
            str(row.get("issuer_id")),
            None,
            amount,
            amount,
            row.get("issue_date") if isinstance(row.get("issue_date"), str) else None,
            row.get("maturity_date") if isinstance(row.get("maturity_date"), str) else as_of,
            record(
                row,
                ["id", "issuer_id", "amount", "issue_date", "maturity_date", "bond_type"],
            ),
        )


@detector(
    "debt.hidden_chain",
    title_zh="隐性债务链",
    title_en="Hidden debt serviced by government",
    subject=("loan_id", "bond_id"),
    reads=("HOLDS_SHARES", "FUND_FLOW", "Loan", "Bond", *ENTITIES),
    requires=("HOLDS_SHARES", "FUND_FLOW", any_of("Loan", "Bond")),
    uses=("ownership.control",),
    settings=HiddenChainSettings,
    partition="component",
)
def hidden_chain(ctx: DetectorContext, settings: HiddenChainSettings) -> Iterator[Finding]:
    """Loans/bonds of gov-linked borrowers with fiscal flows (debt service, subsidy, capital
    injection) from the controlling government or its entities to the borrower or its
    controllers within the loan's life (中发〔2018〕27号 hidden-debt definition; see module doc).
    Score = flows / principal (capped at 10) + flows in units of 100m yuan."""
    oc: OwnershipControl = ctx.result("ownership.control")
    directory = entity_directory(ctx)
    flows = ctx.frame("FUND_FLOW")
    flows = flows[flows["purpose"].isin(settings.fiscal_purposes)]
    flows["amount"] = pd.to_numeric(flows["amount"], errors="coerce").fillna(0.0)
    by_payee = {str(k): v for k, v in flows.groupby("dst", sort=False)}
    gov_regions: dict[str, set[str]] = {}
    if settings.same_region_government:
        for gid in directory.gov_ids:
            region = directory.region(gid)
            if region:
                gov_regions.setdefault(region, set()).add(gid)

    for debt in _debts(ctx, settings.include_bonds):
        ctrl_rows = oc.gov_controllers(debt.borrower)
        if not ctrl_rows:
            continue
        govs = {r["controller_id"] for r in ctrl_rows}
        if settings.same_region_government:
            for g in list(govs):
                govs |= gov_regions.get(directory.region(g) or "", set())
        payers = set(govs)
        for g in govs:
            payers |= oc.companies_of.get(g, set())
        receivers = {debt.borrower}
        for r in ctrl_rows:
            receivers |= {c for c in r["chain"][1:-1] if c not in directory.gov_ids}
        payers -= {debt.borrower}
        parts = [by_payee[r] for r in sorted(receivers) if r in by_payee]
        if not parts:
            continue
        hits = pd.concat(parts)
        hits = hits[hits["src"].astype(str).isin(payers) & (hits["src"] != hits["dst"])]
        if debt.start:
            hits = hits[hits["date"].astype(str) >= debt.start]
        hits = hits[hits["date"].astype(str) <= debt.end]
        if hits.empty:
            continue
        hits = hits.sort_values(["date", "id"])
        total = float(hits["amount"].sum())
        share = total / debt.principal if debt.principal > 0 else float("inf")
        by_purpose = hits.groupby("purpose")["amount"].agg(["count", "sum"])
        severity = (
            "high"
            if ("debt_service" in by_purpose.index or share >= settings.high_share)
            else "medium"
        )
        main = max(ctrl_rows, key=lambda r: r["control_pct"] if pd.notna(r["control_pct"]) else 0.0)
        gov = main["controller_id"]
        chain_names = " → ".join(directory.name(x) for x in main["chain"])
        payer_ids = list(dict.fromkeys(hits["src"].astype(str)))
        purposes_zh = "、".join(PURPOSE_ZH.get(p, p) for p in by_purpose.index)
        purposes_en = ", ".join(p.replace("_", " ") for p in by_purpose.index)
        what_zh = "贷款" if debt.kind == "loan_id" else "债券"
        what_en = "loan" if debt.kind == "loan_id" else "bond"
        ctrl_pct = main["control_pct"] if pd.notna(main["control_pct"]) else float("nan")
        yield Finding(
            subject_type=debt.kind,
            subject_id=debt.id,
            severity=severity,
            score=min(share, 10.0) + total / 1e8,
            entities=[
                gov,
                *main["chain"],
                debt.borrower,
                debt.lender,
                debt.id,
                *payer_ids,
                *hits["id"].astype(str),
            ],
            region_code=directory.region(gov) or directory.region(debt.borrower),
            evidence={
                "debt": debt.record,
                "outstanding": debt.outstanding,
                "control_path": {
                    "chain": list(main["chain"]),
                    "names": [directory.name(x) for x in main["chain"]],
                    "link_pcts": list(main["chain_pcts"]),
                    "control_pct": main["control_pct"],
                    "cash_flow_pct": main["cash_flow_pct"],
                    "test": main["test"],
                },
                "government_units": sorted(govs),
                "flows": records(hits, ["id", "src", "dst", "amount", "date", "purpose"]),
                "flow_count": len(hits),
                "flow_total": total,
                "flow_share_of_principal": share,
                "by_purpose": {
                    p: {"count": int(r["count"]), "amount": float(r["sum"])}
                    for p, r in by_purpose.iterrows()
                },
                "life": [debt.start, debt.end],
            },
            explanation={
                "zh": f"{directory.name(gov)}通过股权链（{chain_names}，控制权{ctrl_pct:.1f}%）控制"
                f"{directory.name(debt.borrower)}；{what_zh}{debt.id}（本金{scaled_zh(debt.principal)}，"
                f"{debt.start or '?'}至{debt.end}）存续期间，政府方向借款人或其控股股东拨付{purposes_zh}资金"
                f"{len(hits)}笔共{scaled_zh(total)}（占本金{pct(share)}），疑似由财政实际偿还的隐性债务。",
                "en": f"{directory.name(gov)} controls {directory.name(debt.borrower)} through {chain_names} "
                f"({ctrl_pct:.1f}% control); during {what_en} {debt.id} ({yuan_en(debt.principal)}, "
                f"{debt.start or '?'} to {debt.end}) the government side paid {len(hits)} {purposes_en} "
                f"transfers totalling {yuan_en(total)} ({pct(share)} of principal) to the borrower or its "
                "controlling shareholders: likely hidden government debt.",
            },
        )
