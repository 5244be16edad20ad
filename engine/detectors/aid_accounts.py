"""``aid.shared_account``: one bank account receives aid for several households, or aid is paid into
an account held by someone other than the recipient (代领). One flag per account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.aid_registers import PAYMENTS, aid_registers
from engine.context import DetectorContext
from engine.evidence import record_list, yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import detector

__all__ = ["SharedAccountSettings", "shared_account"]


@dataclass(frozen=True)
class SharedAccountSettings:
    min_households: int = field(
        default=3,
        metadata={
            "doc": "Flag an account into which aid for at least this many distinct households is paid."
        },
    )
    household_member_may_hold: bool = field(
        default=True,
        metadata={
            "doc": "An account held by another member of the recipient's household (a spouse, a "
            "grown child) is not 代领; set false to flag any holder other than the recipient."
        },
    )


@detector(
    "aid.shared_account",
    title_zh="多户共用账户或他人代领",
    title_en="Account shared by several households, or aid collected by someone else",
    subject="account_no",
    reads=(*PAYMENTS, "Account", "HOLDS_ACCOUNT", "HOLDS_OFFICE", "Person"),
    requires=("Payment", "Household"),
    settings=SharedAccountSettings,
    partition="sql",
)
def shared_account(ctx: DetectorContext, settings: SharedAccountSettings) -> Iterator[Finding]:
    """Accounts with ``>= min_households`` distinct households among their aid payments, or whose
    holder (``bank_accounts.holder_id``) is not the recipient of payments made into them.

    Severity high when the holder is an official (``HOLDS_OFFICE``) or the account serves
    twice the household threshold; medium otherwise. Rule: aid is to be paid "by card into the
    household's own account" (the 惠民惠农财政补贴资金“一卡通” rules); an official
    collecting aid into their own account is the textbook 截留冒领 pattern.
    """
    reg = aid_registers(ctx)
    member_clause = (
        "AND NOT EXISTS (SELECT 1 FROM roster AS r WHERE r.person_id = h.holder_id "
        "AND r.household_id = p.household_id)"
        if settings.household_member_may_hold
        else ""
    )
    pay_fields = ["payment_id", "program", "recipient_id", "household_id", "amount", "paid_date",
                  "by_proxy"]  # fmt: skip
    rows = reg.rows(
        f"""
        WITH holder AS (
            SELECT account_no, min(holder_id) AS holder_id FROM (
                SELECT id AS account_no, holder_id FROM accounts WHERE holder_id IS NOT NULL
                UNION ALL SELECT dst, src FROM holds_account
            ) GROUP BY account_no
        ),
        many AS (
            SELECT account_no FROM payments WHERE account_no IS NOT NULL
            GROUP BY account_no HAVING count(DISTINCT household_id) >= ?
        ),
        proxy AS (
            SELECT DISTINCT p.payment_id, p.account_no FROM payments AS p
            JOIN holder AS h USING (account_no)
            WHERE h.holder_id <> p.recipient_id {member_clause}
        ),
        flagged AS (SELECT account_no FROM many UNION SELECT account_no FROM proxy),
        m AS (
            SELECT p.*, h.holder_id, p.payment_id IN (SELECT payment_id FROM proxy) AS by_proxy
            FROM payments AS p JOIN flagged USING (account_no)
            LEFT JOIN holder AS h USING (account_no)
        ),
        office AS (
            SELECT src AS person_id, string_agg(DISTINCT position, '、') AS position,
                   {record_list(["position", "region_code", "village"], "_line")} AS offices
            FROM (SELECT src, position, dst AS region_code, village, _table, _line FROM offices)
            GROUP BY src
        )
        SELECT m.account_no, any_value(m.holder_id) AS holder_id, count(*) AS n,
               sum(m.amount) AS total,
               arg_max(m.region_code, struct_pack(d := m.paid_date, i := m.payment_id)) AS region_code,
               list_sort(list_distinct(list(m.household_id))) AS households,
               list_sort(list_distinct(list(m.recipient_id))) AS recipients,
               list(m.payment_id ORDER BY m.paid_date, m.payment_id) AS payment_ids,
               count(*) FILTER (WHERE m.by_proxy) AS proxy_n,
               COALESCE(sum(m.amount) FILTER (WHERE m.by_proxy), 0) AS proxy_total,
               list_sort(list_distinct(list(m.recipient_id) FILTER (WHERE m.by_proxy))) AS proxy_recipients,
               {record_list(pay_fields, "m.paid_date, m.payment_id", "m._table", "m._line")} AS payments,
               any_value(o.position) AS office_position, any_value(o.offices) AS offices
        FROM m LEFT JOIN office AS o ON o.person_id = m.holder_id
        GROUP BY m.account_no ORDER BY m.account_no
        """,
        [settings.min_households],
    )
    names = reg.names(
        p for r in rows for p in [r["holder_id"], *(r["proxy_recipients"] or [])] if p
    )
    for r in rows:
        account, holder = r["account_no"], r["holder_id"]
        households = r["households"]
        total, n, proxy_n = float(r["total"]), int(r["n"]), int(r["proxy_n"])
        official = r["office_position"] is not None
        many = len(households) >= settings.min_households
        reasons = (["many_households"] if many else []) + (["proxy"] if proxy_n else [])
        high = official or len(households) >= 2 * settings.min_households
        holder_zh = reg.name_of(holder, names) if holder else "未登记"
        holder_en = reg.name_of(holder, names) if holder else "unregistered"
        zh = [
            f"账户{account}（开户人{holder_zh}）收到{len(households)}户扶贫资金{n}笔共{yuan_zh(total)}"
        ]
        en = [
            f"Account {account} (held by {holder_en}) received {n} aid payment(s) totalling "
            f"{yuan_en(total)} for {len(households)} household(s)"
        ]
        if proxy_n:
            recipients = [reg.name_of(p, names) for p in r["proxy_recipients"][:5]]
            zh.append(
                f"其中{proxy_n}笔共{yuan_zh(r['proxy_total'])}的领取人（{'、'.join(recipients)}）并非开户人"
            )
            en.append(
                f"{proxy_n} payment(s) totalling {yuan_en(r['proxy_total'])} were for recipients "
                f"other than the holder ({', '.join(recipients)})"
            )
        if official:
            zh.append(f"开户人任{r['office_position']}")
            en.append(f"the holder is an official ({r['office_position']})")
        yield Finding(
            subject_id=account,
            severity="high" if high else "medium",
            score=total * len(households),
            entities=[account, holder, *households, *r["recipients"], *r["payment_ids"]],
            region_code=r["region_code"],
            evidence={
                "reasons": reasons,
                "holder": {"person_id": holder, "name": names.get(holder) if holder else None},
                "holder_offices": r["offices"] or [],
                "payments": r["payments"],
                "figures": {
                    "households": len(households),
                    "payments": n,
                    "amount": total,
                    "proxy_payments": proxy_n,
                    "holder_is_official": official,
                },
            },
            explanation={"zh": "，".join(zh), "en": "; ".join(en)},
        )
