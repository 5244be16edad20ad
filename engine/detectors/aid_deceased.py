"""``aid.deceased_recipient``: aid paid to a person after their registered death.

Death registers (public security, civil affairs, health) are matched against aid payments on the
canonical resident ID; a payment is improper when it was paid more than ``grace_days`` after the
death date (the grace absorbs a monthly payment cycle already in the pipeline). One flag per person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.context import DetectorContext
from engine.detectors.aid_tables import aid_tables, evidence_records, yuan_en, yuan_zh
from engine.flags import Flag
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


def _months_between(start: pd.Timestamp, end: pd.Timestamp) -> int:
    return max(1, (end.year - start.year) * 12 + (end.month - start.month))


@detector(
    "aid.deceased_recipient",
    title_zh="死亡人员仍领取扶贫资金",
    title_en="Aid paid after the recipient's death",
    requires=("Payment", "DeathRecord"),
    settings=DeceasedRecipientSettings,
    subject="person_id",
)
def deceased_recipient(ctx: DetectorContext, settings: DeceasedRecipientSettings) -> Iterator[Flag]:
    """Payments with ``paid_date > death_date + grace_days`` (earliest death record per person).

    Score = months × amount: whole calendar months from the death to the last improper payment
    (at least 1) times the total paid after the grace period, so long-running and large cases rank
    first. Rule: the 2019 fiscal big-data opinion (财办〔2019〕31号) names comparison of aid rolls
    with public-security and civil-affairs death records as a core poverty-fund check.
    """
    tables = aid_tables(ctx)
    matched = tables.cm.query(
        """
        WITH d AS (
            SELECT person_id, min(death_date) AS death_date FROM deaths
            WHERE death_date IS NOT NULL GROUP BY person_id
        )
        SELECT p.*, d.death_date
        FROM payments AS p JOIN d ON p.recipient_id = d.person_id
        WHERE p.paid_date > d.death_date + to_days(CAST(? AS INTEGER))
        ORDER BY p.recipient_id, p.paid_date, p.payment_id
        """,
        [settings.grace_days],
    )
    if matched.empty:
        return
    people = list(matched["recipient_id"].unique())
    deaths = tables.cm.query(
        "SELECT * FROM deaths WHERE person_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY death_date",
        [people],
    )
    deaths_by_person = dict(tuple(deaths.groupby("person_id", sort=False)))
    names = tables.names(people)
    for pid, rows in matched.groupby("recipient_id", sort=False):
        death_date: pd.Timestamp = rows["death_date"].iloc[0]
        last = rows["paid_date"].max()
        total = float(rows["amount"].sum())
        months = _months_between(death_date, last)
        n = len(rows)
        programs = "、".join(sorted(rows["program"].dropna().unique()))
        programs_en = ", ".join(sorted(rows["program"].dropna().unique()))
        households = sorted(rows["household_id"].dropna().unique())
        name = tables.name_of(pid, names)
        severity = (
            "high" if months >= settings.high_months or total >= settings.high_amount else "medium"
        )
        day = death_date.date().isoformat()
        yield Flag(
            detector="aid.deceased_recipient",
            subject_type="person_id",
            subject_id=pid,
            severity=severity,
            score=months * total,
            entities=[pid, *households, *rows["payment_id"]],
            region_code=rows["region_code"].iloc[-1],
            evidence={
                "death_records": evidence_records(
                    deaths_by_person.get(pid, deaths.iloc[0:0]),
                    ["person_id", "death_date", "source"],
                ),
                "payments": evidence_records(
                    rows,
                    [
                        "payment_id",
                        "program",
                        "recipient_id",
                        "household_id",
                        "account_no",
                        "amount",
                        "paid_date",
                    ],
                ),
                "figures": {
                    "death_date": day,
                    "grace_days": settings.grace_days,
                    "payments_after_death": n,
                    "amount_after_death": total,
                    "last_paid_date": last.date().isoformat(),
                    "months_after_death": months,
                },
            },
            explanation={
                "zh": (
                    f"{name}（户{'、'.join(households) or '未知'}）于{day}死亡，"
                    f"宽限{settings.grace_days}天后仍领取{programs}资金{n}笔共{yuan_zh(total)}，"
                    f"最后一笔发放于{last.date().isoformat()}（死亡后{months}个月）"
                ),
                "en": (
                    f"{name} (household {', '.join(households) or 'unknown'}) died on {day}; "
                    f"{n} payment(s) of {programs_en} totalling {yuan_en(total)} were made more "
                    f"than {settings.grace_days} days later, the last on {last.date().isoformat()} "
                    f"({months} month(s) after the death)"
                ),
            },
        )
