"""``aid.deceased_recipient``: aid paid to a person after their registered death.

Death registers (public security, civil affairs, health) are matched against aid payments on the
canonical resident ID; a payment is improper when it was paid more than ``grace_days`` after the
death date (the grace absorbs a monthly payment cycle already in the pipeline). One flag per person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import record_list, yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import detector

__all__ = ["DeceasedRecipientSettings", "deceased_recipient"]


@dataclass(frozen=True)
class DeceasedRecipientSettings:
    grace_days: int = field(
        default=31,
        metadata={"doc": "Payments up to this many days after the death date are tolerated."},
    )
    high_months: int = field(
        default=3,
        metadata={
            "doc": "Severity high when payments went on this many calendar months after death."
        },
    )
    high_amount: float = field(
        default=3000.0,
        metadata={"doc": "Severity high when this much (yuan) was paid after the grace period."},
    )


@detector(
    "aid.deceased_recipient",
    title_zh="死亡人员仍领取扶贫资金",
    title_en="Aid paid after the recipient's death",
    subject="person_id",
    reads=(*PAYMENTS, "DeathRecord", "Person"),
    requires=("Payment", "DeathRecord"),
    settings=DeceasedRecipientSettings,
    partition="sql",
)
def deceased_recipient(
    ctx: DetectorContext, settings: DeceasedRecipientSettings
) -> Iterator[Finding]:
    """Payments with ``paid_date > death_date + grace_days`` (earliest death record per person).

    Score = months × amount: whole calendar months from the death to the last improper payment
    (at least 1) times the total paid after the grace period, so long-running and large cases rank
    first. Rule: the 2019 fiscal big-data opinion (财办〔2019〕31号) names comparison of aid rolls
    with public-security and civil-affairs death records as a core poverty-fund check.
    """
    reg = aid_registers(ctx)
    pay_fields = ["payment_id", "program", "recipient_id", "household_id", "account_no", "amount",
                  "paid_date"]  # fmt: skip
    rows = reg.rows(
        f"""
        WITH d AS (
            SELECT person_id, min(death_date) AS death_date FROM deaths
            WHERE death_date IS NOT NULL GROUP BY person_id
        ),
        m AS (
            SELECT p.*, d.death_date FROM payments AS p JOIN d ON p.recipient_id = d.person_id
            WHERE p.paid_date > d.death_date + to_days(CAST(? AS INTEGER))
        ),
        agg AS (
            SELECT recipient_id AS person_id, any_value(death_date) AS death_date, count(*) AS n,
                   sum(amount) AS total, max(paid_date) AS last_paid,
                   arg_max(region_code, struct_pack(d := paid_date, i := payment_id)) AS region_code,
                   list_sort(list_distinct(list(program))) AS programs,
                   list_sort(list_distinct(list(household_id))) AS households,
                   list(payment_id ORDER BY paid_date, payment_id) AS payment_ids,
                   {record_list(pay_fields, "paid_date, payment_id")} AS payments
            FROM m GROUP BY recipient_id
        ),
        dr AS (
            SELECT person_id, {record_list(["person_id", "death_date", "source"], "death_date")}
                   AS death_records
            FROM deaths WHERE person_id IN (SELECT person_id FROM agg) GROUP BY person_id
        )
        SELECT * FROM agg LEFT JOIN dr USING (person_id) ORDER BY person_id
        """,
        [settings.grace_days],
    )
    names = reg.names(r["person_id"] for r in rows)
    for r in rows:
        pid = r["person_id"]
        death_date, last = r["death_date"], r["last_paid"]
        total, n = float(r["total"]), int(r["n"])
        months = max(1, (last.year - death_date.year) * 12 + (last.month - death_date.month))
        households = r["households"]
        name = reg.name_of(pid, names)
        severity = (
            "high" if months >= settings.high_months or total >= settings.high_amount else "medium"
        )
        day, last_day = death_date.isoformat(), last.isoformat()
        hh_zh, hh_en = "、".join(households) or "未知", ", ".join(households) or "unknown"
        yield Finding(
            subject_id=pid,
            severity=severity,
            score=months * total,
            entities=[pid, *households, *r["payment_ids"]],
            region_code=r["region_code"],
            evidence={
                "death_records": r["death_records"] or [],
                "payments": r["payments"],
                "figures": {
                    "death_date": day,
                    "grace_days": settings.grace_days,
                    "payments_after_death": n,
                    "amount_after_death": total,
                    "last_paid_date": last_day,
                    "months_after_death": months,
                },
            },
            explanation={
                "zh": (
                    f"{name}（户{hh_zh}）于{day}死亡，宽限{settings.grace_days}天后仍领取"
                    f"{'、'.join(r['programs'])}资金{n}笔共{yuan_zh(total)}，"
                    f"最后一笔发放于{last_day}（死亡后{months}个月）"
                ),
                "en": (
                    f"{name} (household {hh_en}) died on {day}; {n} payment(s) of "
                    f"{', '.join(r['programs'])} totalling {yuan_en(total)} were made more than "
                    f"{settings.grace_days} days later, the last on {last_day} ({months} month(s) "
                    "after the death)"
                ),
            },
        )
