"""``aid.duplicate_enrolment``: one person on the rosters of two households at once, whatever they draw.

The cross-matching that found Jiaozuo's 47,000 duplicate insured persons, applied to the poverty
roster: a person listed (as head or member) in two or more households whose aid periods overlap
is enrolled twice, even when the households draw different programmes (低保 in one, 产业扶贫 in
the other) -- ``aid.duplicate_benefit`` only sees the same programme paid twice. One flag per
person (canonical resident ID: 15- and 18-digit forms are one person).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import iso_day, record_list, yuan_en, yuan_zh
from engine.flags import Finding
from engine.regions import covering_region
from engine.registry import detector

__all__ = ["DuplicateEnrolmentSettings", "duplicate_enrolment"]

_RELATION_ZH = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "other": "成员",
}
_RELATION_EN = {"head": "head", "spouse": "spouse", "child": "child", "parent": "parent",
                "other": "member"}  # fmt: skip


@dataclass(frozen=True)
class DuplicateEnrolmentSettings:
    require_overlap: bool = field(
        default=True,
        metadata={
            "doc": "Count two households only when their aid periods overlap (a person who "
            "left an exited household for a new one is not enrolled twice); off: any two "
            "rosters count."
        },
    )
    high_when_head_twice: bool = field(
        default=True,
        metadata={"doc": "Severity high when the person heads two or more of the households."},
    )
    high_when_two_counties: bool = field(
        default=True,
        metadata={"doc": "Severity high when the households lie in two or more counties."},
    )
    high_when_paid_twice: bool = field(
        default=True,
        metadata={
            "doc": "Severity high when two or more of the households drew aid while the person "
            "was on both rosters."
        },
    )


@detector(
    "aid.duplicate_enrolment",
    title_zh="同一人重复纳入多户名册",
    title_en="Person enrolled in two households at once",
    subject="person_id",
    reads=(*PAYMENTS, "Person"),
    requires=("Household",),
    settings=DuplicateEnrolmentSettings,
    partition="sql",
)
def duplicate_enrolment(
    ctx: DetectorContext, settings: DuplicateEnrolmentSettings
) -> Iterator[Finding]:
    """People on the rosters (head via ``Household.head_id`` / ``HEADED_BY``, member via
    ``MEMBER_OF``) of two or more households whose aid periods overlap, whatever programmes the
    households draw. A household's aid period is that of ``aid.asset_mismatch`` (enrolment or
    first payment, to the reference date while enrolled, else to the exit date, last payment or
    enrolment); an unknown start or end counts as open. Severity high when the person heads two
    of the households, the households lie in two counties, or two of them were paid while the
    person was on both rosters (each a setting); medium otherwise. Score = extra households + aid
    paid to the households during the overlap in units of 10,000 yuan. Region: the households'
    county, or when they lie in several the smallest region covering them (city, province), so
    the flag reaches the reviewers who may see every household it names. Rule: Jiaozuo's
    cross-department matching (47,000 duplicate insured persons, ¥10.35m of subsidies) and
    财办〔2019〕31号 (automatic comparison to find fake poverty and duplicate claims).
    """
    reg = aid_registers(ctx)
    periods = reg.household_periods()
    pay_fields = ["payment_id", "household_id", "program", "recipient_id", "amount", "paid_date"]
    rows = reg.rows(
        f"""
        WITH multi AS (SELECT person_id FROM roster GROUP BY person_id HAVING count(*) >= 2),
        e AS (
            SELECT r.person_id, r.household_id, r.relation, r._table, r._line,
                   hp.period_start, hp.period_end
            FROM roster AS r JOIN {periods} AS hp USING (household_id)
            WHERE r.person_id IN (SELECT person_id FROM multi)
        ),
        pairs AS (
            SELECT a.person_id, a.household_id AS hh_a, b.household_id AS hh_b,
                   greatest(a.period_start, b.period_start) AS o_start,
                   least(a.period_end, b.period_end) AS o_end,
                   a.period_start IS NULL OR b.period_start IS NULL AS open_start,
                   a.period_end IS NULL OR b.period_end IS NULL AS open_end
            FROM e AS a JOIN e AS b
              ON a.person_id = b.person_id AND a.household_id < b.household_id
            WHERE NOT ? OR (COALESCE(a.period_start <= b.period_end, true)
                            AND COALESCE(b.period_start <= a.period_end, true))
        ),
        involved AS (  -- each household's window: while the person was also on another roster
            SELECT person_id, household_id,
                   CASE WHEN bool_or(open_start) THEN NULL ELSE min(o_start) END AS o_start,
                   CASE WHEN bool_or(open_end) THEN NULL ELSE max(o_end) END AS o_end
            FROM (SELECT person_id, hh_a AS household_id, o_start, o_end, open_start, open_end
                  FROM pairs
                  UNION ALL
                  SELECT person_id, hh_b, o_start, o_end, open_start, open_end FROM pairs)
            GROUP BY person_id, household_id
        ),
        paid AS (
            SELECT i.person_id, pay.*,
                   (i.o_start IS NULL OR pay.paid_date >= i.o_start)
                   AND (i.o_end IS NULL OR pay.paid_date <= i.o_end) AS in_overlap
            FROM involved AS i JOIN payments AS pay USING (household_id)
        ),
        drawn AS (
            SELECT person_id, household_id, list_sort(list_distinct(list(program))) AS programs,
                   count(*) FILTER (WHERE in_overlap) AS n_overlap,
                   COALESCE(sum(amount) FILTER (WHERE in_overlap), 0) AS amount_overlap
            FROM paid GROUP BY person_id, household_id
        ),
        hh AS (
            SELECT i.person_id,
                   list(struct_pack("table" := h._table, "line" := h._line,
                                    household_id := i.household_id, relation := e.relation,
                                    region_code := h.region_code, village := h.village,
                                    status := h.status, period_start := e.period_start,
                                    period_end := e.period_end,
                                    programs := COALESCE(d.programs, []),
                                    payments_during_overlap := COALESCE(d.n_overlap, 0),
                                    amount_during_overlap := COALESCE(d.amount_overlap, 0))
                        ORDER BY i.household_id) AS households,
                   {record_list(["household_id", "relation"], "household_id", "e._table", "e._line")}
                       AS roster_entries,
                   min(i.o_start) AS first_overlap, max(i.o_end) AS last_overlap
            FROM involved AS i
            JOIN e USING (person_id, household_id)
            JOIN households AS h USING (household_id)
            LEFT JOIN drawn AS d USING (person_id, household_id)
            GROUP BY i.person_id
        ),
        pays AS (
            SELECT person_id, list(payment_id ORDER BY paid_date, payment_id) AS payment_ids,
                   {record_list(pay_fields, "paid_date, payment_id")} AS payments
            FROM paid WHERE in_overlap GROUP BY person_id
        )
        SELECT * FROM hh LEFT JOIN pays USING (person_id) ORDER BY person_id
        """,
        [settings.require_overlap],
    )
    names = reg.names(r["person_id"] for r in rows)
    for r in rows:
        pid, households = r["person_id"], r["households"]
        ids = [h["household_id"] for h in households]
        counties = sorted({h["region_code"] for h in households if h["region_code"]})
        heads = [h for h in households if h["relation"] == "head"]
        paid = [h for h in households if h["payments_during_overlap"]]
        amount = float(sum(h["amount_during_overlap"] for h in households))
        n_payments = int(sum(h["payments_during_overlap"] for h in households))
        programs = sorted({p for h in households for p in h["programs"]})
        reasons = [
            reason
            for reason, on, met in (
                ("head_twice", settings.high_when_head_twice, len(heads) >= 2),
                ("two_counties", settings.high_when_two_counties, len(counties) >= 2),
                ("paid_twice", settings.high_when_paid_twice, len(paid) >= 2),
            )
            if on and met
        ]
        name = reg.name_of(pid, names)
        start, end = iso_day(r["first_overlap"]), iso_day(r["last_overlap"])
        listing_zh = "；".join(
            f"{h['household_id']}（{h['region_code']}{h['village'] or ''}，"
            f"{_RELATION_ZH.get(h['relation'], h['relation'] or '成员')}，"
            f"{'享受' + '、'.join(h['programs']) if h['programs'] else '未领取扶贫资金'}）"
            for h in households
        )
        listing_en = "; ".join(
            f"{h['household_id']} ({h['region_code']} {h['village'] or ''}".rstrip()
            + f", {_RELATION_EN.get(h['relation'], h['relation'] or 'member')}, "
            + (f"draws {', '.join(h['programs'])}" if h["programs"] else "no aid drawn")
            + ")"
            for h in households
        )
        when_zh = f"（名册重叠期{start or '不详'}至{end or '今'}）"
        when_en = f" (rosters overlap from {start or 'an unknown date'} to {end or 'now'})"
        paid_zh = (
            f"，重叠期间{len(paid)}户共领取扶贫资金{n_payments}笔{yuan_zh(amount)}" if paid else ""
        )
        paid_en = (
            f"; {len(paid)} of them received {n_payments} aid payment(s) totalling "
            f"{yuan_en(amount)} during the overlap"
            if paid
            else ""
        )
        spread_zh, spread_en = "", ""
        where = "、".join(counties)
        if len(counties) > 1 and len(heads) > 1:
            spread_zh = f"；在{len(counties)}个县区（{where}）担任{len(heads)}户户主"
            spread_en = (
                f"; heads {len(heads)} of them, in {len(counties)} counties ({', '.join(counties)})"
            )
        elif len(counties) > 1:
            spread_zh = f"；这些户分属{len(counties)}个县区（{where}）"
            spread_en = f"; the households lie in {len(counties)} counties ({', '.join(counties)})"
        elif len(heads) > 1:
            spread_zh = f"；担任其中{len(heads)}户户主"
            spread_en = f"; heads {len(heads)} of them"
        yield Finding(
            subject_id=pid,
            severity="high" if reasons else "medium",
            score=(len(households) - 1) + amount / 10_000,
            entities=[pid, *ids, *(r["payment_ids"] or [])],
            # households in several counties: the city or province covering them reviews it, so
            # a county-scoped reviewer never receives another county's households
            region_code=covering_region(counties),
            evidence={
                "reasons": reasons,
                "roster_entries": r["roster_entries"],
                "households": households,
                "payments": r["payments"] or [],
                "figures": {
                    "households": len(households),
                    "counties": len(counties),
                    "households_headed": len(heads),
                    "households_paid_during_overlap": len(paid),
                    "payments_during_overlap": n_payments,
                    "amount_during_overlap": amount,
                    "programs": programs,
                    "overlap_start": start,
                    "overlap_end": end,
                },
            },
            explanation={
                "zh": f"{name}同时列入{len(households)}户的建档立卡名册{when_zh}：{listing_zh}"
                + spread_zh
                + paid_zh,
                "en": f"{name} is on the rosters of {len(households)} households at once"
                f"{when_en}: {listing_en}" + spread_en + paid_en,
            },
        )
