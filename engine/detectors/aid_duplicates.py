"""``aid.duplicate_benefit``: one person drawing the same programme twice, or insured twice.

One flag per person (canonical resident ID: the loaders map 15- and 18-digit forms, lower-case
``x`` and stray spaces onto one ID, so grouping by ``recipient_id`` groups by person).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.context import DetectorContext
from engine.detectors.aid_tables import aid_tables, evidence_records, yuan_en, yuan_zh
from engine.flags import Flag
from engine.registry import detector

__all__ = ["DuplicateBenefitSettings", "duplicate_benefit"]

_PERIOD_FORMATS = {"month": "%Y-%m", "year": "%Y"}
_REASON_ZH = {
    "two_households": "在不同户下重复领取",
    "two_counties": "在不同县区重复领取",
    "same_period": "同一期间重复领取",
    "insurance_regions": "在多地重复参保",
}
_REASON_EN = {
    "two_households": "paid under two or more households",
    "two_counties": "paid in two or more counties",
    "same_period": "paid twice in one period",
    "insurance_regions": "insured in two or more regions",
}


@dataclass(frozen=True)
class DuplicateBenefitSettings:
    period: str = field(
        default="month",
        metadata={
            "doc": "Period for 'twice in one period': month, quarter or year (calendar periods)."
        },
    )
    insurance_schemes: tuple[str, ...] = field(
        default=("resident_medical", "resident_pension", "employee_pension", "employee_medical"),
        metadata={"doc": "Schemes checked for enrolment in two regions at once."},
    )

    def __post_init__(self) -> None:
        if self.period not in ("month", "quarter", "year"):
            raise ValueError(f"period must be month, quarter or year, not {self.period!r}")


def _period_sql(period: str) -> str:
    if period == "quarter":
        return "strftime(paid_date, '%Y') || '-Q' || CAST(quarter(paid_date) AS VARCHAR)"
    return f"strftime(paid_date, '{_PERIOD_FORMATS[period]}')"


@detector(
    "aid.duplicate_benefit",
    title_zh="重复享受扶贫待遇",
    title_en="Same benefit drawn twice",
    requires=("Person",),
    settings=DuplicateBenefitSettings,
    subject="person_id",
)
def duplicate_benefit(ctx: DetectorContext, settings: DuplicateBenefitSettings) -> Iterator[Flag]:
    """Per (person, programme): payments under >= 2 households, in >= 2 counties (the payment's
    6-digit region), or >= 2 payments in one calendar period (month by default); per (person,
    insurance scheme): enrolments in >= 2 regions.

    Rule: Jiaozuo's cross-department matching of insured persons (47,000 duplicates, ¥10.35m of
    subsidies) and 财办〔2019〕31号 (automatic comparison across departments).
    """
    tables = aid_tables(ctx)
    period = _period_sql(settings.period)
    groups = tables.cm.query(
        f"""
        WITH p AS (SELECT *, {period} AS period FROM payments WHERE paid_date IS NOT NULL),
        per_program AS (
            SELECT recipient_id, program,
                   count(DISTINCT household_id) AS households,
                   count(DISTINCT region_code) AS counties
            FROM p GROUP BY recipient_id, program
        ),
        same_period AS (
            SELECT DISTINCT recipient_id, program, period FROM p
            GROUP BY recipient_id, program, period HAVING count(*) >= 2
        )
        SELECT p.*, pp.households >= 2 AS two_households, pp.counties >= 2 AS two_counties,
               sp.period IS NOT NULL AS same_period
        FROM p
        JOIN per_program AS pp USING (recipient_id, program)
        LEFT JOIN same_period AS sp USING (recipient_id, program, period)
        WHERE pp.households >= 2 OR pp.counties >= 2 OR sp.period IS NOT NULL
        ORDER BY p.recipient_id, p.program, p.paid_date, p.payment_id
        """
    )
    insured = tables.cm.query(
        """
        WITH i AS (SELECT src AS person_id, dst AS region_code, scheme, enrolled_date,
                          subsidy_amount, _table, _line
                   FROM insured WHERE scheme IN (SELECT unnest(?::VARCHAR[])))
        SELECT i.* FROM i JOIN (
            SELECT person_id, scheme FROM i GROUP BY person_id, scheme
            HAVING count(DISTINCT region_code) >= 2
        ) USING (person_id, scheme)
        ORDER BY person_id, scheme, enrolled_date, region_code
        """,
        [list(settings.insurance_schemes)],
    )
    pay_by = dict(tuple(groups.groupby("recipient_id", sort=False))) if len(groups) else {}
    ins_by = dict(tuple(insured.groupby("person_id", sort=False))) if len(insured) else {}
    people = sorted(set(pay_by) | set(ins_by))
    names = tables.names(people)
    empty = groups.iloc[0:0]
    for pid in people:
        pays = pay_by.get(pid, empty)
        ins = ins_by.get(pid, insured.iloc[0:0])
        reasons = [r for r in ("two_households", "two_counties", "same_period") if pays[r].any()]
        if len(ins):
            reasons.append("insurance_regions")
        name = tables.name_of(pid, names)
        total = float(pays["amount"].sum())
        subsidy = float(ins["subsidy_amount"].fillna(0).sum())
        zh_parts, en_parts = [], []
        for program, rows in pays.groupby("program", sort=True):
            hh = sorted(rows["household_id"].dropna().unique())
            counties = sorted(rows["region_code"].dropna().unique())
            doubled = sorted(rows.loc[rows["same_period"], "period"].unique())
            what = [k for k in ("two_households", "two_counties", "same_period") if rows[k].any()]
            detail_zh = "，".join(
                {"two_households": f"涉及{len(hh)}户（{'、'.join(hh)}）",
                 "two_counties": f"涉及{len(counties)}个县区（{'、'.join(counties)}）",
                 "same_period": f"{'、'.join(doubled[:6])}期间重复发放"}[k] for k in what
            )  # fmt: skip
            detail_en = "; ".join(
                {"two_households": f"{len(hh)} households ({', '.join(hh)})",
                 "two_counties": f"{len(counties)} counties ({', '.join(counties)})",
                 "same_period": f"paid twice in {', '.join(doubled[:6])}"}[k] for k in what
            )  # fmt: skip
            amount = float(rows["amount"].sum())
            zh_parts.append(f"{program}{len(rows)}笔共{yuan_zh(amount)}：{detail_zh}")
            en_parts.append(
                f"{program}: {len(rows)} payments totalling {yuan_en(amount)} ({detail_en})"
            )
        for scheme, rows in ins.groupby("scheme", sort=True):
            regions = sorted(rows["region_code"].unique())
            zh_parts.append(f"{scheme}在{len(regions)}地参保（{'、'.join(regions)}）")
            en_parts.append(f"{scheme}: insured in {len(regions)} regions ({', '.join(regions)})")
        severity = "medium" if reasons == ["same_period"] else "high"
        region = pays["region_code"].iloc[-1] if len(pays) else ins["region_code"].iloc[0]
        yield Flag(
            detector="aid.duplicate_benefit",
            subject_type="person_id",
            subject_id=pid,
            severity=severity,
            score=total + subsidy,
            entities=[pid, *pays["household_id"].dropna(), *pays["payment_id"]],
            region_code=region,
            evidence={
                "reasons": reasons,
                "payments": evidence_records(
                    pays,
                    [
                        "payment_id",
                        "program",
                        "household_id",
                        "region_code",
                        "amount",
                        "paid_date",
                        "period",
                    ],
                ),
                "insurance": evidence_records(
                    ins, ["scheme", "region_code", "enrolled_date", "subsidy_amount"]
                ),
                "figures": {
                    "payments": len(pays),
                    "amount": total,
                    "insurance_records": len(ins),
                    "insurance_subsidy": subsidy,
                    "period": settings.period,
                },
            },
            explanation={
                "zh": f"{name}{'、'.join(_REASON_ZH[r] for r in reasons)}：" + "；".join(zh_parts),
                "en": f"{name}: {', '.join(_REASON_EN[r] for r in reasons)}: "
                + "; ".join(en_parts),
            },
        )
