"""``aid.invalid_identity``: fabricated rosters. Two kinds of evidence, one detector:

1. Resident IDs that fail the GB 11643 checks (checksum, length, birth date, province prefix). The
   loaders quarantine such rows (``rejects/<table>.csv`` and ``RejectedRow`` nodes); this detector
   flags them, one flag per identifier as written, listing every table and line it appears on.
2. Copy-pasted rosters: households in different villages whose member lists are identical (same
   names, relations and phones, in any order). Real families do not repeat across villages; a
   roster typed once and pasted under several household numbers does. One flag per repeated
   roster.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import ROSTER, AidRegisters, aid_registers
from engine.context import DetectorContext
from engine.evidence import record, records
from engine.flags import Finding
from engine.registry import any_of, detector
from graph_models.value_types import TYPES, InvalidValue
from loaders.contract import CONTRACT

__all__ = ["InvalidIdentitySettings", "invalid_identity", "person_id_columns"]

_REASON_ZH = {
    "bad_checksum": "校验码错误",
    "bad_length": "位数错误",
    "bad_birth_date": "出生日期无效",
    "bad_region": "地区码无效",
}


def person_id_columns() -> list[str]:
    """``table.column`` for every column the data contract types as a resident ID.

    Examples
    --------
    >>> "aid_payments.recipient_id" in person_id_columns()
    True
    """
    return sorted(
        f"{table}.{col.name}"
        for table, spec in CONTRACT.items()
        for col in spec.columns.values()
        if col.type_name == "person_id"
    )


@dataclass(frozen=True)
class InvalidIdentitySettings:
    reasons: tuple[str, ...] = field(
        default=("bad_checksum", "bad_length", "bad_birth_date", "bad_region"),
        metadata={"doc": "Reject reason codes on resident-ID columns that are flagged."},
    )
    tables: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Only rejects from these tables; empty = every table with a resident-ID column."
        },
    )
    copy_min_members: int = field(
        default=2,
        metadata={
            "doc": "A repeated roster needs at least this many members (with a phone among them)."
        },
    )
    copy_min_members_without_phone: int = field(
        default=4,
        metadata={
            "doc": "Without any phone, a repeated roster needs this many members before identical "
            "names and relations count (common names repeat by chance)."
        },
    )


@detector(
    "aid.invalid_identity",
    title_zh="身份信息无效或名册复制",
    title_en="Invalid resident IDs or copy-pasted rosters",
    subject=("raw_identifier", "roster_signature"),
    reads=(*ROSTER, "Person", "RejectedRow"),
    requires=(any_of("RejectedRow", "Household"),),
    settings=InvalidIdentitySettings,
    partition="sql",
)
def invalid_identity(ctx: DetectorContext, settings: InvalidIdentitySettings) -> Iterator[Finding]:
    """Quarantined rows whose resident-ID column failed validation, and rosters repeated across
    villages (identical sorted lists of name|relation|phone, in households of two or more
    villages; see the settings for the minimum roster size). Rule: GB 11643 (citizen identity
    number); 财办〔2019〕31号 names fake poverty through fabricated rosters.
    """
    reg = aid_registers(ctx)
    yield from _rejected_ids(reg, settings)
    yield from _copied_rosters(reg, settings)


def _region_of_raw(raw: dict, household_region: dict[str, str]) -> str | None:
    code = raw.get("region_code")
    try:
        region = TYPES["region_code"].clean(code) if code is not None else None
    except InvalidValue:
        region = None
    if region:
        return str(region)
    hh = raw.get("household_id")
    return household_region.get(str(hh).strip()) if hh is not None else None


def _rejected_ids(reg: AidRegisters, settings: InvalidIdentitySettings) -> Iterator[Finding]:
    columns = [
        c for c in person_id_columns() if not settings.tables or c.split(".")[0] in settings.tables
    ]
    rows = reg.query(
        """
        SELECT * FROM rejected
        WHERE reason IN (SELECT unnest(?::VARCHAR[]))
          AND "table" || '.' || "column" IN (SELECT unnest(?::VARCHAR[]))
          AND raw_value IS NOT NULL
        ORDER BY raw_value, "table", line
        """,
        [list(settings.reasons), columns],
    )
    if rows.empty:
        return
    parsed = [json.loads(r) if isinstance(r, str) else {} for r in rows["raw"]]
    hh_ids = {str(p.get("household_id")).strip() for p in parsed if p.get("household_id")}
    hh = reg.query(
        "SELECT household_id, region_code FROM households WHERE household_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(hh_ids)],
    )
    household_region = dict(zip(hh["household_id"], hh["region_code"], strict=True))
    # plain rows grouped in order (the query sorts by raw_value): a pandas group per identifier
    # cost a millisecond each, most of this detector's time at a million households
    plain = rows.to_dict("records")
    for row, raw in zip(plain, parsed, strict=True):
        row["raw"] = raw
    for raw_value, grouped in itertools.groupby(plain, key=lambda r: r["raw_value"]):
        group = list(grouped)
        rejects = [
            record(r, ["column", "reason", "message", "raw"], "table", "line") for r in group
        ]
        regions = [_region_of_raw(r["raw"], household_region) for r in group]
        region = next((r for r in regions if r), None)
        reasons = list(dict.fromkeys(r["reason"] for r in group))
        where = "、".join(f"{r['table']}第{int(r['line'])}行" for r in group)
        where_en = ", ".join(f"{r['table']} line {int(r['line'])}" for r in group)
        paid = any(r["table"] == "aid_payments" for r in group)
        names = [r["raw"].get("name") for r in group if r["raw"].get("name")]
        who = f"（姓名{names[0]}）" if names else ""
        who_en = f" (name {names[0]})" if names else ""
        yield Finding(
            subject_type="raw_identifier",
            subject_id=str(raw_value),
            severity="high" if paid else "medium",
            score=float(len(group)) + (10.0 if paid else 0.0),
            entities=[str(raw_value)],
            region_code=region,
            evidence={
                "kind": "invalid_id",
                "records": rejects,
                "figures": {"rows": len(group), "reasons": reasons, "in_payments": paid},
            },
            explanation={
                "zh": f"身份证号{raw_value}{who}{'、'.join(_REASON_ZH.get(r, r) for r in reasons)}，出现在{where}",
                "en": f"Resident ID {raw_value}{who_en} fails validation ({', '.join(reasons)}); it appears in {where_en}",
            },
        )


def _copied_rosters(reg: AidRegisters, settings: InvalidIdentitySettings) -> Iterator[Finding]:
    members = reg.query(
        """
        WITH m AS (
            SELECT r.household_id, r.person_id, p.name, r.relation, p.phone, p._table, p._line,
                   COALESCE(p.name, '') || '|' || COALESCE(r.relation, '') || '|' ||
                   COALESCE(p.phone, '') AS entry
            FROM roster AS r JOIN persons AS p ON p.id = r.person_id
        ),
        fingerprint AS (
            -- cheap order-free fingerprint first; exact signatures only for the candidates
            SELECT household_id, count(*) AS members, count(phone) AS phones,
                   sum(hash(entry)::HUGEINT) AS h_sum, bit_xor(hash(entry)) AS h_xor
            FROM m GROUP BY household_id
        ),
        candidates AS (
            SELECT f.household_id, f.members, f.phones FROM fingerprint AS f
            JOIN households AS h USING (household_id)
            JOIN (
                SELECT f2.members, f2.h_sum, f2.h_xor FROM fingerprint AS f2
                JOIN households AS h2 USING (household_id)
                WHERE f2.members >= ? AND (f2.phones >= 1 OR f2.members >= ?)
                GROUP BY f2.members, f2.h_sum, f2.h_xor HAVING count(DISTINCT h2.village_key) >= 2
            ) AS g USING (members, h_sum, h_xor)
        ),
        sig AS (
            SELECT household_id, string_agg(entry, ';' ORDER BY entry) AS signature
            FROM m WHERE household_id IN (SELECT household_id FROM candidates)
            GROUP BY household_id
        ),
        repeated AS (
            SELECT s.signature FROM sig AS s JOIN households AS h USING (household_id)
            GROUP BY s.signature HAVING count(DISTINCT h.village_key) >= 2
        )
        SELECT s.signature, h.household_id, h.region_code, h.village, h.village_key,
               h._table AS household_table, h._line AS household_line,
               m.person_id, m.name, m.relation, m.phone, m._table, m._line
        FROM sig AS s JOIN repeated USING (signature)
        JOIN households AS h USING (household_id)
        JOIN m USING (household_id)
        ORDER BY s.signature, h.household_id, m.entry
        """,
        [settings.copy_min_members, settings.copy_min_members_without_phone],
    )
    if members.empty:
        return
    for signature, group in members.groupby("signature", sort=False):
        subject = "roster:" + hashlib.sha256(signature.encode()).hexdigest()[:16]
        households = group.drop_duplicates("household_id")
        villages = households["village"].fillna(households["village_key"]).tolist()
        listing = group.drop_duplicates("household_id").iloc[0:1]
        first = group[group["household_id"] == listing["household_id"].iloc[0]]
        roster_zh = "、".join(
            f"{n}（{r}{'，' + p if isinstance(p, str) else ''}）"
            for n, r, p in zip(first["name"], first["relation"], first["phone"], strict=True)
        )
        roster_en = ", ".join(
            f"{n} ({r}{', ' + p if isinstance(p, str) else ''})"
            for n, r, p in zip(first["name"], first["relation"], first["phone"], strict=True)
        )
        hh_list = households["household_id"].tolist()
        pairs = "、".join(f"{h}（{v}）" for h, v in zip(hh_list, villages, strict=True))
        pairs_en = ", ".join(f"{h} ({v})" for h, v in zip(hh_list, villages, strict=True))
        yield Finding(
            subject_type="roster_signature",
            subject_id=subject,
            severity="high" if first["phone"].notna().any() else "medium",
            score=float(len(households) * len(first)),
            entities=[*hh_list, *group["person_id"]],
            region_code=households["region_code"].iloc[0],
            evidence={
                "kind": "copied_roster",
                "households": records(
                    households.assign(
                        _table=households["household_table"], _line=households["household_line"]
                    ),
                    ["household_id", "region_code", "village"],
                ),
                "members": records(
                    group, ["household_id", "person_id", "name", "relation", "phone"]
                ),
                "figures": {
                    "households": len(households),
                    "villages": int(households["village_key"].nunique()),
                    "members_per_household": len(first),
                },
            },
            explanation={
                "zh": f"{len(households)}个不同村的户（{pairs}）成员名册完全相同：{roster_zh}",
                "en": f"{len(households)} households in different villages ({pairs_en}) have identical member rosters: {roster_en}",
            },
        )
