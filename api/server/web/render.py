"""How a web page is made: Jinja2 templates (autoescaped), the page's language, the headers every
page gets.

Templates live in ``templates/``: ``base.html`` is the shell (top bar, navigation, account,
language switch, the page's config for its scripts) and every page template extends it, filling
``{% block main %}``. Every template sees ``t``, the words of the page's language
(:data:`api.reports.i18n.STRINGS`), and every value is HTML-escaped unless marked safe; an
unknown name is an error, never an empty string.

Examples
--------
>>> html = render_template("error.html", "en", status=404, **shell_context("en", None))
>>> "Not found" in html and "<script" in html
True
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.reports.i18n import STRINGS, pick_lang, vocabulary
from api.server.auth.principals import Principal

__all__ = [
    "LANG_COOKIE",
    "detector_titles",
    "local_zone",
    "page_lang",
    "render_page",
    "render_template",
    "secured",
    "shell_context",
    "stamp",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANG_COOKIE = "rg_lang"
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# the page's config is JSON inside <script type="application/json">: ``tojson`` escapes <, >, &
# and ' for that place; Chinese stays readable and dates become text
_ENV.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "default": str}


def render_template(name: str, lang: str, **context: Any) -> str:
    """Render ``templates/name`` in ``lang`` (``t`` is that language's words)."""
    return _ENV.get_template(name).render(t=STRINGS[lang], lang=lang, **context)


def page_lang(request: Request) -> str:
    """The page's language: ``?lang=``, else the language cookie, else Chinese."""
    return pick_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def secured(response: Response) -> Response:
    """The headers every page and download gets (no framing, no inline scripts, no caching)."""
    for key, value in _SECURITY_HEADERS.items():
        response.headers[key] = value
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def detector_titles() -> dict[str, dict[str, str]]:
    """Every detector's title in both languages, by id, with what its score measures
    (``score_zh``, ``score_en``: unit and meaning, :mod:`engine.scores`)."""
    from engine.registry import all_detectors
    from engine.scores import score_text

    return {
        s.id: {"zh": s.title_zh, "en": s.title_en, "score_zh": score_text(s.id, "zh"),
               "score_en": score_text(s.id, "en")}
        for s in all_detectors()
    }  # fmt: skip


def shell_context(
    lang: str,
    principal: Principal | None,
    *,
    page: str = "error",
    title_key: str = "error_title",
    csrf: str = "",
    config: dict[str, Any] | None = None,
    scripts: tuple[str, ...] = (),
    region_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``base.html`` needs: the signed-in user, navigation, the scripts' config (with the
    data's words in the page's language and the names of the graph's regions)."""
    user = None
    if principal is not None:
        user = {
            "name": principal.name,
            "role": principal.role,
            "regions": list(principal.scope.codes),
            "clearance": principal.policy.personal_clearance,
        }
    nav: list[tuple[str, str, str]] = []
    if principal is not None:
        nav.append(("queue", "/web/flags", "nav_queue"))
        nav.append(("cases", "/web/cases", "nav_cases"))
        nav.append(("dashboard", "/web/regions", "nav_dashboard"))
        if principal.policy.admin:
            nav.append(("scans", "/web/scans", "nav_scans"))
    cfg = {
        "lang": lang,
        "strings": STRINGS[lang],
        "page": page,
        "user": user,
        "detectors": detector_titles() if principal is not None else {},
        "vocab": vocabulary(lang) if principal is not None else {},
        "region_names": region_names or {},
        "timezone": getattr(local_zone(), "key", "Asia/Shanghai"),
        **(config or {}),
    }
    names = region_names or {}
    scope_text = ", ".join(
        (f"{names[c]}（{c}）" if lang == "zh" else f"{names[c]} ({c})") if c in names
        else (STRINGS[lang]["scope_national"] if c == "000000" else c)
        for c in (user or {}).get("regions", [])
    ) or (STRINGS[lang]["scope_national"] if user else "")  # fmt: skip
    return {
        "scope_text": scope_text,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "other_lang": "en" if lang == "zh" else "zh",
        "other_html_lang": "en" if lang == "zh" else "zh-CN",
        "page": page, "title_key": title_key, "csrf": csrf, "user": user, "nav": nav,
        "config": cfg, "scripts": scripts,
    }  # fmt: skip


def render_page(
    request: Request,
    principal: Principal | None,
    template: str,
    *,
    page: str,
    title_key: str,
    csrf: str = "",
    config: dict[str, Any] | None = None,
    scripts: tuple[str, ...] = (),
    status: int = 200,
    region_names: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A whole page: ``template`` (which extends ``base.html``) in the request's language, with
    HTTP ``status`` (which the template sees too)."""
    lang = page_lang(request)
    shell = shell_context(
        lang, principal, page=page, title_key=title_key, csrf=csrf, config=config,
        scripts=scripts, region_names=region_names,
    )  # fmt: skip
    document = render_template(template, lang, status=status, **shell, **context)
    return secured(HTMLResponse(document, status_code=status))  # type: ignore[return-value]


def local_zone() -> dt.tzinfo:
    """The time zone pages, reports and download names use (``RISKGRAPH_TIMEZONE``,
    Asia/Shanghai by default): :func:`api.reports.html_report.report_zone`."""
    from api.reports.html_report import report_zone

    return report_zone()


def stamp() -> str:
    """A timestamp for download file names (local time, to the minute)."""
    return dt.datetime.now(local_zone()).strftime("%Y%m%d-%H%M")
