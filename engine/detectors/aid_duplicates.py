"""``aid.duplicate_benefit``: one person drawing the same programme twice, or insured twice.

One flag per person (canonical resident ID: the loaders map 15- and 18-digit forms, lower-case
``x`` and stray spaces onto one ID, so grouping by ``recipient_id`` groups by person).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import record_list, yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import any_of, detector

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


def _period_label_sql(period: str) -> str:
    """SQL label of the period starting at ``period_start`` (2021-05, 2021-Q2, 2021)."""
    if period == "quarter":
        return "strftime(period_start, '%Y') || '-Q' || CAST(quarter(period_start) AS VARCHAR)"
    return f"strftime(period_start, '{_PERIOD_FORMATS[period]}')"


@detector(
    "aid.duplicate_benefit",
    title_zh="重复享受扶贫待遇",
    title_en="Same benefit drawn twice",
    subject="person_id",
    reads=(*PAYMENTS, "INSURED", "Person"),
    requires=(any_of("Payment", "INSURED"),),
    settings=DuplicateBenefitSettings,
    partition="sql",
)
def duplicate_benefit(
    ctx: DetectorContext, settings: DuplicateBenefitSettings
) -> Iterator[Finding]:
    """Per (person, programme): payments under >= 2 households, in >= 2 counties (the payment's
    6-digit region), or >= 2 payments in one calendar period (month by default); per (person,
    insurance scheme): enrolments in >= 2 regions.

    Rule: Jiaozuo's cross-department matching of insured persons (47,000 duplicates, ¥10.35m of
    subsidies) and 财办〔2019〕31号 (automatic comparison across departments).
    """
    reg = aid_registers(ctx)
    label = _period_label_sql(settings.period)
    pay_fields = ["payment_id", "program", "household_id", "region_code", "amount", "paid_date",
                  "period"]  # fmt: skip
    ins_fields = ["scheme", "region_code", "enrolled_date", "subsidy_amount"]
    # the payments as a subquery in each place (not a CTE: DuckDB materialises a CTE read
    # several times, 1.5 GB at a million households, which pushed the groupings to disk)
    p = f"""(
            SELECT recipient_id, program, household_id, region_code, amount, paid_date,
                   payment_id, _table, _line,
                   date_trunc('{settings.period}', paid_date) AS period_start
            FROM payments WHERE paid_date IS NOT NULL
        ) AS p"""
    rows = reg.rows(
        f"""
        WITH per_program AS (  -- one pass; min <> max is count(DISTINCT) >= 2 without the sets
            SELECT recipient_id, program,
                   COALESCE(min(household_id) <> max(household_id), false) AS two_households,
                   COALESCE(min(region_code) <> max(region_code), false) AS two_counties
            FROM {p} GROUP BY recipient_id, program
        ),
        -- twice in one period: nearly every (person, programme, period) is paid once, so the
        -- repeated keys are found first by a 64-bit hash of the key (a table of integers that
        -- fits DuckDB's memory cap; grouping the strings themselves spilled to disk at a million
        -- households, three times slower), then only the rows of repeated hashes are grouped by
        -- the key itself (a hash collision adds rows, never loses one)
        repeated AS (
            SELECT hash(recipient_id, program, period_start) AS h FROM {p}
            GROUP BY 1 HAVING count(*) >= 2
        ),
        same_period AS (
            SELECT recipient_id, program, period_start FROM {p}
            WHERE hash(recipient_id, program, period_start) IN (SELECT h FROM repeated)
            GROUP BY recipient_id, program, period_start HAVING count(*) >= 2
        ),
        flagged AS (
            SELECT pp.recipient_id, pp.program, pp.two_households, pp.two_counties
            FROM per_program AS pp
            LEFT JOIN (SELECT DISTINCT recipient_id, program FROM same_period) AS sp
              USING (recipient_id, program)
            WHERE pp.two_households OR pp.two_counties OR sp.recipient_id IS NOT NULL
        ),
        m AS (
            SELECT p.*, {label} AS period, pp.two_households, pp.two_counties,
                   sp.period_start IS NOT NULL AS same_period
            FROM {p} JOIN flagged AS pp USING (recipient_id, program)
            LEFT JOIN same_period AS sp USING (recipient_id, program, period_start)
            WHERE pp.two_households OR pp.two_counties OR sp.period_start IS NOT NULL
        ),
        programs AS (
            SELECT recipient_id, program, count(*) AS n, sum(amount) AS amount,
                   bool_or(two_households) AS two_households, bool_or(two_counties) AS two_counties,
                   bool_or(same_period) AS same_period,
                   list_sort(list_distinct(list(household_id))) AS households,
                   list_sort(list_distinct(list(region_code))) AS counties,
                   list_sort(list_distinct(list(period) FILTER (WHERE same_period))) AS periods
            FROM m GROUP BY recipient_id, program
        ),
        pay AS (
            SELECT recipient_id AS person_id, count(*) AS n, sum(amount) AS total,
                   arg_max(region_code, struct_pack(d := paid_date, i := payment_id)) AS region_code,
                   list_sort(list_distinct(list(household_id))) AS households,
                   list(payment_id ORDER BY paid_date, payment_id) AS payment_ids,
                   {record_list(pay_fields, "paid_date, payment_id")} AS payments
            FROM m GROUP BY recipient_id
        ),
        prog AS (
            SELECT recipient_id AS person_id,
                   list(struct_pack(program, n, amount, two_households, two_counties, same_period,
                                    households, counties, periods) ORDER BY program) AS programs
            FROM programs GROUP BY recipient_id
        ),
        i AS (
            SELECT src AS person_id, dst AS region_code, scheme, enrolled_date, subsidy_amount,
                   _table, _line
            FROM insured WHERE scheme IN (SELECT unnest(?::VARCHAR[]))
        ),
        dup_ins AS (
            SELECT i.* FROM i JOIN (
                SELECT person_id, scheme FROM i GROUP BY person_id, scheme
                HAVING count(DISTINCT region_code) >= 2
            ) USING (person_id, scheme)
        ),
        ins AS (
            SELECT person_id, count(*) AS ins_n, COALESCE(sum(subsidy_amount), 0) AS subsidy,
                   min(region_code) AS ins_region,
                   {record_list(ins_fields, "scheme, enrolled_date, region_code")} AS insurance
            FROM dup_ins GROUP BY person_id
        ),
        schemes AS (
            SELECT person_id, list(struct_pack(scheme, regions) ORDER BY scheme) AS schemes FROM (
                SELECT person_id, scheme, list_sort(list_distinct(list(region_code))) AS regions
                FROM dup_ins GROUP BY person_id, scheme
            ) GROUP BY person_id
        ),
        people AS (SELECT person_id FROM pay UNION SELECT person_id FROM ins)
        SELECT * FROM people LEFT JOIN pay USING (person_id) LEFT JOIN prog USING (person_id)
        LEFT JOIN ins USING (person_id) LEFT JOIN schemes USING (person_id)
        ORDER BY person_id
        """,
        [list(settings.insurance_schemes)],
    )
    names = reg.names(r["person_id"] for r in rows)
    for r in rows:
        pid = r["person_id"]
        programs = r["programs"] or []
        reasons = [
            k
            for k in ("two_households", "two_counties", "same_period")
            if any(p[k] for p in programs)
        ]
        if r["ins_n"]:
            reasons.append("insurance_regions")
        zh_parts, en_parts = [], []
        for p in programs:
            what = [k for k in ("two_households", "two_counties", "same_period") if p[k]]
            hh, counties, periods = p["households"], p["counties"], (p["periods"] or [])[:6]
            detail_zh = {
                "two_households": f"涉及{len(hh)}户（{'、'.join(hh)}）",
                "two_counties": f"涉及{len(counties)}个县区（{'、'.join(counties)}）",
                "same_period": f"{'、'.join(periods)}期间重复发放",
            }
            detail_en = {
                "two_households": f"{len(hh)} households ({', '.join(hh)})",
                "two_counties": f"{len(counties)} counties ({', '.join(counties)})",
                "same_period": f"paid twice in {', '.join(periods)}",
            }
            amount = float(p["amount"])
            zh_parts.append(
                f"{p['program']}{p['n']}笔共{yuan_zh(amount)}："
                + "，".join(detail_zh[k] for k in what)
            )
            en_parts.append(
                f"{p['program']}: {p['n']} payments totalling {yuan_en(amount)} ("
                + "; ".join(detail_en[k] for k in what)
                + ")"
            )
        for sch in r["schemes"] or []:
            regions = sch["regions"]
            zh_parts.append(f"{sch['scheme']}在{len(regions)}地参保（{'、'.join(regions)}）")
            en_parts.append(
                f"{sch['scheme']}: insured in {len(regions)} regions ({', '.join(regions)})"
            )
        total = float(r["total"] or 0.0)
        subsidy = float(r["subsidy"] or 0.0)
        name = reg.name_of(pid, names)
        yield Finding(
            subject_id=pid,
            severity="medium" if reasons == ["same_period"] else "high",
            score=total + subsidy,
            entities=[pid, *(r["households"] or []), *(r["payment_ids"] or [])],
            region_code=r["region_code"] or r["ins_region"],
            evidence={
                "reasons": reasons,
                "payments": r["payments"] or [],
                "insurance": r["insurance"] or [],
                "figures": {
                    "payments": int(r["n"] or 0),
                    "amount": total,
                    "insurance_records": int(r["ins_n"] or 0),
                    "insurance_subsidy": subsidy,
                    "period": settings.period,
                },
            },
            explanation={
                "zh": f"{name}{'、'.join(_REASON_ZH[x] for x in reasons)}：" + "；".join(zh_parts),
                "en": f"{name}: {', '.join(_REASON_EN[x] for x in reasons)}: "
                + "; ".join(en_parts),
            },
        )
