"""``aid.official_relative``: aid households that are kin of a local official or of the person who
approved their payments (优亲厚友). One flag per household."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.context import DetectorContext
from engine.detectors.aid_tables import EVIDENCE_LIMIT, aid_tables, yuan_en, yuan_zh
from engine.flags import Flag
from engine.registry import detector

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
    requires=("Household", "KIN"),
    settings=OfficialRelativeSettings,
    subject="household_id",
)
def official_relative(ctx: DetectorContext, settings: OfficialRelativeSettings) -> Iterator[Flag]:
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
    tables = aid_tables(ctx)
    links = tables.cm.query(
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
        )
        SELECT * FROM by_office UNION ALL SELECT * FROM by_approval
        ORDER BY household_id, hops, role, source_id, person_id
        """,
        [settings.max_hops, settings.max_hops],
    )
    if links.empty:
        return
    households = tables.cm.query(
        "SELECT household_id, region_code, village FROM households WHERE household_id IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [list(links["household_id"].unique())],
    ).set_index("household_id")
    people = pd.unique(
        pd.concat([links["source_id"], links["person_id"], links["mid_id"]]).dropna()
    )
    names = tables.names(people)
    for hh, rows in links.groupby("household_id", sort=False):
        rows = rows.drop_duplicates(["role", "source_id", "person_id"])
        best = rows.iloc[0]
        approver = rows["role"].eq("approver")
        high = bool(rows["hops"].min() <= settings.high_max_hops or approver.any())
        score = float(((3 - rows["hops"]) * approver.map({True: 2, False: 1})).sum())
        region = households["region_code"].get(hh) if hh in households.index else None
        region = region or best["source_region"]
        paths = [_path(row, names) for row in rows.head(EVIDENCE_LIMIT).to_dict("records")]
        zh_first, en_first = _sentence(best, names)
        extra = len(rows) - 1
        approved = rows.loc[approver, "amount"].fillna(0).sum()
        zh = f"户{hh}{zh_first}"
        en = f"Household {hh}: {en_first}"
        if approved:
            zh += f"；经亲属审批发放的资金共{yuan_zh(approved)}"
            en += f"; payments approved by a relative total {yuan_en(approved)}"
        if extra:
            zh += f"；另有{extra}条亲属关联"
            en += f"; {extra} more kinship link(s)"
        yield Flag(
            detector="aid.official_relative",
            subject_type="household_id",
            subject_id=hh,
            severity="high" if high else "medium",
            score=score,
            entities=[hh, *rows["source_id"], *rows["person_id"], *rows["mid_id"].dropna()],
            region_code=region,
            evidence={
                "paths": paths,
                "figures": {
                    "links": len(rows),
                    "closest_hops": int(rows["hops"].min()),
                    "approver_links": int(approver.sum()),
                    "amount_approved_by_kin": float(approved),
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
        "payments_approved": None if pd.isna(row["payments"]) else int(row["payments"]),
    }


def _sentence(row: pd.Series, names: dict[str, str]) -> tuple[str, str]:
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
