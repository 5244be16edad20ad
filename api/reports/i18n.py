"""Every user-facing word of the web pages, the HTML reports and the Excel workbook, in
Simplified Chinese (default) and English: one table, so a severity or a review status reads the
same on a page, in a report and in a workbook.

Keys of the reports start with ``report_``, of the workbook with ``xlsx_``; the rest belong to
the web pages, whose templates use ``{{ t.key }}`` and whose scripts use ``t("key")`` on the
same dictionary (sent with each page). Severities (``sev_*``) and review statuses
(``status_*``) are shared by all three. A test checks both languages have the same keys and
that every key used exists.

Examples
--------
>>> STRINGS["zh"]["nav_queue"], STRINGS["en"]["nav_queue"]
('线索队列', 'Flag queue')
>>> pick_lang("en"), pick_lang("fr"), pick_lang(None)
('en', 'zh', 'zh')
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "LANGS",
    "STRINGS",
    "field_name",
    "label_name",
    "pick_lang",
    "type_name",
    "value_name",
    "vocabulary",
]

LANGS = ("zh", "en")

_PAIRS: dict[str, tuple[str, str]] = {
    # shell
    "app_name": ("riskgraph 风险线索核查", "riskgraph risk review"),
    "skip_to_main": ("跳到正文", "Skip to main content"),
    "nav_queue": ("线索队列", "Flag queue"),
    "nav_dashboard": ("区域风险", "Regional risk"),
    "nav_main": ("主导航", "Main navigation"),
    "nav_cases": ("案件", "Cases"),
    "nav_scans": ("扫描任务", "Scans"),
    "scope_national": ("全国", "whole country"),
    "search_label": ("搜索实体", "Search entities"),
    "search_placeholder": (
        "搜索姓名、身份证号、信用代码、户号、账号…",
        "Search names, IDs, credit codes, household or account numbers…",
    ),
    "search_none": ("没有找到您可查看的实体。", "No entity you may see matches."),
    "search_more": ("结果较多，请输入更多字符。", "More matches: type more to narrow them."),
    "switch_lang": ("English", "中文"),
    "switch_lang_label": ("切换为英文界面", "Switch to Chinese"),
    "sign_out": ("退出", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "scope": ("辖区", "Scope"),
    "loading": ("加载中…", "Loading…"),
    "error_loading": ("加载失败", "Could not load"),
    "none": ("无", "None"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "all": ("全部", "All"),
    # roles
    "role_debt_analyst": ("债务分析员", "Debt analyst"),
    "role_aid_inspector": ("扶贫资金核查员", "Aid inspector"),
    "role_investigator": ("调查员", "Investigator"),
    "role_admin": ("管理员", "Administrator"),
    # sign-in
    "login_title": ("登录", "Sign in"),
    "login_intro": (
        "请输入管理员发给您的访问令牌（以 rg_ 开头）。",
        "Enter the access token your administrator gave you (it starts with rg_).",
    ),
    "token_label": ("访问令牌", "Access token"),
    "login_button": ("登录", "Sign in"),
    "login_failed": (
        "令牌无效、已停用或已过期。",
        "The token is not valid, has been disabled or has expired.",
    ),
    "login_too_many": (
        "登录失败次数过多，请稍后再试。",
        "Too many failed sign-ins; please try again later.",
    ),
    "login_expired": (
        "登录页已过期，请重新提交。",
        "The sign-in page expired; please submit again.",
    ),
    "signed_out": ("您已退出。", "You have signed out."),
    # queue
    "queue_title": ("风险线索队列", "Flag queue"),
    "filters": ("筛选", "Filters"),
    "f_detector": ("检测规则", "Detector"),
    "f_family": ("类别", "Family"),
    "f_region": ("区划", "Region"),
    "f_severity": ("风险等级", "Severity"),
    "f_status": ("核查状态", "Review status"),
    "f_since": ("导入日期自", "Imported from"),
    "f_until": ("导入日期至", "Imported until"),
    "f_sort": ("排序", "Sort"),
    "sort_score_desc": ("风险等级优先，同等级得分从高到低", "Severity first, then highest score"),
    "sort_score_asc": ("风险等级优先，同等级得分从低到高", "Severity first, then lowest score"),
    "score_note": (
        "得分只在同一检测规则内可比，单位见各规则说明（鼠标悬停查看）；队列按风险等级排序。",
        "Scores compare only within one detector, each in its own unit (hover to see it); "
        "the queue is ordered by severity first.",
    ),
    "select_flag": ("选择", "Select"),
    "select_flag_n": ("选择线索 {id}", "Select flag {id}"),
    "create_case_from": ("用所选线索新建案件", "New case from the selected flags"),
    "selected_n": ("已选 {n} 条", "{n} selected"),
    "download_pdf": ("下载报告（PDF）", "Download report (PDF)"),
    "download_csv": ("导出CSV", "Export to CSV"),
    "apply_filters": ("筛选", "Apply"),
    "reset_filters": ("清除筛选", "Reset"),
    "results": ("共 {n} 条线索", "{n} flags"),
    "no_results": ("没有符合条件的线索。", "No flags match these filters."),
    "col_score": ("得分", "Score"),
    "col_severity": ("等级", "Severity"),
    "col_detector": ("检测规则", "Detector"),
    "col_region": ("区划", "Region"),
    "col_subject": ("对象", "Subject"),
    "col_explanation": ("说明", "Explanation"),
    "col_status": ("状态", "Status"),
    "col_open": ("查看", "Open"),
    "prev_page": ("上一页", "Previous"),
    "next_page": ("下一页", "Next"),
    "page_of": ("第 {a}–{b} 条", "{a}–{b}"),
    "download_report": (
        "下载报告（HTML，可打印为PDF）",
        "Download report (HTML, printable to PDF)",
    ),
    "download_xlsx": ("导出Excel", "Export to Excel"),
    "counts_by": ("分布", "Counts"),
    "family_aid": ("扶贫资金", "Poverty aid"),
    "family_debt": ("隐性债务", "Hidden debt"),
    "family_guarantee": ("担保风险", "Guarantees"),
    "family_ownership": ("股权控制", "Ownership"),
    # severity and status
    "sev_high": ("高", "High"),
    "sev_medium": ("中", "Medium"),
    "sev_low": ("低", "Low"),
    "status_open": ("待核查", "Open"),
    "status_confirmed": ("已确认", "Confirmed"),
    "status_dismissed": ("已排除", "Dismissed"),
    "status_needs_field_check": ("需实地核查", "Needs field check"),
    "status_unsupported": ("数据已不再支持", "No longer supported by the data"),
    # a flag whose evidence changed after a decision, or that the data no longer supports
    "flag_reopened": (
        "证据已变化，重新待核查（原结论：{status}）",
        "Evidence changed: open for review again (earlier decision: {status})",
    ),
    "flag_change_evidence_changed": ("证据变化", "Evidence changed"),
    "flag_change_no_longer_supported": ("数据已不再支持", "No longer supported by the data"),
    "flag_change_raised_again": ("再次发现", "Raised again"),
    # parts of a flag outside the reader's region scope (api.access.flag_scope)
    "scope_redacted": ("〔辖区外〕", "[outside your region]"),
    # flag detail
    "flag_title": ("线索详情", "Flag"),
    "back_to_queue": ("返回队列", "Back to the queue"),
    "why_flagged": ("为何被标记", "Why it was flagged"),
    "evidence": ("证据记录", "Evidence records"),
    "source": ("来源", "Source"),
    "figures": ("指标", "Figures"),
    "graph": ("关系图", "Graph"),
    "graph_hint": (
        "单击节点查看详情，双击或点“展开所选节点”加载其关联；也可用键盘在“图中节点”列表中选择。",
        "Click a node for details; double-click it or press Expand to load its neighbours. "
        "The node list below works with the keyboard.",
    ),
    "expand": ("展开所选节点", "Expand selected node"),
    "fit": ("适应窗口", "Fit to view"),
    "highlight": ("高亮路径/环", "Highlight path / cycle"),
    "highlight_none": ("不高亮", "No highlight"),
    "path_n": ("{key}：{n} 个节点", "{key}: {n} nodes"),
    "legend": ("图例", "Legend"),
    "selected": ("所选节点", "Selected node"),
    "open_entity": ("打开实体页", "Open entity page"),
    "graph_nodes": ("图中节点", "Nodes in the graph"),
    "truncated": ("（已截断）", "(truncated)"),
    "graph_truncated": (
        "关系图只画出每个实体的部分关联（如最近的发放记录）；证据记录列出全部。",
        "The graph draws part of each entity's relationships (e.g. the latest payments); the "
        "evidence records list them all.",
    ),
    "shown_of": ("共{total}条，显示第{a}–{b}条", "{a}–{b} of {total}"),
    "all_shown": ("共{total}条", "{total} in all"),
    "more_records": ("下一页", "Next page"),
    "prev_records": ("上一页", "Previous page"),
    "sequence": ("顺序", "Sequence"),
    "score_meaning": ("得分含义", "What the score measures"),
    "flag_id": ("线索编号", "Flag id"),
    "detector_code": ("规则代码", "Detector code"),
    "evidence_first": ("证据记录", "Evidence records"),
    "show_context": ("显示周边关系", "Show surrounding entities"),
    "hide_context": ("只看证据", "Evidence only"),
    "graph_evidence_note": (
        "图中先显示证据涉及的实体；点“显示周边关系”查看其余关联。",
        "The graph shows the evidence's entities first; press Show surrounding entities for the rest.",
    ),
    "decision": ("核查结论", "Decision"),
    "decision_confirmed": ("确认问题", "Confirm"),
    "decision_dismissed": ("排除（无问题）", "Dismiss"),
    "decision_needs_field_check": ("需实地核查", "Needs field check"),
    "comment": ("核查意见", "Comment"),
    "comment_help": (
        "请写明依据，例如走访情况、核对的原始凭证。",
        "State your grounds, e.g. the visit or the source documents checked.",
    ),
    "submit_decision": ("提交结论", "Submit decision"),
    "decision_saved": ("结论已保存。", "Decision saved."),
    "decision_failed": ("保存失败：", "Could not save: "),
    "choose_decision": ("请选择结论。", "Choose a decision."),
    "history": ("核查记录", "Decision history"),
    "no_history": ("尚无核查记录。", "No decisions yet."),
    "by": ("核查人", "By"),
    "at": ("时间", "When"),
    "settings_digest": ("参数摘要", "Settings digest"),
    "masked_note": (
        "部分个人信息已按您的权限脱敏。",
        "Some personal data is masked for your role.",
    ),
    # entity
    "entity_title": ("实体", "Entity"),
    "properties": ("属性", "Properties"),
    "property": ("属性", "Property"),
    "value": ("值", "Value"),
    "regions": ("所属区划", "Regions"),
    "masked_value": ("已脱敏", "masked"),
    "hidden_value": ("无权查看", "not shown for your role"),
    "neighbours": ("关联实体", "Neighbours"),
    "relationship": ("关系", "Relationship"),
    "direction": ("方向", "Direction"),
    "out": ("指向", "to"),
    "in": ("来自", "from"),
    "ownership": ("股权结构与实际控制人", "Ownership chain and controllers"),
    "direct_holders": ("直接股东", "Direct shareholders"),
    "holder": ("股东", "Holder"),
    "share_pct": ("持股比例", "Share"),
    "voting_pct": ("表决权", "Voting"),
    "controllers": ("实际控制人", "Ultimate controllers"),
    "controller": ("控制人", "Controller"),
    "control_test": ("认定依据", "Test"),
    "control_pct": ("控制比例", "Control"),
    "cash_flow_pct": ("现金流权", "Cash-flow rights"),
    "gov_linked": ("政府关联", "Government-linked"),
    "chain": ("控制链", "Chain"),
    "test_majority": ("绝对控股（>50%）", "majority (> 50 %)"),
    "test_plurality": ("相对控股（≥25%且最大）", "plurality (largest, ≥ 25 %)"),
    "no_controllers": ("未识别出实际控制人。", "No ultimate controller found."),
    "flags_involving": ("涉及该实体的线索", "Flags involving this entity"),
    # cases
    "cases_title": ("案件", "Cases"),
    "case_title": ("案件", "Case"),
    "new_case": ("新建案件", "New case"),
    "case_name": ("案件名称", "Title"),
    "case_description": ("案情说明", "Description"),
    "case_region": ("所属区划", "Region"),
    "case_assignee": ("承办人", "Assignee"),
    "case_status": ("案件状态", "Status"),
    "case_flags": ("涉及线索", "Flags"),
    "case_created": ("创建时间", "Created"),
    "case_updated": ("更新时间", "Updated"),
    "case_created_by": ("创建人", "Created by"),
    "case_save": ("保存", "Save"),
    "case_saved": ("已保存。", "Saved."),
    "case_create": ("创建案件", "Create case"),
    "case_none": ("暂无案件。", "No cases yet."),
    "case_comments": ("办理记录", "Comments"),
    "case_comment": ("添加意见", "Add a comment"),
    "case_comment_send": ("发表", "Post"),
    "case_no_comments": ("尚无意见。", "No comments yet."),
    "case_unassigned": ("未分配", "unassigned"),
    "case_add_flag": ("加入线索（编号）", "Add a flag (id)"),
    "case_add": ("加入", "Add"),
    "case_remove_flag": ("移出", "Remove"),
    "case_status_open": ("办理中", "Open"),
    "case_status_in_progress": ("调查中", "In progress"),
    "case_status_closed": ("已结案", "Closed"),
    "case_event_created": ("创建了案件", "created the case"),
    "case_event_updated": ("更新了案件", "updated the case"),
    "case_event_comment": ("发表意见", "commented"),
    # scans
    "scans_title": ("扫描任务", "Scans"),
    "scan_id": ("编号", "Id"),
    "scan_status": ("状态", "Status"),
    "scan_progress": ("进度", "Progress"),
    "scan_dataset": ("数据集", "Dataset"),
    "scan_started": ("开始", "Started"),
    "scan_finished": ("结束", "Finished"),
    "scan_flags": ("线索数", "Flags"),
    "scan_source": ("来源", "Source"),
    "scan_error": ("错误", "Error"),
    "scan_start": ("开始扫描", "Start a scan"),
    "scan_dataset_dir": (
        "数据集目录（相对服务器数据目录）",
        "Dataset directory (under the server's datasets root)",
    ),
    "scan_status_queued": ("排队中", "queued"),
    "scan_status_running": ("运行中", "running"),
    "scan_status_succeeded": ("已完成", "succeeded"),
    "scan_status_failed": ("失败", "failed"),
    "scan_source_api": ("网页/接口", "API"),
    "scan_source_import": ("导入", "import"),
    "scan_stage_load": ("装载数据", "loading"),
    "scan_stage_detect": ("运行检测规则", "running detectors"),
    "scan_stage_write": ("写出结果", "writing"),
    "scan_stage_import": ("导入线索", "importing flags"),
    # dashboard (every role: over their own regions)
    "dashboard_overview": ("区域风险概览", "Regional risk overview"),
    "dashboard_overview_intro": (
        "您辖区内可查看的线索，按县和检测规则统计。",
        "The flags you may see in your regions, by county and by detector.",
    ),
    "by_detector_title": ("各检测规则线索数（按风险等级）", "Flags by detector (by severity)"),
    "by_status_title": ("核查进度", "Review progress"),
    "dashboard_title": ("区域债务与担保风险", "Regional debt and guarantee risk"),
    "dashboard_intro": (
        "数据来自“地区债务风险预警”“担保圈”“担保链风险传染”等规则的线索及其证据。",
        "From the flags of the regional debt risk, guarantee circle and guarantee contagion "
        "detectors and their evidence.",
    ),
    "f_scope": ("范围", "Scope"),
    "debt_ratio_title": ("各县债务率（含隐性债务）", "Debt ratio by county (hidden debt included)"),
    "debt_ratio": ("债务率", "Debt ratio"),
    "grade": ("风险档", "Grade"),
    "grade_red": ("红", "red"),
    "grade_orange": ("橙", "orange"),
    "grade_yellow": ("黄", "yellow"),
    "grade_green": ("绿", "green"),
    "below_warning": ("低于预警线（未标记）", "below the warning line (not flagged)"),
    "statutory_debt": ("法定债务（万元）", "Statutory debt (CNY 10k)"),
    "hidden_debt": ("隐性债务（万元）", "Hidden debt (CNY 10k)"),
    "resources": ("综合财力（万元）", "Comprehensive resources (CNY 10k)"),
    "warning_lines": ("预警线", "Warning lines"),
    "circles_title": ("担保圈", "Guarantee circles"),
    "circle": ("担保圈", "Circle"),
    "members": ("成员数", "Members"),
    "guarantees_n": ("担保笔数", "Guarantees"),
    "total_guaranteed": ("担保总额（万元）", "Total guaranteed (CNY 10k)"),
    "leverage": ("担保/净资产", "Guaranteed / net assets"),
    "central_firm": ("核心企业", "Central firm"),
    "systemic_title": ("系统性重要企业（DebtRank）", "Most systemic firms (DebtRank)"),
    "firm": ("企业", "Firm"),
    "debtrank": ("DebtRank", "DebtRank"),
    "firms_hit": ("波及机构数", "Firms hit"),
    "expected_loss": ("预计损失（万元）", "Expected loss (CNY 10k)"),
    "flags_by_county": ("各县线索数", "Flags by county"),
    "county": ("县（市、区）", "County"),
    "count": ("数量", "Count"),
    "no_data": ("暂无数据。", "No data."),
    "chart_table_note": ("图表数据见下表。", "The chart's data is in the table below."),
    # errors
    "error_title": ("无法打开", "Cannot open"),
    "error_404": (
        "找不到该页面，或该记录不在您的权限和辖区内。",
        "Not found, or outside your role and region scope.",
    ),
    "error_403": ("您的角色无权访问此页面。", "Your role may not open this page."),
    "error_home": ("返回线索队列", "Go to the flag queue"),
    # HTML reports (riskgraph report, the queue's download)
    "report_title": ("riskgraph 风险扫描报告", "riskgraph scan report"),
    "report_generated": ("生成时间", "Generated"),
    "report_dataset": ("数据集", "Dataset"),
    "report_as_of": ("基准日", "As of"),
    "report_load": ("数据装载", "Data load"),
    "report_table": ("数据表", "Table"),
    "report_read": ("读取", "Read"),
    "report_loaded": ("装载", "Loaded"),
    "report_rejected": ("拒收", "Rejected"),
    "report_duplicate": ("重复", "Duplicate"),
    "report_dangling": ("悬空引用", "Dangling"),
    "report_balanced": ("核平", "Balanced"),
    "report_flags": ("风险线索", "Flags"),
    "report_detector": ("检测规则", "Detector"),
    "report_total": ("合计", "Total"),
    "report_top": (
        "重点线索（按得分排序，每条规则前 {n} 条）",
        "Top flags (by score, first {n} per detector)",
    ),
    "report_score": ("得分", "Score"),
    "report_severity": ("等级", "Severity"),
    "report_region": ("区划", "Region"),
    "report_explanation": ("说明", "Explanation"),
    "report_skipped": ("未运行的规则", "Detectors not run"),
    "report_reason": ("原因", "Reason"),
    "report_masked": ("身份证号已脱敏。", "Resident ID numbers are masked."),
    "report_missing": ("缺少的数据表", "Missing tables"),
    "report_by_detector": ("各规则线索数（按等级）", "Flags by detector (by severity)"),
    "report_by_region": ("各区划线索数（按等级）", "Flags by region (by severity)"),
    "report_region_table": ("分区划统计", "By region"),
    "report_top_detector": ("最多的规则", "Most frequent detector"),
    "report_region_title": ("{name}（{code}）", "{name} ({code})"),
    "report_queue_title": ("riskgraph 线索核查报告", "riskgraph flag review report"),
    "report_prepared_by": ("导出人", "Prepared by"),
    "report_filters": ("筛选条件", "Filters"),
    "report_no_filter": ("全部可见线索", "all flags you may see"),
    "report_by_status": ("核查状态", "Review status"),
    "report_status": ("状态", "Status"),
    "report_subject": ("对象", "Subject"),
    "report_latest": ("最近核查意见", "Latest decision comment"),
    "report_limited": ("仅列出前 {n} 条。", "Only the first {n} are listed."),
    "report_flag_list": ("线索清单", "Flags"),
    "report_print_hint": ("可用浏览器“打印”另存为PDF。", "Use the browser's Print to save as PDF."),
    "report_flag_id": ("线索编号", "Flag id"),
    "report_times_in": ("时间均为{zone}时间", "Times are in {zone}"),
    "report_masked_for": (
        "按您的权限，身份证号、银行账号、手机号和自然人姓名已脱敏。",
        "Resident IDs, bank accounts, phone numbers and persons' names are masked for your role.",
    ),
    "report_clear_for": (
        "您的角色可查看完整个人信息；本次导出已记入审计。",
        "Your role may see personal data in full; this export is in the audit trail.",
    ),
    "report_masked_offline": (
        "身份证号、银行账号、手机号和自然人姓名已脱敏。",
        "Resident IDs, bank accounts, phone numbers and persons' names are masked.",
    ),
    "report_score_unit": ("得分含义", "Score"),
    "report_evidence_n": ("证据{n}条", "{n} evidence records"),
    # Excel workbook (riskgraph export-flags, the queue's download): sheets and columns
    "xlsx_sheet_flags": ("线索", "Flags"),
    "xlsx_sheet_evidence": ("证据", "Evidence"),
    "xlsx_sheet_decisions": ("核查记录", "Decisions"),
    "xlsx_sheet_counts": ("统计", "By detector"),
    "xlsx_col_flag_id": ("线索编号", "Flag id"),
    "xlsx_col_detector": ("检测规则", "Detector"),
    "xlsx_col_detector_title": ("规则名称", "Detector title"),
    "xlsx_col_severity": ("风险等级", "Severity"),
    "xlsx_col_score": ("得分", "Score"),
    "xlsx_col_region": ("区划", "Region"),
    "xlsx_col_subject": ("对象", "Subject"),
    "xlsx_col_subject_type": ("对象类型", "Subject type"),
    "xlsx_col_explanation": ("说明", "Explanation"),
    "xlsx_col_explanation_other": ("说明（英文）", "Explanation (Chinese)"),
    "xlsx_col_review_status": ("核查状态", "Review status"),
    "xlsx_col_review_count": ("核查次数", "Decisions"),
    "xlsx_col_section": ("证据项", "Section"),
    "xlsx_col_row": ("序号", "Row"),
    "xlsx_col_source_table": ("来源表", "Source table"),
    "xlsx_col_source_line": ("行号", "Source line"),
    "xlsx_col_record": ("内容", "Record"),
    "xlsx_col_by": ("核查人", "By"),
    "xlsx_col_decision": ("结论", "Decision"),
    "xlsx_col_comment": ("核查意见", "Comment"),
    "xlsx_col_when": ("时间", "When"),
    "xlsx_col_score_unit": ("得分含义", "Score meaning"),
    "xlsx_col_field": ("字段", "Field"),
    "xlsx_col_value": ("值", "Value"),
    "xlsx_col_total": ("合计", "Total"),
}

STRINGS: dict[str, dict[str, str]] = {
    lang: {key: pair[i] for key, pair in _PAIRS.items()} for i, lang in enumerate(LANGS)
}


def pick_lang(value: str | None) -> str:
    """A supported language code, ``zh`` unless ``value`` names another."""
    return value if value in LANGS else "zh"


# -- the data's own words: labels, relationship types, tables, columns, evidence keys, values ---


def _humanise(key: str) -> str:
    """``death_date`` -> ``Death date`` (English names of keys nobody named)."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else key


@cache
def _vocab() -> dict[str, dict[str, dict[str, str]]]:
    """{lang: {"labels", "types", "tables", "fields", "values"}}: node labels and relationship
    types from ``graph_models/schema.yaml``, tables, columns and enum values from
    ``loaders/contract.yaml``, evidence keys and code values from ``vocabulary.yaml``."""
    import yaml

    from graph_models.schema import SCHEMA

    root = Path(__file__).resolve().parents[2]
    contract = yaml.safe_load((root / "loaders" / "contract.yaml").read_text("utf-8"))
    extra = yaml.safe_load((Path(__file__).with_name("vocabulary.yaml")).read_text("utf-8"))
    out: dict[str, dict[str, dict[str, str]]] = {
        lang: {"labels": {}, "types": {}, "tables": {}, "fields": {}, "values": {}}
        for lang in LANGS
    }
    for label, spec in SCHEMA.nodes.items():
        out["zh"]["labels"][label] = spec.zh or label
        out["en"]["labels"][label] = " ".join(_split_camel(label))
    for rtype, spec in SCHEMA.relationships.items():
        out["zh"]["types"][rtype] = spec.zh or rtype
        out["en"]["types"][rtype] = _humanise(rtype.lower())
    for name, table in contract["tables"].items():
        out["zh"]["tables"][name] = table.get("zh") or name
        out["en"]["tables"][name] = _humanise(name)
        for col, cs in table["columns"].items():
            if cs.get("zh"):
                out["zh"]["fields"].setdefault(col, cs["zh"])
            out["en"]["fields"].setdefault(col, _humanise(col))
            if isinstance(cs["type"], dict):
                for value, zh in cs["type"]["enum"].items():
                    out["zh"]["values"].setdefault(value, zh)
                    out["en"]["values"].setdefault(value, value.replace("_", " "))
    for kind in ("fields", "values"):
        for key, (zh, en) in (extra.get(kind) or {}).items():
            out["zh"][kind][key] = zh
            out["en"][kind][key] = en
    return out


def _split_camel(name: str) -> list[str]:
    words, word = [], ""
    for ch in name:
        if ch.isupper() and word:
            words.append(word)
            word = ch
        else:
            word += ch
    return [*words, word] if word else words


def vocabulary(lang: str) -> dict[str, dict[str, str]]:
    """The data's words in ``lang`` (sent to the pages' scripts with each page).

    Examples
    --------
    >>> v = vocabulary("zh")
    >>> v["labels"]["Household"], v["types"]["HEADED_BY"], v["fields"]["death_date"]
    ('建档立卡户', '户主', '死亡日期')
    >>> v["values"]["resident_medical"], vocabulary("en")["fields"]["months_after_death"]
    ('城乡居民医保', 'Months after death')
    """
    return _vocab()[pick_lang(lang)]


def label_name(label: str, lang: str) -> str:
    """A node label's name (``Household`` -> ``建档立卡户``)."""
    return vocabulary(lang)["labels"].get(label, label)


def type_name(rtype: str, lang: str) -> str:
    """A relationship type's name (``HEADED_BY`` -> ``户主``)."""
    return vocabulary(lang)["types"].get(rtype, rtype)


def field_name(key: str, lang: str) -> str:
    """A column, property or evidence key's name (``death_date`` -> ``死亡日期``)."""
    v = vocabulary(lang)
    return v["fields"].get(key) or v["tables"].get(key) or (key if lang == "zh" else _humanise(key))


def value_name(value: Any, lang: str) -> Any:
    """A code value's name (``enrolled`` -> ``在册``, ``aid_payments`` -> ``扶贫资金发放``);
    anything else as it is."""
    if not isinstance(value, str):
        return value
    v = vocabulary(lang)
    return v["values"].get(value) or v["tables"].get(value) or value
