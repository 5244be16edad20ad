"""``aid.paid_in_prison``: aid paid to a person while serving a prison sentence. One flag per person."""

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
    requires=("Payment", "PrisonTerm"),
    settings=PaidInPrisonSettings,
    subject="person_id",
)
def paid_in_prison(ctx: DetectorContext, settings: PaidInPrisonSettings) -> Iterator[Flag]:
    """Payments to the recipient dated inside a prison term ``[start_date + grace, end_date]``.

    An open term (no release date) runs to ``ctx.as_of``. Rule: persons serving a sentence are
    not counted as household members for subsistence aid (民政部《最低生活保障审核确认办法》);
    财办〔2019〕31号 names comparison with public-security data.
    """
    tables = aid_tables(ctx)
    matched = tables.cm.query(
        """
        SELECT p.*, t.start_date, t.end_date, t._table AS term_table, t._line AS term_line
        FROM payments AS p JOIN prison AS t ON p.recipient_id = t.person_id
        WHERE p.paid_date >= t.start_date + to_days(CAST(? AS INTEGER))
          AND p.paid_date <= COALESCE(t.end_date, ?::DATE)
        ORDER BY p.recipient_id, p.paid_date, p.payment_id
        """,
        [settings.grace_days, ctx.as_of],
    )
    if matched.empty:
        return
    names = tables.names(matched["recipient_id"].unique())
    for pid, rows in matched.groupby("recipient_id", sort=False):
        pays = rows.drop_duplicates("payment_id")
        terms = rows.drop_duplicates(["term_table", "term_line"])
        total = float(pays["amount"].sum())
        n = len(pays)
        term = terms.iloc[0]
        start = iso_day(term["start_date"])
        end = iso_day(term["end_date"])
        end_zh = end or "今"
        end_en = end or "now (no release date)"
        households = sorted(pays["household_id"].dropna().unique())
        name = tables.name_of(pid, names)
        yield Flag(
            detector="aid.paid_in_prison",
            subject_type="person_id",
            subject_id=pid,
            severity="high" if n >= settings.high_payments else "medium",
            score=total,
            entities=[pid, *households, *pays["payment_id"]],
            region_code=pays["region_code"].iloc[-1],
            evidence={
                "prison_terms": evidence_records(
                    terms.assign(_table=terms["term_table"], _line=terms["term_line"]),
                    ["start_date", "end_date"],
                ),
                "payments": evidence_records(
                    pays, ["payment_id", "program", "household_id", "amount", "paid_date"]
                ),
                "figures": {
                    "term_start": start,
                    "term_end": end,
                    "payments_in_prison": n,
                    "amount_in_prison": total,
                },
            },
            explanation={
                "zh": (
                    f"{name}于{start}至{end_zh}服刑，服刑期间领取扶贫资金{n}笔共{yuan_zh(total)}"
                ),
                "en": (
                    f"{name} was in prison from {start} to {end_en} and received {n} aid "
                    f"payment(s) totalling {yuan_en(total)} during that time"
                ),
            },
        )
