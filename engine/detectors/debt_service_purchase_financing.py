"""``debt.service_purchase_financing``: borrowing against government purchase-of-services contracts.

Rule: 财预〔2017〕87号 (关于坚决制止地方以政府购买服务名义违法违规融资的通知) forbids using
government purchase of services as a financing channel: construction projects may not be
bought as "services", and a contractor may not borrow against the purchase contract. Flag
every loan that finances a project of type ``service_purchase`` which a government unit pays
for (a ``service_purchase`` fund flow from a government unit to the project owner or the
borrower). Severity high when the government's payments start after the loan (the contract is
servicing the loan), medium otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory
from engine.evidence import record, records, scaled_zh, yuan_en
from engine.flags import Finding
from engine.registry import detector

__all__ = ["ServicePurchaseFinancingSettings", "service_purchase_financing"]


@dataclass(frozen=True)
class ServicePurchaseFinancingSettings:
    require_gov_payment: bool = field(
        default=True,
        metadata={
            "doc": "Require a service_purchase payment from a government unit; off flags every such loan."
        },
    )


@detector(
    "debt.service_purchase_financing",
    title_zh="以政府购买服务名义融资",
    title_en="Financing against government purchase-of-services contracts",
    subject="loan_id",
    reads=("Loan", "Project", "FUND_FLOW", *ENTITIES),
    requires=("Loan", "Project"),
    settings=ServicePurchaseFinancingSettings,
    partition="component",
)
def service_purchase_financing(
    ctx: DetectorContext, settings: ServicePurchaseFinancingSettings
) -> Iterator[Finding]:
    """Loans whose project is project_type service_purchase and is paid by a gov unit
    (财预〔2017〕87号). Score = principal in 万元."""
    directory = entity_directory(ctx)
    projects = ctx.frame("Project").set_index("id")
    projects = projects[projects["project_type"] == "service_purchase"]
    if projects.empty:
        return
    flows = ctx.frame("FUND_FLOW")
    if not flows.empty:
        flows = flows[
            (flows["purpose"] == "service_purchase")
            & flows["src"].astype(str).isin(directory.gov_ids)
        ]
        flows["amount"] = pd.to_numeric(flows["amount"], errors="coerce").fillna(0.0)
    for loan in ctx.frame("Loan").sort_values("id").to_dict("records"):
        pid = loan.get("project_id")
        if not isinstance(pid, str) or pid not in projects.index:
            continue
        project = projects.loc[pid]
        owner, borrower = str(project.get("owner_id")), str(loan.get("borrower_id"))
        paid = flows[flows["dst"].astype(str).isin({owner, borrower})] if not flows.empty else flows
        if settings.require_gov_payment and paid.empty:
            continue
        payers = list(dict.fromkeys(paid["src"].astype(str))) if not paid.empty else []
        start = loan.get("start_date") if isinstance(loan.get("start_date"), str) else None
        after = bool(start) and not paid.empty and str(paid["date"].min()) >= start
        principal = float(pd.to_numeric(loan.get("principal"), errors="coerce") or 0.0)
        total = float(paid["amount"].sum()) if not paid.empty else 0.0
        gov = payers[0] if payers else None
        yield Finding(
            subject_id=str(loan["id"]),
            severity="high" if after else "medium",
            score=principal / 10_000,
            entities=[*payers, borrower, owner, str(loan["id"]), pid, loan.get("lender_id")],
            region_code=(directory.region(gov) if gov else None)
            or project.get("region_code")
            or directory.region(borrower),
            evidence={
                "loan": record(
                    loan,
                    [
                        "id",
                        "borrower_id",
                        "lender_id",
                        "principal",
                        "start_date",
                        "maturity_date",
                        "project_id",
                    ],
                ),
                "project": {
                    "id": pid,
                    "name": project.get("name"),
                    "owner_id": owner,
                    "project_type": "service_purchase",
                },
                "payments": records(
                    paid.sort_values(["date", "id"]),
                    ["id", "src", "dst", "amount", "date", "purpose"],
                )
                if not paid.empty
                else [],
                "payment_total": total,
                "payments_start_after_loan": after,
                "rule": "财预〔2017〕87号",
            },
            explanation={
                "zh": f"{directory.name(borrower)}以政府购买服务项目{project.get('name') or pid}为依托取得贷款"
                f"{loan['id']}（{scaled_zh(principal)}），"
                + (
                    f"{directory.name(gov)}按购买服务合同付款{len(paid)}笔共{scaled_zh(total)}；"
                    if gov
                    else ""
                )
                + "财预〔2017〕87号禁止以政府购买服务名义违法违规融资。",
                "en": f"{directory.name(borrower)} borrowed {yuan_en(principal)} (loan {loan['id']}) against the "
                f"government purchase-of-services project {project.get('name') or pid}"
                + (
                    f", paid by {directory.name(gov)} in {len(paid)} payments totalling {yuan_en(total)}"
                    if gov
                    else ""
                )
                + "; Cai Yu [2017] No. 87 forbids financing in the name of government service purchases.",
            },
        )
