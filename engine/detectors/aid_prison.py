"""``aid.paid_in_prison``: aid paid to a person while serving a prison sentence. One flag per person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import iso_day, record_list, yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import detector

__all__ = ["PaidInPrisonSettings", "paid_in_prison"]


@dataclass(frozen=True)
class PaidInPrisonSettings:
    grace_days: int = field(
        default=0,
        metadata={"doc": "Payments up to this many days after the term began are tolerated."},
    )
    high_payments: int = field(
        default=3,
        metadata={"doc": "Severity high when at least this many payments fall inside a term."},
    )


@detector(
    "aid.paid_in_prison",
    title_zh="服刑期间领取扶贫资金",
    title_en="Aid paid while the recipient was in prison",
    subject="person_id",
    reads=(*PAYMENTS, "PrisonTerm", "Person"),
    requires=("Payment", "PrisonTerm"),
    settings=PaidInPrisonSettings,
    partition="sql",
)
def paid_in_prison(ctx: DetectorContext, settings: PaidInPrisonSettings) -> Iterator[Finding]:
    """Payments to the recipient dated inside a prison term ``[start_date + grace, end_date]``.

    An open term (no release date) runs to ``ctx.as_of``. Rule: persons serving a sentence are
    not counted as household members for subsistence aid (民政部《最低生活保障审核确认办法》);
    财办〔2019〕31号 names comparison with public-security data.
    """
    reg = aid_registers(ctx)
    pay_fields = ["payment_id", "program", "household_id", "amount", "paid_date"]
    rows = reg.rows(
        f"""
        WITH m AS (
            SELECT p.payment_id, t.person_id, t.start_date, t.end_date, t._table, t._line
            FROM payments AS p JOIN prison AS t ON p.recipient_id = t.person_id
            WHERE p.paid_date >= t.start_date + to_days(CAST(? AS INTEGER))
              AND p.paid_date <= COALESCE(t.end_date, ?::DATE)
        ),
        terms AS (
            SELECT person_id, arg_min(start_date, start_date) AS term_start,
                   arg_min(end_date, start_date) AS term_end,
                   {record_list(["start_date", "end_date"], "start_date")} AS prison_terms
            FROM (SELECT DISTINCT person_id, start_date, end_date, _table, _line FROM m)
            GROUP BY person_id
        ),
        pays AS (
            SELECT recipient_id AS person_id, count(*) AS n, sum(amount) AS total,
                   arg_max(region_code, struct_pack(d := paid_date, i := payment_id)) AS region_code,
                   list_sort(list_distinct(list(household_id))) AS households,
                   list(payment_id ORDER BY paid_date, payment_id) AS payment_ids,
                   {record_list(pay_fields, "paid_date, payment_id")} AS payments
            FROM payments WHERE payment_id IN (SELECT payment_id FROM m)
            GROUP BY recipient_id
        )
        SELECT * FROM pays JOIN terms USING (person_id) ORDER BY person_id
        """,
        [settings.grace_days, ctx.as_of],
    )
    names = reg.names(r["person_id"] for r in rows)
    for r in rows:
        pid = r["person_id"]
        total, n = float(r["total"]), int(r["n"])
        start, end = iso_day(r["term_start"]), iso_day(r["term_end"])
        name = reg.name_of(pid, names)
        yield Finding(
            subject_id=pid,
            severity="high" if n >= settings.high_payments else "medium",
            score=total,
            entities=[pid, *r["households"], *r["payment_ids"]],
            region_code=r["region_code"],
            evidence={
                "prison_terms": r["prison_terms"],
                "payments": r["payments"],
                "figures": {
                    "term_start": start,
                    "term_end": end,
                    "payments_in_prison": n,
                    "amount_in_prison": total,
                },
            },
            explanation={
                "zh": (
                    f"{name}于{start}至{end or '今'}服刑，服刑期间领取扶贫资金{n}笔共{yuan_zh(total)}"
                ),
                "en": (
                    f"{name} was in prison from {start} to {end or 'now (no release date)'} and "
                    f"received {n} aid payment(s) totalling {yuan_en(total)} during that time"
                ),
            },
        )
