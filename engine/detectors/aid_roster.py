"""``aid.not_registered``: a poverty-programme payment to someone on no household roster.
One flag per payment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import iso_day, records, yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import detector

__all__ = ["NotRegisteredSettings", "not_registered"]


@dataclass(frozen=True)
class NotRegisteredSettings:
    programs: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Programmes restricted to registered households; empty = every programme in "
            "aid_payments (the table holds poverty-programme payments only)."
        },
    )
    high_amount: float = field(
        default=5000.0,
        metadata={"doc": "Severity high for a single payment of at least this many yuan."},
    )


@detector(
    "aid.not_registered",
    title_zh="向非建档立卡人员发放扶贫资金",
    title_en="Aid paid to someone on no household roster",
    subject="payment_id",
    reads=(*PAYMENTS, "Person"),
    requires=("Payment", "Household"),
    settings=NotRegisteredSettings,
    partition="sql",
)
def not_registered(ctx: DetectorContext, settings: NotRegisteredSettings) -> Iterator[Finding]:
    """Anti-join of payments on the roster by canonical resident ID.

    The roster is every household in the households table, enrolled or exited: its head
    (``head_id`` / ``HEADED_BY``) and its members (``MEMBER_OF``). A payment whose recipient is none
    of them is flagged, whatever household id the payment itself names (a household id that
    resolves to nothing is shown in the evidence). Rule: poverty funds go to registered households
    only (精准扶贫 "扶持对象精准"; 财办〔2019〕31号).
    """
    reg = aid_registers(ctx)
    program_clause = "AND p.program IN (SELECT unnest(?::VARCHAR[]))" if settings.programs else ""
    params = [list(settings.programs)] if settings.programs else []
    matched = reg.query(
        f"""
        SELECT p.*, h.household_id IS NOT NULL AS household_exists
        FROM payments AS p
        LEFT JOIN households AS h ON h.household_id = p.household_id_given
        WHERE NOT EXISTS (SELECT 1 FROM roster AS r WHERE r.person_id = p.recipient_id)
          {program_clause}
        ORDER BY p.payment_id
        """,
        params,
    )
    if matched.empty:
        return
    names = reg.names(matched["recipient_id"].unique())
    fields = ["payment_id", "program", "recipient_id", "household_id_given", "account_no",
              "amount", "paid_date", "region_code", "approver_id"]  # fmt: skip
    for row, record in zip(
        matched.itertuples(index=False),
        records(matched, fields, limit=len(matched)),
        strict=True,
    ):
        name = reg.name_of(row.recipient_id, names)
        amount = float(row.amount or 0.0)
        day = iso_day(row.paid_date)
        given = row.household_id_given if isinstance(row.household_id_given, str) else None
        if given and row.household_exists:
            note_zh, note_en = (
                f"（付款记录写明户{given}，但其不在该户名册中）",
                f" (the payment names household {given}, whose roster does not list them)",
            )
        elif given:
            note_zh, note_en = (
                f"（付款记录写明的户{given}不存在）",
                f" (the payment names household {given}, which does not exist)",
            )
        else:
            note_zh, note_en = "", ""
        yield Finding(
            subject_id=row.payment_id,
            severity="high" if amount >= settings.high_amount else "medium",
            score=amount,
            entities=[row.payment_id, row.recipient_id, row.account_no, given],
            region_code=row.region_code,
            evidence={
                "payments": [record],
                "figures": {
                    "amount": amount,
                    "paid_date": day,
                    "household_named": given,
                    "household_exists": bool(row.household_exists),
                },
            },
            explanation={
                "zh": f"{day}向{name}发放{row.program}资金{yuan_zh(amount)}，但其不属于任何建档立卡户{note_zh}",
                "en": f"On {day} {row.program} aid of {yuan_en(amount)} was paid to {name}, who belongs to no household on the roster{note_en}",
            },
        )
