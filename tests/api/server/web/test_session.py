"""Sign-in, session cookie, CSRF and page access, over HTTP (no browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.server.auth.principals import create_user
from api.server.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionStore
from api.server.state.db import StateDB
from api.server.state.models import AuditEntry, FlagRecord, FlagState, User
from tests.api.conftest import postgres_server_url, postgres_url  # noqa: F401 (fixtures)
from tests.api.server.web.conftest import INSPECTOR_COUNTY, OTHER_COUNTY, WebSite

_HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(site: WebSite) -> TestClient:
    return TestClient(site.app, base_url="http://testserver", follow_redirects=False)


def sign_in(client: TestClient, token: str, next_path: str = "/web/flags") -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/web/login")
    form_csrf = _HIDDEN_CSRF.search(page.text).group(1)
    r = client.post(
        "/web/login",
        content=f"csrf_token={form_csrf}&next={next_path}&token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 303, r.text
    return client.cookies[CSRF_COOKIE]


def _flag_of(site: WebSite, family: str, region_prefix: str) -> str:
    with site.db.read() as s:
        return s.scalars(
            select(FlagRecord.flag_id)
            .where(FlagRecord.family == family, FlagRecord.region_code.like(f"{region_prefix}%"))
            .order_by(FlagRecord.flag_id)
        ).first()


def test_sign_in_sets_httponly_strict_session_cookie(web_site):
    client = _client(web_site)
    page = client.get("/web/login")
    form_csrf = _HIDDEN_CSRF.search(page.text).group(1)
    r = client.post(
        "/web/login",
        content=f"csrf_token={form_csrf}&next=/web/regions&token={web_site.tokens['analyst']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/web/regions"
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    csrf = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["name"] == "analyst"


def test_login_form_needs_its_csrf_pair_and_a_valid_token(web_site):
    client = _client(web_site)
    client.get("/web/login")
    token = web_site.tokens["analyst"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = client.post("/web/login", content=f"csrf_token=forged&token={token}", headers=form)
    assert forged.status_code == 403 and SESSION_COOKIE not in client.cookies
    page = client.get("/web/login")
    form_csrf = _HIDDEN_CSRF.search(page.text).group(1)
    bad = client.post(
        "/web/login", content=f"csrf_token={form_csrf}&token=rg_nope_nope", headers=form
    )
    assert bad.status_code == 401 and "令牌无效" in bad.text
    with web_site.db.read() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "web_sign_in_failed")).all()


def test_next_is_never_an_open_redirect(web_site):
    for evil in ("https://evil.example/", "//evil.example/x", "/api/v1/me", "/web\\..\\x"):
        client = _client(web_site)
        page = client.get("/web/login")
        form_csrf = _HIDDEN_CSRF.search(page.text).group(1)
        r = client.post(
            "/web/login",
            content=f"csrf_token={form_csrf}&next={evil}&token={web_site.tokens['analyst']}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.headers["location"] == "/web/flags"


def test_state_changing_api_calls_need_the_csrf_header(web_site):
    client = _client(web_site)
    csrf = sign_in(client, web_site.tokens["inspector"])
    flag_id = _flag_of(web_site, "aid", INSPECTOR_COUNTY)
    url = f"/api/v1/flags/{flag_id}/reviews"
    body = {"decision": "needs_field_check", "comment": "csrf test"}
    assert client.post(url, json=body).status_code == 403
    assert client.post(url, json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    cross = client.post(
        url, json=body, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert cross.status_code == 403 and cross.json()["error"]["code"] == "csrf_failed"
    ok = client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    with web_site.db.read() as s:
        assert s.get(FlagState, flag_id).status == "needs_field_check"


def test_bearer_tokens_still_work_without_csrf(web_site):
    client = _client(web_site)
    flag_id = _flag_of(web_site, "aid", INSPECTOR_COUNTY)
    r = client.post(
        f"/api/v1/flags/{flag_id}/reviews",
        json={"decision": "dismissed", "comment": "bearer"},
        headers={"Authorization": f"Bearer {web_site.tokens['inspector']}"},
    )
    assert r.status_code == 201
    assert client.get("/api/v1/me").status_code == 401


def test_sign_out_ends_the_session_server_side(web_site):
    client = _client(web_site)
    csrf = sign_in(client, web_site.tokens["analyst"])
    stolen = client.cookies[SESSION_COOKIE]
    assert client.post("/web/logout", content="csrf_token=wrong",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 403  # fmt: skip
    r = client.post(
        "/web/logout",
        content=f"csrf_token={csrf}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/web/login?out=1"
    replay = _client(web_site)
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/api/v1/me").status_code == 401


def test_disabling_a_user_ends_their_sessions(web_site):
    with web_site.db.write() as s:
        token = create_user(s, "short-lived", "debt_analyst", ["410000"])
    client = _client(web_site)
    sign_in(client, token)
    assert client.get("/api/v1/me").status_code == 200
    with web_site.db.write() as s:
        s.scalars(select(User).where(User.name == "short-lived")).one().disabled = True
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/web/flags").status_code == 303


@pytest.fixture(
    name="state_db", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def state_db_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateDB]:
    """A fresh, migrated state DB: a SQLite file, or a new database on the test PostgreSQL
    (skipped when it is not running, unless ``RISKGRAPH_REQUIRE_POSTGRES=1``)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = StateDB(url)
    yield db
    db.close()


def add_user(db: StateDB, name: str = "browser-user") -> int:
    """A user to own sessions (``web_sessions.user_id`` references ``users``); returns the id."""
    with db.write() as s:
        create_user(s, name, "admin", [])
        return s.scalars(select(User.id).where(User.name == name)).one()


def test_sessions_expire_when_idle_and_after_the_absolute_limit(state_db):
    uid = add_user(state_db)
    now = [0.0]
    store = SessionStore(
        state_db, idle_timeout=10, absolute_timeout=25, clock=lambda: now[0], touch_interval=0
    )
    sid, _ = store.create(uid, "h")
    now[0] = 9
    assert store.get(sid) is not None
    now[0] = 18
    assert store.get(sid) is not None  # the idle timer restarted at 9
    now[0] = 26
    assert store.get(sid) is None  # absolute limit
    sid2, _ = store.create(uid, "h")
    now[0] = 37
    assert store.get(sid2) is None  # idle
    assert len(store) == 0


def test_pages_redirect_to_sign_in_and_keep_the_target(web_site):
    client = _client(web_site)
    r = client.get("/web/flags", params={"severity": "high"})
    assert r.status_code == 303
    assert r.headers["location"] == "/web/login?next=%2Fweb%2Fflags%3Fseverity%3Dhigh"


def test_out_of_region_flag_and_entity_pages_are_404(web_site):
    client = _client(web_site)
    sign_in(client, web_site.tokens["inspector"])
    inside = _flag_of(web_site, "aid", INSPECTOR_COUNTY)
    outside = _flag_of(web_site, "aid", OTHER_COUNTY)
    debt_inside = _flag_of(web_site, "debt", INSPECTOR_COUNTY)
    assert client.get(f"/web/flags/{inside}").status_code == 200
    for hidden in (outside, debt_inside, "Fdoesnotexist"):
        page = client.get(f"/web/flags/{hidden}")
        assert page.status_code == 404 and "不在您的权限和辖区内" in page.text
    assert client.get(f"/api/v1/flags/{outside}").status_code == 404
    assert (
        client.get(f"/web/entities/{OTHER_COUNTY}", params={"label": "Region"}).status_code == 404
    )
    assert (
        client.get(f"/web/entities/{INSPECTOR_COUNTY}", params={"label": "Region"}).status_code
        == 200
    )
    assert client.get("/web/entities/x", params={"label": "NoSuchLabel"}).status_code == 404


def test_every_role_has_a_dashboard_over_its_own_regions(web_site):
    inspector = _client(web_site)
    sign_in(inspector, web_site.tokens["inspector"])
    assert inspector.get("/web/regions").status_code == 200
    data = inspector.get("/web/api/dashboard").json()
    assert data["debt"] is False and data["families"] == ["aid"]
    assert set(data["flag_counts"]) == {INSPECTOR_COUNTY}  # their own county only
    assert data["by_detector"] and all(d.startswith("aid.") for d in data["by_detector"])
    assert not data["counties"] and not data["circles"] and not data["systemic"]
    assert inspector.get("/web/api/dashboard", params={"region": OTHER_COUNTY}).status_code == 403
    analyst = _client(web_site)
    sign_in(analyst, web_site.tokens["analyst"])
    assert analyst.get("/web/regions").status_code == 200
    data = analyst.get("/web/api/dashboard").json()
    assert data["debt"] is True and "aid" not in data["families"]
    ratios = [c for c in data["counties"] if c["ratio"] is not None]
    assert ratios and all(c["ratio"] >= 1.2 for c in ratios)
    assert {c["code"] for c in data["counties"]} >= {INSPECTOR_COUNTY, OTHER_COUNTY}
    assert data["circles"] and data["systemic"]
    assert analyst.get("/web/api/dashboard", params={"region": "420000"}).status_code == 403


@pytest.mark.parametrize("path", ["/web/flags", "/web/login"])
def test_pages_send_security_headers(web_site, path):
    client = _client(web_site)
    sign_in(client, web_site.tokens["analyst"])
    r = client.get(path, follow_redirects=True)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"


def test_static_files_stay_inside_the_static_folder(web_site):
    client = _client(web_site)
    assert client.get("/web/static/app.js").status_code == 200
    assert client.get("/web/static/vendor/cytoscape/LICENSE").status_code == 200
    for evil in ("../router.py", "..%2Frouter.py", "%2e%2e/session.py"):
        assert client.get(f"/web/static/{evil}").status_code == 404
