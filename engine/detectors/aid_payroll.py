"""``aid.public_payroll``: a household member is on the public payroll (财政供养) while the household
draws aid. One flag per household."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.context import DetectorContext
from engine.detectors.aid_tables import (
    aid_tables,
    evidence_records,
    iso_day,
    yuan_en,
    yuan_zh,
)
from engine.flags import Flag
from engine.registry import detector

__all__ = ["PublicPayrollSettings", "public_payroll"]


@dataclass(frozen=True)
class PublicPayrollSettings:
    high_payments: int = field(
        default=3,
        metadata={
            "doc": "Severity high when at least this many aid payments overlap the payroll period."
        },
    )


@detector(
    "aid.public_payroll",
    title_zh="财政供养人员家庭领取扶贫资金",
    title_en="Household member on the public payroll while the household draws aid",
    requires=("Payment", "PayrollRecord"),
    settings=PublicPayrollSettings,
    subject="household_id",
)
def public_payroll(ctx: DetectorContext, settings: PublicPayrollSettings) -> Iterator[Flag]:
    """Payroll records of roster members whose period overlaps the household's aid payments.

    The payroll period is ``[start_date, end_date]``; an open end (still employed) runs to
    ``ctx.as_of`` and an unknown start counts as "since before any payment" (the register says the
    person is or was on the payroll; the reviewer sees the blank date in the evidence). A payment
    overlaps when its date falls inside the period. Members come from the roster (heads and
    ``MEMBER_OF``). Rule: provincial identification rules for registered poor households
    (建档立卡) exclude households with a member on the public payroll (财政供养人员); 财办〔2019〕31号
    names the comparison with HR and payroll data.
    """
    tables = aid_tables(ctx)
    matched = tables.cm.query(
        """
        WITH pr AS (
            SELECT r.household_id, pr.person_id, pr.employer_id, pr.position, pr.monthly_salary,
                   pr.start_date, pr.end_date, COALESCE(pr.end_date, ?::DATE) AS open_end,
                   pr._table AS payroll_table, pr._line AS payroll_line
            FROM payroll AS pr JOIN roster AS r ON r.person_id = pr.person_id
        )
        SELECT pr.*, p.payment_id, p.program, p.recipient_id, p.amount, p.paid_date,
               p.region_code, p._table, p._line
        FROM pr JOIN payments AS p ON p.household_id = pr.household_id
        WHERE (pr.start_date IS NULL OR p.paid_date >= pr.start_date) AND p.paid_date <= pr.open_end
        ORDER BY pr.household_id, p.paid_date, p.payment_id
        """,
        [ctx.as_of],
    )
    if matched.empty:
        return
    households = tables.cm.query(
        "SELECT household_id, region_code FROM households WHERE household_id IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [list(matched["household_id"].unique())],
    )
    region = dict(zip(households["household_id"], households["region_code"], strict=True))
    names = tables.names(matched["person_id"].unique())
    for hh, rows in matched.groupby("household_id", sort=False):
        pays = rows.drop_duplicates("payment_id")
        staff = rows.drop_duplicates(["person_id", "payroll_table", "payroll_line"])
        total = float(pays["amount"].sum())
        n = len(pays)
        who = staff.iloc[0]
        name = tables.name_of(who["person_id"], names)
        since = iso_day(who["start_date"]) or "?"
        position = who["position"] or "—"
        payroll_records = evidence_records(
            staff.assign(_table=staff["payroll_table"], _line=staff["payroll_line"]),
            ["person_id", "employer_id", "position", "monthly_salary", "start_date", "end_date"],
        )
        first, last = iso_day(pays["paid_date"].min()), iso_day(pays["paid_date"].max())
        yield Flag(
            detector="aid.public_payroll",
            subject_type="household_id",
            subject_id=hh,
            severity="high" if n >= settings.high_payments else "medium",
            score=total,
            entities=[hh, *staff["person_id"], *staff["employer_id"].dropna(), *pays["payment_id"]],
            region_code=region.get(hh) or pays["region_code"].iloc[0],
            evidence={
                "payroll": payroll_records,
                "payments": evidence_records(
                    pays, ["payment_id", "program", "recipient_id", "amount", "paid_date"]
                ),
                "figures": {
                    "payroll_persons": int(staff["person_id"].nunique()),
                    "overlapping_payments": n,
                    "overlapping_amount": total,
                    "first_overlap": first,
                    "last_overlap": last,
                },
            },
            explanation={
                "zh": (
                    f"户{hh}成员{name}自{since}起为财政供养人员（{position}），"
                    f"同期该户于{first}至{last}领取扶贫资金{n}笔共{yuan_zh(total)}"
                ),
                "en": (
                    f"Household {hh}: member {name} has been on the public payroll since {since} "
                    f"({position}); in that period the household received {n} aid payment(s) "
                    f"totalling {yuan_en(total)} between {first} and {last}"
                ),
            },
        )
