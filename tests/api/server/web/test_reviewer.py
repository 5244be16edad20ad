"""The reviewer's first hour in a real browser (issue 17): search as you type, every evidence
record paged, a case from the queue to closed, and no untranslated key on any Chinese page.

Playwright drives Debian's chromium against the app of ``conftest.web_site``.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from api.server.state.flag_import import import_flags
from api.server.state.models import Case, CaseComment, FlagRecord, Scan
from engine.flags import Flag
from graph_models.schema import SCHEMA
from tests.api.server.web.conftest import INSPECTOR_COUNTY, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

#: A flag with more evidence records than a page shows (120 payments).
LONG_FLAG_SUBJECT = "long-evidence-test"


@pytest.fixture(scope="module")
def long_flag(web_site) -> str:
    """An aid flag in the inspector's county whose evidence lists 120 payments."""
    payments = [
        {"table": "aid_payments", "line": 1000 + i, "payment_id": f"FPX{i:04d}",
         "program": "农村低保金", "amount": 100.0 + i,
         "paid_date": f"20{20 + i // 12:02d}-{i % 12 + 1:02d}-15"}
        for i in range(120)
    ]  # fmt: skip
    flag = Flag(
        "aid.deceased_recipient", "person_id", LONG_FLAG_SUBJECT, "high", 1.0,
        entities=[], region_code=INSPECTOR_COUNTY,
        evidence={"payments": payments, "figures": {"payments_after_death": 120}},
        explanation={"zh": "测试：死亡后发放120笔", "en": "test: 120 payments after death"},
    )  # fmt: skip
    with web_site.db.write() as s:
        scan_id = s.scalars(select(Scan.id)).first()
        import_flags(s, [flag], scan_id)
    return flag.flag_id


def test_evidence_is_paged_and_every_record_reachable(page_for, web_site, long_flag):
    page = page_for("inspector")
    page.goto(f"{web_site.base_url}/web/flags/{long_flag}")
    section = page.locator(".ev-section[data-section=payments]")
    section.locator("table tbody tr").first.wait_for()
    assert section.locator("table tbody tr").count() == 50
    assert section.locator(".ev-count").inner_text() == "共120条，显示第1–50条"
    section.get_by_role("button", name="下一页").click()
    page.wait_for_function(
        "() => document.querySelector('.ev-section[data-section=payments] .ev-count')"
        ".textContent.includes('第51–100条')"
    )
    section.get_by_role("button", name="下一页").click()
    page.wait_for_function(
        "() => document.querySelector('.ev-section[data-section=payments] .ev-count')"
        ".textContent.includes('第101–120条')"
    )
    rows = section.locator("table tbody tr")
    assert rows.count() == 20
    assert "FPX0119" in rows.last.inner_text()  # the last record, not cut
    assert section.get_by_role("button", name="下一页").is_disabled()
    screenshot(page, "10-evidence-paged")


def test_search_as_you_type_from_one_chinese_character(page_for, web_site):
    page = page_for("inspector")
    box = page.get_by_label("搜索实体")
    box.fill("孟")  # one character: a place name / surname
    page.wait_for_selector("#site-search-results li a")
    hits = page.locator("#site-search-results li a").all_inner_texts()
    assert hits and any("孟" in h for h in hits)
    # a household number prefix finds households
    box.fill(INSPECTOR_COUNTY + "1")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#site-search-results li a')]"
        ".some(a => a.textContent.includes('建档立卡户'))"
    )
    screenshot(page, "11-search")
    page.locator("#site-search-results li a").first.click()
    page.wait_for_url("**/web/entities/**")
    # a debt analyst never finds persons (no personal-data clearance)
    analyst = page_for("analyst")
    analyst.get_by_label("搜索实体").fill("王")
    analyst.wait_for_selector("#site-search-results li")
    assert "自然人" not in analyst.locator("#site-search-results").inner_text()


def test_case_from_queue_to_closed(page_for, web_site):
    page = page_for("inspector")
    page.wait_for_selector("#queue tbody tr[data-flag]")
    picks = page.locator("#queue tbody input.pick")
    picks.nth(0).check()
    picks.nth(1).check()
    assert page.locator("#selected-count").inner_text() == "已选 2 条"
    page.get_by_label("案件名称").fill("孟州市死亡人员领取核查")
    page.get_by_role("button", name="用所选线索新建案件").click()
    page.wait_for_url("**/web/cases/*")
    page.wait_for_selector("#case-flags table tbody tr")
    assert page.locator("#case-flags table tbody tr").count() == 2
    page.locator("#ce-assignee").select_option("inspector")
    page.locator("#ce-status").select_option("in_progress")
    page.locator("#ce-save").click()
    page.wait_for_selector("#ce-msg.notice")
    for text in ("已调取发放凭证。", "已走访，确认死亡。"):
        page.get_by_label("添加意见").fill(text)
        page.get_by_role("button", name="发表").click()
        page.wait_for_function(
            f"() => document.getElementById('thread').textContent.includes('{text}')"
        )
    page.locator("#ce-status").select_option("closed")
    page.locator("#ce-save").click()
    page.wait_for_function(
        "() => document.getElementById('case-head').textContent.includes('已结案')"
    )
    screenshot(page, "12-case-closed")
    case_id = int(page.url.rsplit("/", 1)[1])
    with web_site.db.read() as s:
        case = s.get(Case, case_id)
        assert case.status == "closed" and case.assignee_id is not None
        assert len(case.flags) == 2
        comments = s.scalars(select(CaseComment).where(CaseComment.case_id == case_id)).all()
        assert [c.body for c in comments] == ["已调取发放凭证。", "已走访，确认死亡。"]
    page.goto(f"{web_site.base_url}/web/cases")
    page.wait_for_selector("#cases table")
    assert "孟州市死亡人员领取核查" in page.locator("#cases").inner_text()


# -- Chinese first and complete ----------------------------------------------------------------

#: Words a Chinese page may show in Latin letters: product and method names, units.
_ALLOWED = {"riskgraph", "English", "DebtRank", "PageRank", "PPP", "PDF", "HTML", "Excel", "CSV",
            "ID", "Cypher", "LGFV"}  # fmt: skip


_TYPES = set(SCHEMA.relationships)


def _english_enum_values() -> set[str]:
    import yaml

    from api.reports.i18n import vocabulary

    words = set(vocabulary("zh")["values"]) | set(vocabulary("zh")["tables"])
    from tests.api.server.web.conftest import ROOT

    doc = yaml.safe_load((ROOT / "loaders" / "contract.yaml").read_text("utf-8"))
    words |= set(doc["tables"])
    return {w for w in words if re.fullmatch(r"[a-z][a-z_]+", w)}


#: The page's visible text without its identifiers: ids, flag ids and detector codes are shown
#: as ``<code>`` (a reviewer quotes them), never as words.
_TEXT_WITHOUT_CODES = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll("code, script, style").forEach((e) => e.remove());
  document.body.appendChild(copy);
  copy.style.position = "absolute";
  const text = copy.innerText;
  copy.remove();
  return text;
}"""


def untranslated(text: str, enums: set[str]) -> list[str]:
    """snake_case keys, UPPER_CASE types and English code values in a Chinese page's text."""
    found = set(re.findall(r"(?<![A-Za-z0-9_])[a-z]+(?:_[a-z0-9]+)+(?![A-Za-z0-9_])", text))
    found |= {
        w for w in re.findall(r"(?<![A-Za-z0-9_])[A-Z][A-Z_]{2,}(?![A-Za-z0-9_])", text)
        if "_" in w or w in _TYPES  # a relationship type (plates and codes are data)
    }  # fmt: skip
    found |= {
        w for w in re.findall(r"(?<![A-Za-z0-9_.])[a-z]{3,}(?![A-Za-z0-9_.])", text) if w in enums
    }
    return sorted(found - _ALLOWED)


def test_zh_pages_and_report_show_no_untranslated_key(page_for, web_site, long_flag):
    enums = _english_enum_values()
    with web_site.db.read() as s:
        by_detector = dict(s.execute(select(FlagRecord.detector, FlagRecord.flag_id)).all())
    problems: dict[str, list[str]] = {}
    for user in ("inspector", "analyst", "admin"):
        page = page_for(user)
        urls = ["/web/flags", "/web/regions", "/web/cases"]
        if user == "admin":
            urls += ["/web/scans"] + [f"/web/flags/{f}" for f in by_detector.values()]
        for url in urls:
            page.goto(f"{web_site.base_url}{url}")
            page.wait_for_load_state("networkidle")
            page.wait_for_function("() => !document.body.innerText.includes('加载中…')")
            bad = untranslated(page.evaluate(_TEXT_WITHOUT_CODES), enums)
            # the graph's labels are drawn on a canvas: check the node list and legend instead
            if page.locator("#g-nodes").count():
                bad += untranslated(page.locator("#legend").inner_text(), enums)
            if bad:
                problems[f"{user} {url}"] = bad
        report = page.request.get(f"{web_site.base_url}/web/report.html")
        assert report.status == 200
        text = re.sub(r"<style>.*?</style>", " ", report.text(), flags=re.S)
        text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        bad = untranslated(re.sub(r"\{[^}]*\}", " ", text), enums)
        if bad:
            problems[f"{user} report"] = bad
    assert not problems, problems


def test_zh_entity_pages_are_translated(page_for, web_site):
    enums = _english_enum_values()
    page = page_for("admin")
    problems = {}
    for label in ("Person", "Household", "Enterprise", "GovUnit", "Account", "Loan", "Payment"):
        node = web_site.app.state.services.graph.store.nodes(label, ["id"])
        if not len(node):
            continue
        eid = str(node["id"].iloc[0])
        page.goto(f"{web_site.base_url}/web/entities/{eid}?label={label}")
        page.wait_for_selector("#props table")
        page.wait_for_load_state("networkidle")
        bad = untranslated(page.evaluate(_TEXT_WITHOUT_CODES), enums)
        if bad:
            problems[label] = bad
    assert not problems, problems


def test_evidence_graphs_answer_the_flags_question(page_for, web_site):
    """Payments in time order, chains top-down, cycles round; the evidence first, the rest one
    click away."""
    with web_site.db.read() as s:
        first = dict(
            s.execute(
                select(FlagRecord.detector, FlagRecord.flag_id).where(
                    FlagRecord.subject_id != LONG_FLAG_SUBJECT  # a test flag without a graph
                )
            ).all()
        )
    page = page_for("admin")
    expected = {"aid.deceased_recipient": "timeline", "debt.hidden_chain": "breadthfirst",
                "guarantee.circle": "cycle"}  # fmt: skip
    for detector, layout in expected.items():
        page.goto(f"{web_site.base_url}/web/flags/{first[detector]}")
        page.wait_for_function("() => document.getElementById('cy').dataset.layout")
        assert page.locator("#cy").get_attribute("data-layout") == layout, detector
        shown = int(page.locator("#cy").get_attribute("data-nodes"))
        total = int(page.locator("#cy").get_attribute("data-total"))
        assert 1 < shown <= total
        if shown < total:  # the rest is one click away
            page.get_by_role("button", name="显示周边关系").click()
            page.wait_for_function(
                f"() => Number(document.getElementById('cy').dataset.nodes) == {total}"
            )
        screenshot(page, f"13-graph-{detector}")
