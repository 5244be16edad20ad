"""End to end in a real browser: an aid inspector reviews a flag of their county.

Playwright drives Debian's chromium against the app served by uvicorn (see conftest). Screenshots
go to test-artifacts/web/ (gitignored).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.server.state.models import AuditEntry, FlagRecord, FlagState, ReviewDecision
from tests.api.server.web.conftest import INSPECTOR_COUNTY, OTHER_COUNTY, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _relative_luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio."""
    hi, lo = sorted((_relative_luminance(fg), _relative_luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_wcag_examples():
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


_COLOURS_JS = """
(selectors) => {
  function rgb(s) { const m = s.match(/[\\d.]+/g).map(Number); return m.slice(0, 4); }
  function background(el) {
    // composite the element's and its ancestors' backgrounds (alpha included) over white
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      const alpha = c.length < 4 ? 1 : c[3];
      if (alpha > 0) layers.push([c[0], c[1], c[2], alpha]);
      if (alpha >= 1) break;
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
    return out;
  }
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent && getComputedStyle(el).position !== "fixed") continue;
      out.push({sel, text: (el.textContent || "").trim().slice(0, 20),
                fg: rgb(getComputedStyle(el).color).slice(0, 3), bg: background(el)});
    }
  }
  return out;
}
"""


def _assert_contrast(page, selectors: list[str]) -> int:
    samples = page.evaluate(_COLOURS_JS, selectors)
    low = [
        (s["sel"], s["text"], round(contrast(tuple(s["fg"]), tuple(s["bg"])), 2))
        for s in samples
        if contrast(tuple(s["fg"]), tuple(s["bg"])) < 4.5
    ]
    assert not low, f"contrast below 4.5:1: {low}"
    return len(samples)


def _assert_controls_labelled(page) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
             .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                           && !(el.textContent || '').trim())
             .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert not unlabelled, unlabelled


def test_inspector_filters_opens_reviews_and_is_kept_in_region(page_for, web_site):
    page = page_for("inspector")
    page.wait_for_selector("#queue tbody tr[data-flag]")
    _assert_controls_labelled(page)
    # the queue shows only the inspector's county, with counts per filter
    regions = page.locator("#queue tbody tr td:nth-child(5)").all_inner_texts()
    assert regions and all(INSPECTOR_COUNTY in r for r in regions)
    severity_options = page.locator("#f-severity option").all_inner_texts()
    assert any(o.startswith("高 (") for o in severity_options)
    # filter: high severity, open
    page.get_by_label("风险等级").select_option("high")
    page.get_by_label("核查状态").select_option("open")
    page.get_by_role("button", name="筛选", exact=True).click()
    page.wait_for_url("**severity=high**")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#queue tbody tr[data-flag]')].length > 0"
        " && [...document.querySelectorAll('#queue tbody .badge.sev-medium')].length === 0"
    )
    with web_site.db.read() as s:
        expected = (
            s.query(FlagRecord)
            .join(FlagState)
            .filter(
                FlagRecord.family == "aid",
                FlagRecord.severity == "high",
                FlagState.status == "open",
                FlagRecord.region_code.like(f"{INSPECTOR_COUNTY}%"),
            )
            .count()
        )
    assert page.locator("#queue tbody tr[data-flag]").count() == min(expected, 25)
    assert page.locator("#result-count").inner_text() == f"共 {expected} 条线索"
    screenshot(page, "01-queue-inspector-filtered")
    # open the top flag
    flag_id = page.locator("#queue tbody tr[data-flag]").first.get_attribute("data-flag")
    page.locator("#queue tbody tr[data-flag]").first.locator("a").click()
    page.wait_for_url(f"**/web/flags/{flag_id}")
    page.wait_for_function(
        "() => Number(document.getElementById('cy').dataset.nodes || 0) > 0"
        " && document.querySelector('#cy canvas') !== null"
    )
    assert int(page.locator("#cy").get_attribute("data-nodes")) > 1
    assert page.locator("#explanation").inner_text().strip()
    assert page.locator("#evidence table").count() >= 1
    assert page.locator("#legend .legend-item").count() >= 2
    _assert_controls_labelled(page)
    # expand a node from the keyboard-usable node list
    before = int(page.locator("#cy").get_attribute("data-nodes"))
    options = page.locator("#g-nodes option").all()
    person = next(
        (
            o.get_attribute("value")
            for o in options
            if o.get_attribute("value", timeout=1000).startswith("Person|")
        ),
        None,
    )
    if person:
        page.get_by_label("图中节点").select_option(person)
        page.get_by_role("button", name="展开所选节点").click()
        page.wait_for_function(
            f"() => Number(document.getElementById('cy').dataset.nodes) >= {before}"
        )
    screenshot(page, "02-flag-detail-inspector")
    # decide: confirm with a comment
    page.get_by_label("确认问题").check()
    page.get_by_label("核查意见").fill("已走访核实：户主名下确有车辆，建议取消资格。")
    page.get_by_role("button", name="提交结论").click()
    page.wait_for_selector("#decision-msg.notice")
    page.wait_for_selector("#history li strong")
    assert "inspector" in page.locator("#history").inner_text()
    screenshot(page, "03-flag-confirmed")
    with web_site.db.read() as s:
        assert s.get(FlagState, flag_id).status == "confirmed"
        review = s.scalars(select(ReviewDecision).where(ReviewDecision.flag_id == flag_id)).one()
        assert review.user_name == "inspector" and "建议取消资格" in review.comment
        audit = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "review", AuditEntry.resource == f"flag {flag_id}"
            )
        ).one()
        assert audit.actor == "inspector" and "confirmed" in audit.detail
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "web_sign_in")).first()
    # an out-of-region flag is not reachable by URL
    with web_site.db.read() as s:
        outside = s.scalars(
            select(FlagRecord.flag_id).where(
                FlagRecord.family == "aid", FlagRecord.region_code.like(f"{OTHER_COUNTY}%")
            )
        ).first()
    response = page.goto(f"{web_site.base_url}/web/flags/{outside}")
    assert response.status == 404
    assert "不在您的权限和辖区内" in page.locator("main").inner_text()
    screenshot(page, "04-out-of-region-404")


def test_keyboard_focus_is_visible_and_reaches_buttons(page_for):
    page = page_for("inspector")
    page.wait_for_selector("#queue tbody tr[data-flag]")
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => { const el = document.activeElement; const cs = getComputedStyle(el);
                       return {tag: el.tagName, id: el.id, text: (el.textContent || '').trim().slice(0, 20),
                               outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth)}; }"""
        )
        seen.append(info)
    buttons = [s for s in seen if s["tag"] == "BUTTON"]
    assert {"筛选", "清除筛选", "English", "退出"} <= {b["text"] for b in buttons}
    bad = [s for s in seen if s["tag"] != "BODY" and (s["outline"] == "none" or s["width"] < 2)]
    assert not bad, bad


def test_main_text_and_buttons_have_enough_contrast(page_for, web_site):
    page = page_for("analyst")
    page.wait_for_selector("#queue tbody tr[data-flag]")
    checked = _assert_contrast(
        page, ["h1", "label", "td", "th", ".btn", ".badge", ".topbar a", ".note", "#result-count"]
    )
    assert checked > 20
    page.goto(f"{web_site.base_url}/web/regions")
    page.wait_for_selector("#ratio-table table")
    _assert_contrast(page, ["h1", "h2", "td", "th", ".btn", ".note", ".muted"])
    screenshot(page, "05-dashboard-analyst")


def test_english_switch_and_entity_page(page_for, web_site):
    page = page_for("analyst")
    page.wait_for_selector("#queue tbody tr[data-flag]")
    page.get_by_role("button", name="English").click()
    page.wait_for_selector("text=Flag queue")
    page.wait_for_selector("#queue tbody tr[data-flag]")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Severity" in page.locator("#filters").inner_text()
    screenshot(page, "06-queue-analyst-en")
    page.goto(f"{web_site.base_url}/web/regions")
    page.wait_for_selector("#systemic-table a")
    page.locator("#systemic-table a").first.click()
    page.wait_for_url("**/web/entities/**")
    page.wait_for_selector("#props table")
    page.wait_for_function("() => Number(document.getElementById('cy').dataset.nodes || 0) > 1")
    page.wait_for_selector("#ownership table")
    page.wait_for_selector("#entity-flags table")
    assert "Ultimate controllers" in page.locator("#ownership-card").inner_text()
    screenshot(page, "07-entity-analyst-en")
