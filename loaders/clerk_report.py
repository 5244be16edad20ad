"""The validation report for the clerks who exported the data: what to fix, in which file and lines.

Every load with a ``rejects/`` directory writes ``validation-report.html`` and
``validation-report.xlsx`` there: per file, the lines read, loaded, rejected, duplicated, skipped
and blanked; per problem and per reason, what it means and how to fix it, with example lines and
values; the skipped title/totals rows; identity conflicts. Simplified Chinese by default, English
with ``lang="en"``. The HTML is a Jinja2 template with autoescaping (cell values are data, never
markup); the xlsx has one sheet per kind of finding (the CSV files beside it hold every row).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loaders.load import LoadReport

__all__ = ["DETAIL_LIMIT", "FIXES", "write_validation_report"]

#: rows kept per sheet of the clerks' xlsx report (the CSV files in rejects/ hold all of them)
DETAIL_LIMIT = 50_000

#: code -> (zh headline, zh fix, en headline, en fix) for reject reasons, warnings and problems
FIXES: dict[str, tuple[str, str, str, str]] = {
    "bad_row_shape": (
        "列数不对",
        "该行的字段数与表头不同：检查是否多了或少了逗号，或单元格里有未加引号的逗号。",
        "wrong number of fields",
        "The line has more or fewer fields than the header: look for extra or missing commas, or a comma inside an unquoted cell.",
    ),
    "unbalanced_quote": (
        "引号不成对",
        '该行有一个没有闭合的英文双引号（"）：删除多余的引号，或把整个单元格用一对引号括起来；后面的行已照常读取。',
        "unbalanced quote",
        'The line opens a double quote (") that is never closed: delete the stray quote or quote the whole cell; the following lines were read normally.',
    ),
    "excel_damaged_id": (
        "证件号被Excel改成了数字",
        "Excel把这一列当成数字保存，证件号变成了科学计数法（如4.10322E+17）或末三位变成000，原号码已无法从文件恢复。请把该列设置为“文本”格式后重新粘贴，或直接从业务系统导出CSV、不要用Excel打开再保存。",
        "ID damaged by Excel",
        "Excel stored the column as numbers: IDs became scientific notation (4.10322E+17) or lost their last digits (…000) and cannot be recovered from this file. Format the column as Text and paste again, or export CSV straight from the source system without saving it in Excel.",
    ),
    "missing_required": (
        "必填项为空",
        "补全该必填列。",
        "required value missing",
        "Fill in the required column.",
    ),
    "bad_checksum": (
        "校验位错误",
        "证件号或统一社会信用代码的最后一位校验码不对：核对原件后更正。",
        "wrong check character",
        "The last (check) character of the ID or credit code is wrong: check against the original document.",
    ),
    "bad_length": (
        "长度不对",
        "身份证号应为18位（或旧的15位），统一社会信用代码应为18位。",
        "wrong length",
        "A resident ID has 18 characters (or 15 for old ones); a credit code has 18.",
    ),
    "bad_birth_date": (
        "出生日期无效",
        "身份证号中的出生日期不是真实日期：核对原件。",
        "invalid birth date",
        "The birth date inside the ID is not a real date: check the original.",
    ),
    "bad_region": (
        "区划代码无效",
        "区划代码应为6位（或12位统计用代码），且省级代码存在。",
        "invalid region code",
        "A region code has 6 digits (or 12 for statistical codes) with a real province prefix.",
    ),
    "bad_charset": (
        "含非法字符",
        "统一社会信用代码不含 I、O、S、V、Z：核对原件。",
        "invalid characters",
        "Credit codes never contain I, O, S, V or Z: check the original.",
    ),
    "bad_date": (
        "日期无效",
        "日期写成 2021-03-02、2021/3/2、20210302 或 2021年3月2日。",
        "invalid date",
        "Write dates as 2021-03-02, 2021/3/2, 20210302 or 2021年3月2日.",
    ),
    "bad_amount": (
        "金额无效",
        "金额只写数字，可带千分位逗号、¥ 或单位“元/万元”。",
        "invalid amount",
        "Amounts are numbers, optionally with grouping commas, ¥ or a unit 元/万元.",
    ),
    "negative_amount": (
        "金额为负数",
        "该列不允许负数（含会计括号写法“(1,234.50)”）：核对是否为冲正或退款记录。",
        "negative amount",
        "The column forbids negatives (including accounting brackets like (1,234.50)): check whether this is a reversal.",
    ),
    "bad_pct": (
        "比例无效",
        "比例应在 0 到 100% 之间。",
        "invalid percentage",
        "Percentages lie in (0, 100%].",
    ),
    "bad_account": (
        "账号无效",
        "银行账号应为10到25位数字。",
        "invalid account number",
        "Account numbers have 10-25 digits.",
    ),
    "bad_reference": (
        "证照号码无效",
        "应为有效的身份证号或统一社会信用代码。",
        "invalid identifier",
        "Give a valid resident ID or credit code.",
    ),
    "bad_int": (
        "不是整数",
        "该列应为整数。",
        "not a whole number",
        "The column holds whole numbers.",
    ),
    "bad_float": ("不是数字", "该列应为数字。", "not a number", "The column holds numbers."),
    "bad_bool": ("是/否值无效", "写 是/否。", "invalid yes/no", "Write 是/否 (yes/no)."),
    "bad_enum": (
        "取值不在范围内",
        "只能填写规定的选项（见数据规范）。",
        "value not allowed",
        "Use one of the listed values (see the data contract).",
    ),
    "identity_conflict": (
        "同一证件号对应不同姓名",
        "同一身份证号在两条记录中姓名不同：对照身份证核实，改正错误的一条；两条记录都未被合并。",
        "one ID, two names",
        "One resident ID carries two different names: check both against the ID card and correct the wrong one; neither was merged.",
    ),
    "luhn_failed": (
        "账号校验未通过（仅提示）",
        "账号未通过Luhn校验，已加载；请核对。",
        "account fails Luhn (warning)",
        "Loaded; please check the account number.",
    ),
    "bad_phone": (
        "手机号格式异常（仅提示）",
        "已加载；请核对。",
        "unusual phone number (warning)",
        "Loaded; please check.",
    ),
    "unmapped_file": (
        "文件不属于任何表",
        "按表名命名文件（如 aid_payments_2024.csv），或放进以表名命名的文件夹，或在 manifest.yaml 中登记；不是数据的文件列在 ignore 下。",
        "file belongs to no table",
        "Name the file after its table (aid_payments_2024.csv), put it in a folder named after the table, or list it in manifest.yaml; list non-data files under ignore.",
    ),
    "unreadable_file": (
        "文件无法读取",
        "文件已损坏或编码不是 UTF-8/GB18030：重新导出。",
        "unreadable file",
        "The file is damaged or not UTF-8/GB18030 text: export it again.",
    ),
    "limit_exceeded": (
        "文件超出限制",
        "文件的列数、行数或单元格过大（常见原因：表格末尾有大量空行空列被保存）：删除多余的空行空列后重新保存；确有需要可在 manifest.yaml 的 limits 中调整。",
        "file over a limit",
        "Too many columns, rows or too large a cell (often empty rows/columns saved after the data): delete them and save again, or raise the limit in manifest.yaml.",
    ),
    "missing_column": (
        "缺少必填列",
        "表头中找不到必填列：检查表头名称（可用中文或英文列名）。",
        "required column missing",
        "A required column is not in the header: check the header names.",
    ),
    "wrong_type_column": (
        "整列格式不对",
        "整列没有一个有效值，可能是列对应错了：检查表头或 manifest.yaml 的列映射。",
        "wrong column",
        "No value in the column is valid: the column is probably mapped wrongly.",
    ),
    "ambiguous_table": (
        "同一张表有两种格式的文件",
        "只保留一个。",
        "one table in two formats",
        "Keep one of the files.",
    ),
    "missing_required_table": (
        "缺少被引用的表",
        "已加载的记录引用了这张表（如资金发放引用户编号），但没有提供该表：补充该表文件，或使用 --allow-partial 继续。",
        "referenced table missing",
        "Loaded rows refer to this table (e.g. payments to household ids) but it is missing: add it, or load with --allow-partial.",
    ),
    "duplicate_column": (
        "两列对应同一字段",
        "删除或改名其中一列。",
        "two columns for one field",
        "Delete or rename one of them.",
    ),
    "bad_manifest": (
        "manifest.yaml 有误",
        "按说明修改 manifest.yaml：文件路径必须在数据目录内，表名和列名必须是规范中的名称。",
        "manifest.yaml is wrong",
        "Fix manifest.yaml as the message says: paths stay inside the dataset directory; table and column names come from the data contract.",
    ),
    "missing_file": (
        "找不到 manifest.yaml 中列出的文件",
        "检查文件名或补充该文件。",
        "file listed in manifest.yaml not found",
        "Check the file name or add the file.",
    ),
    "missing_sheet": (
        "找不到工作表",
        "检查 manifest.yaml 中的 sheet 名称。",
        "sheet not found",
        "Check the sheet name in manifest.yaml.",
    ),
}
_SKIP_ZH = {"title": "标题行", "blank": "空行", "totals": "合计行"}

_TEXT = {
    "zh": {
        "title": "数据校验报告", "dataset": "数据目录", "when": "生成时间", "status": "结果",
        "ok": "全部文件已读取", "failed": "加载未完成：请先处理下列问题", "partial": "部分加载（--allow-partial）：下列问题未处理",
        "problems": "必须处理的问题", "files": "逐个文件", "file": "文件", "table": "表", "lines": "物理行数",
        "read": "记录", "loaded": "已加载", "rejected": "拒绝", "duplicate": "重复", "skipped": "跳过",
        "blanked": "清空单元格", "encoding": "编码", "reason": "原因", "count": "数量", "fix": "怎么改",
        "examples": "示例", "line": "行号", "column": "列", "value": "原值", "detail": "说明",
        "skipped_rows": "跳过的行（标题、空行、合计）", "kind": "类型", "text": "内容",
        "conflicts": "身份冲突（同一证件号、不同姓名）", "person_id": "身份证号", "first": "先出现的记录", "other": "冲突记录",
        "units": "按表头单位换算", "damaged": "Excel损坏的证件号列", "other_sheets": "未读取的其他工作表",
        "nothing": "没有问题。", "blanked_note": "可选列的无效值已清空，该行仍然加载。",
        "summary": "概要", "rejects_sheet": "拒绝的行", "blanked_sheet": "清空的单元格", "skipped_sheet": "跳过的行",
        "problems_sheet": "问题", "message": "说明（英文）", "truncated": "只列出前 {n:,} 行，完整清单见同目录下的CSV文件。",
    },
    "en": {
        "title": "Data validation report", "dataset": "Dataset", "when": "Written", "status": "Result",
        "ok": "Every file was read", "failed": "Load not completed: fix these problems first", "partial": "Partial load (--allow-partial): these problems remain",
        "problems": "Problems to fix", "files": "File by file", "file": "File", "table": "Table", "lines": "Physical lines",
        "read": "Records", "loaded": "Loaded", "rejected": "Rejected", "duplicate": "Duplicate", "skipped": "Skipped",
        "blanked": "Blanked cells", "encoding": "Encoding", "reason": "Reason", "count": "Count", "fix": "How to fix",
        "examples": "Examples", "line": "Line", "column": "Column", "value": "Value", "detail": "Detail",
        "skipped_rows": "Skipped rows (titles, blank lines, totals)", "kind": "Kind", "text": "Text",
        "conflicts": "Identity conflicts (one ID, two names)", "person_id": "Resident ID", "first": "First record", "other": "Conflicting record",
        "units": "Converted by header unit", "damaged": "ID columns damaged by Excel", "other_sheets": "Other sheets not read",
        "nothing": "No problems.", "blanked_note": "Invalid values of optional columns were blanked; the rows were loaded.",
        "summary": "Summary", "rejects_sheet": "Rejected rows", "blanked_sheet": "Blanked cells", "skipped_sheet": "Skipped rows",
        "problems_sheet": "Problems", "message": "Message", "truncated": "Only the first {n:,} rows are listed; the CSV files beside this report hold all of them.",
    },
}  # fmt: skip


def _fix(code: str, lang: str) -> tuple[str, str]:
    zh_h, zh_f, en_h, en_f = FIXES.get(code, (code, "", code, ""))
    return (zh_h, zh_f) if lang == "zh" else (en_h, en_f)


def _context(report: LoadReport, lang: str) -> dict[str, Any]:
    t = _TEXT[lang]
    status = t["ok"] if report.ok else (t["partial"] if report.allow_partial else t["failed"])
    problems = [
        {**p, "headline": _fix(p["code"], lang)[0], "fix": _fix(p["code"], lang)[1]}
        for p in report.problems
    ]
    files = []
    for f in report.files:
        reasons = []
        for code, count in sorted({**f.reasons, **{k: v for k, v in f.warnings.items()}}.items()):
            headline, fix = _fix(code, lang)
            reasons.append({"code": code, "count": count, "headline": headline, "fix": fix,
                            "examples": f.examples.get(code, [])})  # fmt: skip
        skipped = [
            {**s, "kind": _SKIP_ZH.get(s["kind"], s["kind"]) if lang == "zh" else s["kind"]}
            for s in f.skipped_rows[:50]
        ]
        files.append({"f": f, "reasons": reasons, "skipped": skipped,
                      "skipped_total": sum(f.skipped.values())})  # fmt: skip
    return {
        "t": t,
        "lang": lang,
        "report": report,
        "status": status,
        "problems": problems,
        "files": files,
        "conflicts": report.identity_conflicts[:500],
        "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def _html(report: LoadReport, lang: str) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("loaders", "templates"), autoescape=select_autoescape(["html"])
    )
    return env.get_template("validation_report.html").render(**_context(report, lang))


def _xlsx(
    report: LoadReport, path: Path, details: dict[str, list[dict[str, Any]]], lang: str
) -> None:
    from openpyxl import Workbook

    t = _TEXT[lang]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(t["summary"])
    ws.append([t["file"], t["table"], t["lines"], t["read"], t["loaded"], t["rejected"],
               t["duplicate"], t["skipped"], t["blanked"], t["encoding"], t["status"]])  # fmt: skip
    for f in report.files:
        ws.append([f.file, f.table, f.lines, f.read, f.loaded, f.rejected, f.duplicate,
                   sum(f.skipped.values()), f.blanked, f.encoding or "",
                   _fix(f.problem["code"], lang)[0] if f.problem else ""])  # fmt: skip
    ws = wb.create_sheet(t["problems_sheet"])
    ws.append([t["reason"], t["file"], t["table"], t["fix"], t["message"]])
    for p in report.problems:
        headline, fix = _fix(p["code"], lang)
        ws.append([headline, p["file"], p["table"], fix, p["message"]])
    for key, title, cols in (
        ("rejects", t["rejects_sheet"], ["file", "line", "reason", "column", "message"]),
        (
            "blanked",
            t["blanked_sheet"],
            ["file", "line", "column", "reason", "raw_value", "message"],
        ),
        ("skipped", t["skipped_sheet"], ["file", "line", "kind", "text"]),
    ):
        ws = wb.create_sheet(title)
        ws.append([t.get(c, c) if c not in ("reason",) else t["reason"] for c in cols]
                  + ([t["fix"]] if key != "skipped" else []))  # fmt: skip
        rows = details.get(key, [])
        for r in rows[:DETAIL_LIMIT]:
            vals = ["" if r.get(c) is None or r.get(c) != r.get(c) else r.get(c) for c in cols]
            if key != "skipped":
                vals[cols.index("reason")] = f"{_fix(str(r['reason']), lang)[0]} ({r['reason']})"
                vals.append(_fix(str(r["reason"]), lang)[1])
            elif lang == "zh":
                vals[2] = _SKIP_ZH.get(str(vals[2]), vals[2])
            ws.append([str(v)[:32000] if isinstance(v, str) else v for v in vals])
        if len(rows) >= DETAIL_LIMIT:
            ws.append([t["truncated"].format(n=DETAIL_LIMIT)])
    ws = wb.create_sheet(t["conflicts"][:31])
    ws.append([t["person_id"], t["first"], t["other"]])
    for c in report.identity_conflicts:
        a, b = c["first"], c["other"]
        ws.append([c["person_id"], f"{a['file']}:{a['line']} {a['name']}",
                   f"{b['file']}:{b['line']} {b['name']}"])  # fmt: skip
    wb.save(path)


def write_validation_report(
    report: LoadReport,
    out_dir: str | Path,
    details: dict[str, list[dict[str, Any]]] | None = None,
    lang: str = "zh",
) -> tuple[Path, Path]:
    """Write ``validation-report.html`` and ``validation-report.xlsx`` into ``out_dir``."""
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {sorted(_TEXT)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html, xlsx = out / "validation-report.html", out / "validation-report.xlsx"
    html.write_text(_html(report, lang), "utf-8")
    _xlsx(report, xlsx, details or {}, lang)
    return html, xlsx
