"""``aid.anomaly``: households that look unlike their village peers (isolation forest on record and
graph features; see :mod:`engine.anomaly` for the method, threshold and attribution)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from engine.aid_registers import PAYMENTS, aid_registers
from engine.anomaly import score_anomalies
from engine.context import DetectorContext
from engine.evidence import yuan_en, yuan_zh
from engine.flags import Finding
from engine.registry import detector

__all__ = ["FEATURES", "AnomalySettings", "anomaly"]

#: feature -> (zh label, en label, unit kind)
FEATURES = {
    "members": ("家庭人口", "household members", "count"),
    "amount_per_member": ("人均领取金额", "aid per member", "yuan"),
    "amount_vs_norm": (
        "领取金额与同项目常规金额之比",
        "aid over the usual amount of its programmes",
        "ratio",
    ),
    "largest_vs_norm": (
        "单笔最大金额与同项目常规金额之比",
        "largest payment over its programme's usual amount",
        "ratio",
    ),
    "programs": ("享受项目数", "programmes drawn", "count"),
    "income_per_capita": ("人均纯收入", "income per capita", "yuan"),
    "account_sharing": (
        "共用收款账户的其他户数",
        "other households paid into its accounts",
        "count",
    ),
    "phone_sharing": (
        "共用成员手机号的其他户数",
        "other households sharing a member's phone",
        "count",
    ),
    "off_roster_share": ("非本户成员领取占比", "share of payments to non-members", "share"),
}


@dataclass(frozen=True)
class AnomalySettings:
    min_peers: int = field(
        default=30,
        metadata={
            "doc": "A village with fewer households than this uses its county as peer group."
        },
    )
    model_scope: str = field(
        default="fallback",
        metadata={
            "doc": "'fallback': one isolation forest per county on village-relative features "
            "(scales to a million households); 'peer': one forest per peer group (slow)."
        },
    )
    min_score: float = field(
        default=0.65,
        metadata={
            "doc": "Anomaly score line. s = 2^(-E[h]/c(psi)) (Liu et al. 2008); s >= 0.65 means "
            "E[h] <= 0.62 c(psi): the household is isolated in under two thirds of the splits an "
            "ordinary one needs (s ~ 0.5 and below is ordinary)."
        },
    )
    high_score: float = field(default=0.7, metadata={"doc": "Severity high from this score on."})
    min_feature_z: float = field(
        default=3.5,
        metadata={
            "doc": "At least one feature must deviate from the peers by |modified z| >= this."
        },
    )
    n_estimators: int = field(default=100, metadata={"doc": "Trees per forest."})
    max_samples: int = field(default=256, metadata={"doc": "Sub-sample size per tree (psi)."})
    random_state: int = field(default=42, metadata={"doc": "Seed: results are reproducible."})
    top_features: int = field(default=3, metadata={"doc": "Features quoted in the explanation."})


def _fmt(value: float | None, kind: str, lang: str) -> str:
    if value is None:
        return "—"
    if kind == "yuan":  # features are averages: whole yuan
        return yuan_zh(round(value)) if lang == "zh" else yuan_en(round(value))
    if kind == "share":
        return f"{value:.0%}"
    if kind == "ratio":
        return f"{value:,.1f}倍" if lang == "zh" else f"{value:,.1f}x"
    return f"{value:,.1f}".rstrip("0").rstrip(".")


@detector(
    "aid.anomaly",
    title_zh="与同村农户相比明显异常",
    title_en="Household unlike its village peers",
    subject="household_id",
    reads=(*PAYMENTS, "Person"),
    requires=("Household", "Payment"),
    settings=AnomalySettings,
    partition="sql",
)
def anomaly(ctx: DetectorContext, settings: AnomalySettings) -> Iterator[Finding]:
    """Isolation forest per peer group (village; county when the village is small) over
    household features: members, aid per member, aid over the usual amounts of the same
    programmes in the county (total and largest single payment; ``1`` = ordinary), programmes
    drawn, income per capita, how many households share its account and its members' phones, and
    the share of its payments made to people outside its roster. Features that do not apply (the
    amount ratios of a household paid nothing this period, the sharing of an account it does not
    have) are missing and take the peer median, so "no payments" is not itself an anomaly. The
    programme-normalised amounts
    keep a household on monthly subsistence aid from looking odd in a village where most draw
    one-off grants: what stands out is being paid more than the programme pays others. Flags households with score ``>= min_score`` and at least
    one feature at ``|modified z| >= min_feature_z``; each flag lists the features that drove it
    (path-length attribution) with the household's value and the peer median. Rule: 财办〔2019〕31号
    ("data profiling" of aid recipients).
    """
    reg = aid_registers(ctx)
    # peer groups (village, else county) and forests (per county by default) nest in the
    # county: each county is scored on its own, on Spark in a task of its own
    yield from reg.each_group(
        _FEATURE_SQL, by="region_code", order="household_id",
        fn=functools.partial(_score_county, settings=settings),
    )  # fmt: skip


_FEATURE_SQL = """
        WITH mem AS (SELECT household_id, count(*) AS members FROM roster GROUP BY household_id),
        norm AS (
            SELECT program, region_code, median(amount) AS usual FROM payments
            WHERE amount > 0 GROUP BY program, region_code
        ),
        pay AS (
            SELECT p.household_id, sum(p.amount) AS amount,
                   sum(p.amount) / nullif(sum(n.usual), 0) AS amount_vs_norm,
                   max(p.amount / nullif(n.usual, 0)) AS largest_vs_norm,
                   count(DISTINCT p.program) AS programs,
                   avg(CASE WHEN r.person_id IS NULL THEN 1.0 ELSE 0.0 END) AS off_roster_share
            FROM payments AS p
            LEFT JOIN norm AS n USING (program, region_code)
            LEFT JOIN roster AS r ON r.person_id = p.recipient_id AND r.household_id = p.household_id
            WHERE p.household_id IS NOT NULL GROUP BY p.household_id
        ),
        ha AS (SELECT DISTINCT household_id, account_no FROM payments
               WHERE account_no IS NOT NULL AND household_id IS NOT NULL),
        acct AS (SELECT account_no, count(*) AS sharing FROM ha GROUP BY account_no),
        acct_share AS (SELECT household_id, max(sharing) - 1 AS account_sharing
                       FROM ha JOIN acct USING (account_no) GROUP BY household_id),
        hp AS (SELECT DISTINCT r.household_id, p.phone FROM roster AS r
               JOIN persons AS p ON p.id = r.person_id WHERE p.phone IS NOT NULL),
        phone AS (SELECT phone, count(*) AS sharing FROM hp GROUP BY phone),
        phone_share AS (SELECT household_id, max(sharing) - 1 AS phone_sharing
                        FROM hp JOIN phone USING (phone) GROUP BY household_id)
        SELECT h.household_id, h.village_key, h.village, h.region_code, h._table, h._line,
               COALESCE(mem.members, 0) AS members,
               COALESCE(pay.amount, 0) / greatest(COALESCE(mem.members, 0), 1) AS amount_per_member,
               pay.amount_vs_norm, pay.largest_vs_norm,
               COALESCE(pay.programs, 0) AS programs,
               h.income_per_capita,
               acct_share.account_sharing, phone_share.phone_sharing,
               pay.off_roster_share
        FROM households AS h
        LEFT JOIN mem USING (household_id)
        LEFT JOIN pay USING (household_id)
        LEFT JOIN acct_share USING (household_id)
        LEFT JOIN phone_share USING (household_id)
        ORDER BY h.household_id
        """


def _score_county(frame: pd.DataFrame, settings: AnomalySettings) -> list[Finding]:
    """The findings of one county's households (``frame``: the feature rows, by household)."""
    found = []
    features = frame[list(FEATURES)].astype(float)
    result = score_anomalies(
        features,
        frame["village_key"],
        frame["region_code"],
        min_peers=settings.min_peers,
        model_scope=settings.model_scope,
        min_score=settings.min_score,
        min_feature_z=settings.min_feature_z,
        n_estimators=settings.n_estimators,
        max_samples=settings.max_samples,
        random_state=settings.random_state,
    )
    peer_sizes = result["peer_group"].map(result["peer_group"].value_counts())
    for i in result.index[result["anomalous"]]:
        row = frame.loc[i]
        hh = row["household_id"]
        score = float(result.at[i, "score"])
        contributions = result.at[i, "contributions"]
        top = contributions[: settings.top_features]
        village_level = str(result.at[i, "peer_group"]).startswith("primary:")
        peers_zh = (
            f"同村（{row['village'] or row['village_key']}）"
            if village_level
            else f"同县（{row['region_code']}）"
        )
        peers_en = (
            f"village {row['village'] or row['village_key']}"
            if village_level
            else f"county {row['region_code']}"
        )
        zh = "、".join(
            f"{FEATURES[c['feature']][0]}{_fmt(c['value'], FEATURES[c['feature']][2], 'zh')}"
            f"（中位数{_fmt(c['peer_median'], FEATURES[c['feature']][2], 'zh')}，贡献{c['share']:.0%}）"
            for c in top
        )
        en = "; ".join(
            f"{FEATURES[c['feature']][1]} {_fmt(c['value'], FEATURES[c['feature']][2], 'en')} "
            f"(peer median {_fmt(c['peer_median'], FEATURES[c['feature']][2], 'en')}, {c['share']:.0%} of the score)"
            for c in top
        )
        n_peers = int(peer_sizes.at[i])
        found.append(
            Finding(
                subject_id=hh,
                severity="high" if score >= settings.high_score else "medium",
                score=score,
                entities=[hh],
                region_code=row["region_code"],
                evidence={
                    "household": {
                        "table": row["_table"],
                        "line": None if pd.isna(row["_line"]) else int(row["_line"]),
                    },
                    "contributions": contributions,
                    "figures": {
                        "anomaly_score": score,
                        "peer_group": "village" if village_level else "county",
                        "peers": n_peers,
                        "features": {
                            f: None if pd.isna(row[f]) else float(row[f]) for f in FEATURES
                        },
                    },
                },
                explanation={
                    "zh": f"户{hh}与{peers_zh}{n_peers}户相比明显异常（异常分{score:.2f}）：{zh}",
                    "en": f"Household {hh} stands out among the {n_peers} households of its {peers_en} (anomaly score {score:.2f}): {en}",
                },
            )
        )
    return found
