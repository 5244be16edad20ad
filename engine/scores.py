"""What each detector's score measures, and in which unit.

A flag's ``score`` orders the flags of one detector (higher is more urgent); it is not comparable
across detectors (2,804,230 yuan·months beside a DebtRank of 0.02). Queues, reports and exports
therefore order by severity first and by score within it, and show each score with its unit and
meaning (``riskgraph detectors`` lists them). A test checks every registered detector has one.

Examples
--------
>>> SCORES["aid.deceased_recipient"].unit_zh
'元·月'
>>> score_text("debt.gov_guarantee", "en")
'CNY 10k: the guaranteed amount'
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SCORES", "ScoreMeaning", "score_text"]


class ScoreMeaning(NamedTuple):
    """The unit of a detector's score and what it measures, in both languages."""

    unit_zh: str
    meaning_zh: str
    unit_en: str
    meaning_en: str


SCORES: dict[str, ScoreMeaning] = {
    "aid.anomaly": ScoreMeaning(
        "0–1", "异常度，与同村同类户相比越大越异常", "0–1", "anomaly against peer households"),
    "aid.asset_mismatch": ScoreMeaning(
        "件", "与贫困身份不符的车辆、房产件数（享受期间登记的另计一次）", "items",
        "vehicles and properties at odds with poverty status (those registered while enrolled count twice)"),
    "aid.deceased_recipient": ScoreMeaning(
        "元·月", "死亡后发放金额×死亡后月数", "CNY·months",
        "amount paid after death times the months since death"),
    "aid.duplicate_benefit": ScoreMeaning(
        "元", "重复领取的金额（含重复参保补贴）", "CNY",
        "amount received twice (insurance subsidies included)"),
    "aid.duplicate_enrolment": ScoreMeaning(
        "户+万元", "重复登记的户数减1，加涉及金额（万元）", "households + CNY 10k",
        "households enrolled beyond the first, plus the amount involved in CNY 10k"),
    "aid.fraud_ring": ScoreMeaning(
        "强度", "团伙强度：共同特征提升度×密度×户数", "strength",
        "ring strength: lift of the shared attributes × density × households"),
    "aid.invalid_identity": ScoreMeaning(
        "条", "问题记录条数（已据以发放资金的另加10）", "records",
        "records involved (plus 10 when money was paid on them)"),
    "aid.not_registered": ScoreMeaning(
        "元", "发给名册外人员的金额", "CNY", "amount paid to people not on the roster"),
    "aid.official_relative": ScoreMeaning(
        "关联度", "与村干部的亲属关联强度（越近越高，经办人加倍）", "link strength",
        "kinship links to village officials (closer counts more, the approving clerk double)"),
    "aid.paid_in_prison": ScoreMeaning(
        "元", "服刑期间发放的金额", "CNY", "amount paid while in prison"),
    "aid.public_payroll": ScoreMeaning(
        "元", "财政供养期间发放的金额", "CNY", "amount paid while on the public payroll"),
    "aid.shared_account": ScoreMeaning(
        "元·户", "汇入该账户的金额×共用的户数", "CNY·households",
        "amount paid into the account times the households sharing it"),
    "debt.circular_flow": ScoreMeaning(
        "万元·次", "循环资金金额（万元）×循环次数", "CNY 10k × times",
        "amount going round (CNY 10k) times the occurrences"),
    "debt.disguised_equity": ScoreMeaning(
        "万元", "项目总投资（万元），有回购、固定回报条款各加1", "CNY 10k",
        "total investment (CNY 10k), plus 1 each for a buy-back and a fixed-return clause"),
    "debt.gov_guarantee": ScoreMeaning(
        "万元", "担保金额", "CNY 10k", "the guaranteed amount"),
    "debt.hidden_chain": ScoreMeaning(
        "比例+亿元", "流向政府单位的资金占贷款本金比例（最多10），加金额（亿元）", "share + CNY 100m",
        "share of the principal flowing to government units (at most 10), plus the amount in CNY 100m"),
    "debt.improper_injection": ScoreMeaning(
        "万元", "注入的资产或资金金额", "CNY 10k", "the amount injected"),
    "debt.region_risk": ScoreMeaning(
        "倍", "债务率：（法定债务+隐性债务）/综合财力", "ratio",
        "debt ratio: (statutory + hidden debt) / comprehensive resources"),
    "debt.service_purchase_financing": ScoreMeaning(
        "万元", "以政府购买服务为还款来源的贷款本金", "CNY 10k",
        "principal of the loan repaid from a service-purchase contract"),
    "guarantee.circle": ScoreMeaning(
        "倍", "担保圈担保总额/成员净资产", "ratio", "total guaranteed / members' net assets"),
    "guarantee.contagion": ScoreMeaning(
        "0–1", "DebtRank：该企业违约时受波及的净资产比例", "0–1",
        "DebtRank: share of the network's net assets hit if this firm defaults"),
    "guarantee.excessive": ScoreMeaning(
        "条+倍", "越过的警戒线条数，加担保总额/净资产（最多10）", "lines + ratio",
        "warning lines crossed, plus total guaranteed / net assets (at most 10)"),
    "guarantee.mutual": ScoreMeaning(
        "倍+亿元", "互保金额占净资产比例，加互保金额（亿元）", "ratio + CNY 100m",
        "mutual guarantees / net assets, plus their amount in CNY 100m"),
    "guarantee.related_party": ScoreMeaning(
        "万元", "关联担保金额", "CNY 10k", "the guaranteed amount"),
    "ownership.control": ScoreMeaning(
        "—", "只计算控制关系，不产生线索", "—", "computes control, raises no flags"),
}  # fmt: skip


def score_text(detector: str, lang: str) -> str:
    """``unit: meaning`` of a detector's score in ``lang`` (``""`` for an unknown detector)."""
    m = SCORES.get(detector)
    if m is None:
        return ""
    return f"{m.unit_zh}：{m.meaning_zh}" if lang == "zh" else f"{m.unit_en}: {m.meaning_en}"
