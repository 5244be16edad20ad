"""``aid.shared_account``: one bank account receives aid for several households, or aid is paid into
an account held by someone other than the recipient (代领). One flag per account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.context import DetectorContext
from engine.detectors.aid_tables import aid_tables, evidence_records, yuan_en, yuan_zh
from engine.flags import Flag
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
    requires=("Payment",),
    settings=SharedAccountSettings,
    subject="account_no",
)
def shared_account(ctx: DetectorContext, settings: SharedAccountSettings) -> Iterator[Flag]:
    """Accounts with ``>= min_households`` distinct households among their aid payments, or whose
    holder (``bank_accounts.holder_id``) is not the recipient of payments made into them.

    Severity high when the holder is an official (``HOLDS_OFFICE``) or the account serves
    twice the household threshold; medium otherwise. Rule: aid is to be paid "by card into the
    household's own account" (the 惠民惠农财政补贴资金“一卡通” rules); an official
    collecting aid into their own account is the textbook 截留冒领 pattern.
    """
    tables = aid_tables(ctx)
    member_clause = (
        "AND NOT EXISTS (SELECT 1 FROM roster AS r WHERE r.person_id = h.holder_id "
        "AND r.household_id = p.household_id)"
        if settings.household_member_may_hold
        else ""
    )
    matched = tables.cm.query(
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
            SELECT DISTINCT p.payment_id FROM payments AS p JOIN holder AS h USING (account_no)
            WHERE h.holder_id <> p.recipient_id {member_clause}
        ),
        flagged AS (
            SELECT account_no FROM many
            UNION SELECT account_no FROM payments WHERE payment_id IN (SELECT payment_id FROM proxy)
        )
        SELECT p.*, h.holder_id, p.payment_id IN (SELECT payment_id FROM proxy) AS by_proxy
        FROM payments AS p JOIN flagged USING (account_no) LEFT JOIN holder AS h USING (account_no)
        ORDER BY p.account_no, p.paid_date, p.payment_id
        """,
        [settings.min_households],
    )
    if matched.empty:
        return
    holders = list(matched["holder_id"].dropna().unique())
    offices = tables.cm.query(
        "SELECT src AS person_id, dst AS region_code, position, village, _table, _line "
        "FROM offices WHERE src IN (SELECT unnest(?::VARCHAR[]))",
        [holders],
    )
    office_by = dict(tuple(offices.groupby("person_id", sort=False))) if len(offices) else {}
    names = tables.names([*holders, *matched["recipient_id"].dropna().unique()])
    for account, rows in matched.groupby("account_no", sort=False):
        holder = rows["holder_id"].iloc[0]
        holder = holder if isinstance(holder, str) else None
        households = sorted(rows["household_id"].dropna().unique())
        proxy = rows[rows["by_proxy"].astype(bool)]
        office = office_by.get(holder) if holder else None
        many = len(households) >= settings.min_households
        reasons = (["many_households"] if many else []) + (["proxy"] if len(proxy) else [])
        high = office is not None or len(households) >= 2 * settings.min_households
        total = float(rows["amount"].sum())
        holder_name = tables.name_of(holder, names) if holder else "未登记"
        holder_name_en = tables.name_of(holder, names) if holder else "unregistered"
        zh = [
            f"账户{account}（开户人{holder_name}）收到{len(households)}户扶贫资金{len(rows)}笔共{yuan_zh(total)}"
        ]
        en = [
            f"Account {account} (held by {holder_name_en}) received {len(rows)} aid payment(s) totalling {yuan_en(total)} for {len(households)} household(s)"
        ]
        if len(proxy):
            recipients = sorted({tables.name_of(r, names) for r in proxy["recipient_id"]})
            zh.append(
                f"其中{len(proxy)}笔共{yuan_zh(proxy['amount'].sum())}的领取人（{'、'.join(recipients[:5])}）并非开户人"
            )
            en.append(
                f"{len(proxy)} payment(s) totalling {yuan_en(proxy['amount'].sum())} were for recipients other than the holder ({', '.join(recipients[:5])})"
            )
        if office is not None:
            position = office["position"].iloc[0]
            zh.append(f"开户人任{position}")
            en.append(f"the holder is an official ({position})")
        yield Flag(
            detector="aid.shared_account",
            subject_type="account_no",
            subject_id=account,
            severity="high" if high else "medium",
            score=total * len(households),
            entities=[account, holder, *households, *rows["recipient_id"], *rows["payment_id"]],
            region_code=rows["region_code"].iloc[0],
            evidence={
                "reasons": reasons,
                "holder": {"person_id": holder, "name": names.get(holder) if holder else None},
                "holder_offices": evidence_records(office, ["position", "region_code", "village"])
                if office is not None
                else [],
                "payments": evidence_records(
                    rows,
                    [
                        "payment_id",
                        "program",
                        "recipient_id",
                        "household_id",
                        "amount",
                        "paid_date",
                        "by_proxy",
                    ],
                ),
                "figures": {
                    "households": len(households),
                    "payments": len(rows),
                    "amount": total,
                    "proxy_payments": len(proxy),
                    "holder_is_official": office is not None,
                },
            },
            explanation={"zh": "，".join(zh), "en": "; ".join(en)},
        )
