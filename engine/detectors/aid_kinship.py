"""``aid.official_relative``: aid households that are kin of a local official or of the person who
approved their payments (优亲厚友). One flag per household."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import any_of, detector

__all__ = ["OfficialRelativeSettings", "official_relative"]


@dataclass(frozen=True)
class OfficialRelativeSettings:
    max_hops: int = field(
        default=2,
        metadata={
            "doc": "Longest kinship path (KIN relationships, either direction) to an official; 0-2."
        },
    )
    high_max_hops: int = field(
        default=1,
        metadata={
            "doc": "Severity high when the official is this close (0 = the official is a member)."
        },
    )

    def __post_init__(self) -> None:
        if not 0 <= self.max_hops <= 2:
            raise ValueError("max_hops must be 0, 1 or 2")


@detector(
    "aid.official_relative",
    title_zh="村干部或经办人亲属享受扶贫待遇",
    title_en="Aid household related to a local official or to the approver",
    subject="household_id",
    reads=(*PAYMENTS, "KIN", "HOLDS_OFFICE", "Person"),
    requires=("Household", "KIN", any_of("HOLDS_OFFICE", "Payment")),
    settings=OfficialRelativeSettings,
    partition="sql",
)
def official_relative(
    ctx: DetectorContext, settings: OfficialRelativeSettings
) -> Iterator[Finding]:
    """Roster members within ``max_hops`` kinship steps of an official or an approver.

    Kinship is undirected: ``KIN`` relationships are walked both ways. An official
    (``HOLDS_OFFICE``) counts for a household in the same county (6-digit region) and, when both
    sides name a village, the same village: a county-level post (no village) covers the county, a
    village post covers its village. An approver counts for the households whose payments they
    approved, wherever they sit. Hop 0 means the official or approver is a member of the household
    (or, for an approver, the recipient). Shortest path per (official, member) pair. Rule: the
    2018-2020 poverty-fund special inspections name "favouring relatives and friends" (优亲厚友)
    in identification and payment as a core problem.
    """
    reg = aid_registers(ctx)
    rows = reg.rows(
        """
        WITH k AS (
            SELECT src AS a, dst AS b, relation, _table, _line FROM kin
            UNION ALL SELECT dst, src, relation, _table, _line FROM kin
        ),
        officials AS (
            SELECT src AS source_id, arg_min(dst, _line) AS source_region,
                   arg_min(village, _line) AS source_village, string_agg(DISTINCT position, '、') AS position
            FROM offices WHERE src IS NOT NULL GROUP BY src
        ),
        approvals AS (
            SELECT approver_id, household_id, recipient_id, count(*) AS payments, sum(amount) AS amount
            FROM payments WHERE approver_id IS NOT NULL AND household_id IS NOT NULL
            GROUP BY approver_id, household_id, recipient_id
        ),
        seeds AS (
            SELECT source_id FROM officials UNION SELECT DISTINCT approver_id FROM approvals
        ),
        paths AS (
            SELECT source_id, source_id AS person_id, 0 AS hops, NULL AS mid_id,
                   NULL AS rel1, NULL AS rel2, NULL AS t1, NULL::BIGINT AS l1, NULL AS t2, NULL::BIGINT AS l2
            FROM seeds
            UNION ALL
            SELECT s.source_id, k.b, 1, NULL, k.relation, NULL, k._table, k._line, NULL, NULL
            FROM seeds AS s JOIN k ON k.a = s.source_id WHERE ? >= 1
            UNION ALL
            SELECT s.source_id, k2.b, 2, k1.b, k1.relation, k2.relation, k1._table, k1._line,
                   k2._table, k2._line
            FROM seeds AS s JOIN k AS k1 ON k1.a = s.source_id JOIN k AS k2 ON k2.a = k1.b
            WHERE ? >= 2 AND k2.b <> s.source_id
        ),
        shortest AS (
            SELECT source_id, person_id, min(hops) AS hops,
                   arg_min(mid_id, hops) AS mid_id, arg_min(rel1, hops) AS rel1,
                   arg_min(rel2, hops) AS rel2, arg_min(t1, hops) AS t1, arg_min(l1, hops) AS l1,
                   arg_min(t2, hops) AS t2, arg_min(l2, hops) AS l2
            FROM paths GROUP BY source_id, person_id
        ),
        by_office AS (
            SELECT r.household_id, 'official' AS role, sp.*, o.position, o.source_region,
                   o.source_village, NULL::BIGINT AS payments, NULL::DOUBLE AS amount
            FROM shortest AS sp
            JOIN officials AS o USING (source_id)
            JOIN roster AS r ON r.person_id = sp.person_id
            JOIN households AS h ON h.household_id = r.household_id
            WHERE h.region_code = o.source_region
              AND (o.source_village IS NULL OR h.village IS NULL OR o.source_village = h.village)
        ),
        member_or_recipient AS (
            SELECT a.approver_id, a.household_id, r.person_id, a.payments, a.amount
            FROM approvals AS a JOIN roster AS r USING (household_id)
            UNION
            SELECT approver_id, household_id, recipient_id, payments, amount FROM approvals
        ),
        by_approval AS (
            SELECT m.household_id, 'approver' AS role, sp.*, o.position, o.source_region,
                   o.source_village, sum(m.payments) AS payments, sum(m.amount) AS amount
            FROM shortest AS sp
            JOIN member_or_recipient AS m ON m.approver_id = sp.source_id AND m.person_id = sp.person_id
            LEFT JOIN officials AS o USING (source_id)
            GROUP BY ALL
        ),
        links AS (
            SELECT DISTINCT ON (household_id, role, source_id, person_id) *
            FROM (SELECT * FROM by_office UNION ALL SELECT * FROM by_approval)
            ORDER BY household_id, role, source_id, person_id, hops
        )
        SELECT l.household_id, any_value(h.region_code) AS region_code,
               arg_min(l.source_region, struct_pack(h := l.hops, s := l.source_id, p := l.person_id))
                   AS source_region, min(l.hops) AS closest,
               count(*) AS n, count(*) FILTER (WHERE l.role = 'approver') AS approver_links,
               COALESCE(sum(l.amount) FILTER (WHERE l.role = 'approver'), 0) AS approved,
               list(struct_pack(role := l.role, source_id := l.source_id, person_id := l.person_id,
                                hops := l.hops, mid_id := l.mid_id, rel1 := l.rel1, rel2 := l.rel2,
                                t1 := l.t1, l1 := l.l1, t2 := l.t2, l2 := l.l2,
                                position := l.position, payments := l.payments)
                    ORDER BY l.hops, l.role DESC, l.source_id, l.person_id) AS links
        FROM links AS l LEFT JOIN households AS h USING (household_id)
        GROUP BY l.household_id ORDER BY l.household_id
        """,
        [settings.max_hops, settings.max_hops],
    )
    names = reg.names(
        p
        for r in rows
        for link in r["links"]
        for p in (link["source_id"], link["person_id"], link["mid_id"])
        if p
    )
    for r in rows:
        hh = r["household_id"]
        links = r["links"]
        approver_links = int(r["approver_links"])
        high = r["closest"] <= settings.high_max_hops or approver_links > 0
        score = sum((3 - x["hops"]) * (2 if x["role"] == "approver" else 1) for x in links)
        zh_first, en_first = _sentence(links[0], names)
        approved = float(r["approved"])
        zh, en = f"户{hh}{zh_first}", f"Household {hh}: {en_first}"
        if approved:
            zh += f"；经亲属审批发放的资金共{yuan_zh(approved)}"
            en += f"; payments approved by a relative total {yuan_en(approved)}"
        if len(links) > 1:
            zh += f"；另有{len(links) - 1}条亲属关联"
            en += f"; {len(links) - 1} more kinship link(s)"
        yield Finding(
            subject_id=hh,
            severity="high" if high else "medium",
            score=float(score),
            entities=[
                hh,
                *(p for x in links for p in (x["source_id"], x["person_id"], x["mid_id"])),
            ],
            region_code=r["region_code"] or r["source_region"],
            evidence={
                "paths": [_path(x, names) for x in links],
                "figures": {
                    "links": len(links),
                    "closest_hops": int(r["closest"]),
                    "approver_links": approver_links,
                    "amount_approved_by_kin": approved,
                },
            },
            explanation={"zh": zh, "en": en},
        )


def _path(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    nodes = [row["source_id"]]
    relations = []
    records = []
    if row["hops"] >= 2:
        nodes.append(row["mid_id"])
    if row["hops"] >= 1:
        nodes.append(row["person_id"])
        relations = [r for r in (row["rel1"], row["rel2"]) if isinstance(r, str)]
        records = [
            {"table": t, "line": int(line)}
            for t, line in ((row["t1"], row["l1"]), (row["t2"], row["l2"]))
            if isinstance(t, str)
        ]
    return {
        "role": row["role"],
        "official_id": row["source_id"],
        "official_name": names.get(row["source_id"]),
        "position": row["position"] if isinstance(row["position"], str) else None,
        "member_id": row["person_id"],
        "hops": int(row["hops"]),
        "path": nodes,
        "relations": relations,
        "kin_records": records,
        "payments_approved": row["payments"],
    }


def _sentence(row: dict[str, Any], names: dict[str, str]) -> tuple[str, str]:
    official = names.get(row["source_id"], row["source_id"])
    member = names.get(row["person_id"], row["person_id"])
    position = row["position"] if isinstance(row["position"], str) else None
    if row["role"] == "approver":
        who_zh, who_en = f"经办人{official}", f"approver {official}"
    else:
        who_zh, who_en = f"{position or '干部'}{official}", f"{position or 'official'} {official}"
    hops = int(row["hops"])
    if hops == 0:
        return f"成员{member}本人即{who_zh}", f"member {member} is {who_en} themself"
    via_zh = "" if hops == 1 else f"经{names.get(row['mid_id'], row['mid_id'])}"
    via_en = "" if hops == 1 else f" through {names.get(row['mid_id'], row['mid_id'])}"
    rel = "、".join(r for r in (row["rel1"], row["rel2"]) if isinstance(r, str))
    return (
        f"成员{member}{via_zh}与{who_zh}为{hops}层亲属关系（{rel}）",
        f"member {member} is kin of {who_en} at {hops} step(s){via_en} ({rel})",
    )
