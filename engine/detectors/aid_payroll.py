"""``aid.public_payroll``: a household member is on the public payroll (财政供养) while the household
draws aid. One flag per household."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import iso_day, record_list, yuan_en, yuan_zh
from engine.flags import Finding
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
    subject="household_id",
    reads=(*PAYMENTS, "PayrollRecord", "Person"),
    requires=("Payment", "PayrollRecord", "Household"),
    settings=PublicPayrollSettings,
    partition="sql",
)
def public_payroll(ctx: DetectorContext, settings: PublicPayrollSettings) -> Iterator[Finding]:
    """Payroll records of roster members whose period overlaps the household's aid payments.

    The payroll period is ``[start_date, end_date]``; an open end (still employed) runs to
    ``ctx.as_of`` and an unknown start counts as "since before any payment" (the register says the
    person is or was on the payroll; the reviewer sees the blank date in the evidence). A payment
    overlaps when its date falls inside the period. Members come from the roster (heads and
    ``MEMBER_OF``). Rule: provincial identification rules for registered poor households
    (建档立卡) exclude households with a member on the public payroll (财政供养人员); 财办〔2019〕31号
    names the comparison with HR and payroll data.
    """
    reg = aid_registers(ctx)
    staff_fields = [
        "person_id",
        "employer_id",
        "position",
        "monthly_salary",
        "start_date",
        "end_date",
    ]
    pay_fields = ["payment_id", "program", "recipient_id", "amount", "paid_date"]
    rows = reg.rows(
        f"""
        WITH pr AS (
            SELECT r.household_id, pr.*, COALESCE(pr.end_date, ?::DATE) AS open_end
            FROM payroll AS pr JOIN roster AS r ON r.person_id = pr.person_id
        ),
        m AS (
            SELECT pr.household_id, pr.person_id, pr._table AS pr_table, pr._line AS pr_line,
                   p.payment_id
            FROM pr JOIN payments AS p ON p.household_id = pr.household_id
            WHERE (pr.start_date IS NULL OR p.paid_date >= pr.start_date)
              AND p.paid_date <= pr.open_end
        ),
        pays AS (
            SELECT household_id, count(*) AS n, sum(amount) AS total, min(paid_date) AS first_paid,
                   max(paid_date) AS last_paid,
                   arg_max(region_code, struct_pack(d := paid_date, i := payment_id)) AS pay_region,
                   list(payment_id ORDER BY paid_date, payment_id) AS payment_ids,
                   {record_list(pay_fields, "paid_date, payment_id")} AS payments
            FROM payments WHERE payment_id IN (SELECT payment_id FROM m)
            GROUP BY household_id
        ),
        staff AS (
            SELECT household_id, list_sort(list_distinct(list(person_id))) AS persons,
                   list_distinct(list(employer_id)) AS employers,
                   arg_min(person_id, COALESCE(start_date, DATE '0001-01-01')) AS first_person,
                   min(start_date) AS since, arg_min(position, COALESCE(start_date, DATE '0001-01-01')) AS position,
                   {record_list(staff_fields, "start_date, person_id")} AS payroll
            FROM pr WHERE (_table, _line, household_id) IN (SELECT pr_table, pr_line, household_id FROM m)
            GROUP BY household_id
        )
        SELECT s.*, p.*, h.region_code FROM staff AS s JOIN pays AS p USING (household_id)
        LEFT JOIN households AS h USING (household_id)
        ORDER BY household_id
        """,
        [ctx.as_of],
    )
    names = reg.names(r["first_person"] for r in rows)
    for r in rows:
        hh = r["household_id"]
        total, n = float(r["total"]), int(r["n"])
        name = reg.name_of(r["first_person"], names)
        since = iso_day(r["since"]) or "?"
        position = r["position"] or "—"
        first, last = iso_day(r["first_paid"]), iso_day(r["last_paid"])
        yield Finding(
            subject_id=hh,
            severity="high" if n >= settings.high_payments else "medium",
            score=total,
            entities=[hh, *r["persons"], *r["employers"], *r["payment_ids"]],
            region_code=r["region_code"] or r["pay_region"],
            evidence={
                "payroll": r["payroll"],
                "payments": r["payments"],
                "figures": {
                    "payroll_persons": len(r["persons"]),
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
