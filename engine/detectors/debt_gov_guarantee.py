"""``debt.gov_guarantee``: a government unit guarantees enterprise debt.

Rule: 财预〔2017〕50号 (关于进一步规范地方政府举债融资行为的通知) forbids local governments and
their departments to provide guarantees of any kind for the debt of enterprises, including
commitment letters (承诺函) and comfort letters; the only exception is the on-lending of loans
from foreign governments and international financial organisations (外国政府和国际经济组织贷款
转贷), recognised here by keywords in the guaranteed loan's purpose. Every type of guarantee
counts; the types a reviewer should treat as most serious are a setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.context import DetectorContext
from engine.debt_registers import ENTITIES, entity_directory, guarantees_in_force
from engine.evidence import record, scaled_zh, yuan_en
from engine.flags import Finding
from engine.registry import detector

__all__ = ["GovGuaranteeSettings", "gov_guarantee"]

_TYPE_ZH = {
    "guarantee": "保证担保",
    "collateral": "抵押担保",
    "pledge": "质押担保",
    "commitment_letter": "承诺函",
    "comfort_letter": "安慰函",
}


@dataclass(frozen=True)
class GovGuaranteeSettings:
    include_lapsed: bool = field(
        default=True,
        metadata={
            "doc": "Also report guarantees whose end_date is before the reference date. On: an "
            "illegal guarantee that has since lapsed was still given in breach of 财预〔2017〕50号. "
            "Guarantees starting after the reference date never count."
        },
    )
    exempt_purpose_keywords: tuple[str, ...] = field(
        default=("外国政府贷款", "国际金融组织贷款", "国际经济组织贷款", "转贷"),
        metadata={
            "doc": "A guaranteed loan whose purpose contains one of these is the allowed on-lending exception."
        },
    )
    medium_types: tuple[str, ...] = field(
        default=("comfort_letter",),
        metadata={"doc": "Guarantee types flagged medium rather than high."},
    )


@detector(
    "debt.gov_guarantee",
    title_zh="政府违规担保",
    title_en="Government guarantee of enterprise debt",
    subject="guarantee_id",
    reads=("GUARANTEES", "Loan", *ENTITIES),
    requires=("GUARANTEES",),
    settings=GovGuaranteeSettings,
    partition="component",
)
def gov_guarantee(ctx: DetectorContext, settings: GovGuaranteeSettings) -> Iterator[Finding]:
    """Guarantees (any type, commitment and comfort letters included) whose guarantor is a
    government unit, except guarantees of on-lent foreign-government / international-
    organisation loans (财预〔2017〕50号). Score = guaranteed amount in 万元."""
    directory = entity_directory(ctx)
    g = guarantees_in_force(ctx, settings.include_lapsed)
    if g.empty:
        return
    g = g[g["src"].astype(str).isin(directory.gov_ids)]
    loans = ctx.frame("Loan").set_index("id")
    for row in g.sort_values("id").to_dict("records"):
        gov, debtor, amount = str(row["src"]), str(row["dst"]), float(row["amount"])
        loan_id = row.get("loan_id") if isinstance(row.get("loan_id"), str) else None
        loan = loans.loc[loan_id] if loan_id and loan_id in loans.index else None
        purpose = (
            str(loan["purpose"])
            if loan is not None and isinstance(loan.get("purpose"), str)
            else ""
        )
        if any(k in purpose for k in settings.exempt_purpose_keywords):
            continue
        gtype = (
            row.get("guarantee_type") if isinstance(row.get("guarantee_type"), str) else "guarantee"
        )
        severity = "medium" if gtype in settings.medium_types else "high"
        lender = (
            str(loan["lender_id"])
            if loan is not None and isinstance(loan.get("lender_id"), str)
            else None
        )
        evidence = {
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
            "guarantor": {
                "id": gov,
                "name": directory.name(gov),
                "region_code": directory.region(gov),
            },
            "debtor": {
                "id": debtor,
                "name": directory.name(debtor),
                "kind": directory.frame["kind"].get(debtor)
                if debtor in directory.frame.index
                else None,
            },
            "amount": amount,
            "rule": "财预〔2017〕50号",
        }
        if loan is not None:
            evidence["loan"] = record(
                {**loan.to_dict(), "id": loan_id},
                ["id", "borrower_id", "lender_id", "principal", "balance", "start_date",
                 "maturity_date", "status", "purpose"],
            )  # fmt: skip
        when = row.get("start_date") if isinstance(row.get("start_date"), str) else None
        loan_zh = f"（贷款{loan_id}）" if loan_id else ""
        loan_en = f" (loan {loan_id})" if loan_id else ""
        yield Finding(
            subject_id=str(row["id"]),
            severity=severity,
            score=amount / 10_000,
            entities=[gov, debtor, loan_id, lender, str(row["id"])],
            region_code=directory.region(gov) or directory.region(debtor),
            evidence=evidence,
            explanation={
                "zh": f"{directory.name(gov)}{'于' + when if when else ''}以{_TYPE_ZH.get(gtype, gtype)}方式为"
                f"{directory.name(debtor)}的债务{loan_zh}提供担保，金额{scaled_zh(amount)}；"
                "财预〔2017〕50号禁止地方政府及其部门为企业融资提供任何形式的担保。",
                "en": f"{directory.name(gov)} gave a {gtype.replace('_', ' ')}{' on ' + when if when else ''} "
                f"for the debt of {directory.name(debtor)}{loan_en}, {yuan_en(amount)}; Cai Yu [2017] No. 50 "
                "forbids local governments and their departments to guarantee enterprise financing.",
            },
        )
