"""Every UI string exists in Chinese and English, and every key the pages use exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.access.roles import ROLES
from api.access.scopes import RegionScope
from api.reports.i18n import LANGS, STRINGS
from api.server.auth.principals import Principal
from api.server.state.models import DECISIONS, FLAG_STATUSES
from api.server.web.render import render_template, shell_context

WEB = Path(__file__).resolve().parents[4] / "api" / "server" / "web"
_T_CALL = re.compile(r"\bt\(\s*\"([a-z0-9_]+)\"\s*[,)]")
_T_PREFIX = re.compile(r"\bt\(\s*\"([a-z0-9_]+_)\"\s*\+")
#: What each template needs beyond the page shell (every template extends base.html).
_CONTEXT = {
    "login.html": dict(next="/web/flags", message_key="login_failed"),
    "error.html": dict(status=404),
}
#: Keys built at run time from a prefix and a value.
_DYNAMIC = {
    "sev_": ("high", "medium", "low"),
    "status_": FLAG_STATUSES,
    "decision_": DECISIONS,
    "role_": tuple(ROLES),
    "family_": ("aid", "debt", "guarantee", "ownership"),
    "grade_": ("red", "orange", "yellow", "green"),
    "test_": ("majority", "plurality"),
    "error_": ("403", "404"),
    "case_status_": ("open", "in_progress", "closed"),
    "scan_status_": ("queued", "running", "succeeded", "failed"),
    "scan_source_": ("api", "import"),
    "scan_stage_": ("load", "detect", "import"),
}


def test_both_languages_have_the_same_keys_and_no_empty_text():
    assert set(STRINGS["zh"]) == set(STRINGS["en"])
    for lang in LANGS:
        assert all(v.strip() for v in STRINGS[lang].values()), lang


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("template", sorted(p.name for p in (WEB / "templates").glob("*.html")))
def test_every_template_key_exists(template, lang):
    """Templates render with undefined names as errors, signed in and signed out."""
    user = Principal(1, "li", ROLES["debt_analyst"], RegionScope(["410000"]))
    for principal in (None, user):
        shell = shell_context(lang, principal, csrf="x", scripts=("queue.js",))
        html = render_template(template, lang, **shell, **_CONTEXT.get(template, {}))
        assert "{{" not in html and "{%" not in html


def test_every_key_used_by_scripts_exists():
    used, prefixes = set(), set()
    for js in (WEB / "static").glob("*.js"):
        text = js.read_text("utf-8")
        used |= set(_T_CALL.findall(text))
        prefixes |= set(_T_PREFIX.findall(text))
    assert used, "no t(...) calls found"
    assert not sorted(used - set(STRINGS["zh"]))
    assert prefixes <= set(_DYNAMIC), prefixes - set(_DYNAMIC)
    for prefix in prefixes:
        missing = [prefix + v for v in _DYNAMIC[prefix] if prefix + v not in STRINGS["zh"]]
        assert not missing


def test_vendored_libraries_ship_their_licenses():
    vendor = WEB / "static" / "vendor"
    for lib in (p for p in vendor.iterdir() if p.is_dir()):
        assert (lib / "LICENSE").is_file(), lib
    assert "Cytoscape.js" in (vendor / "README.md").read_text("utf-8")
