"""Web fixtures: a real app (``create_app``) over a synthetic dataset.

``web_site`` (session scope) generates 300 households with ``fixtures.synth``, scans them with
``api.scan.pipeline.scan_dataset`` into a memory store, imports the flags into a SQLite state DB (as
``riskgraph import-flags`` does), adds users and serves the app with uvicorn on a free port of
127.0.0.1. Browser tests drive Debian's chromium through Playwright; without /usr/bin/chromium
they are skipped unless ``RISKGRAPH_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.state.db import StateDB
from api.server.state.flag_import import import_scan_dir

ROOT = Path(__file__).resolve().parents[4]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: The inspector's county (孟州市) and a county outside it (太康县).
INSPECTOR_COUNTY = "410883"
OTHER_COUNTY = "411627"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real chromium through Playwright")


@dataclass
class WebSite:
    """The running app and what tests need to drive it."""

    base_url: str
    app: object
    db: StateDB
    scan_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app: object) -> tuple[str, object, threading.Thread]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="session")
def web_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    from api.scan.pipeline import scan_dataset
    from fixtures.synth import generate
    from graph_models.memory_store import MemoryStore

    tmp = tmp_path_factory.mktemp("web")
    generate(tmp / "dataset", households=300, seed=7)
    store = MemoryStore()
    scan_dataset(store, tmp / "scan", tmp / "dataset")
    db_url = f"sqlite:///{tmp / 'state.sqlite'}"
    db = StateDB(db_url)
    tokens = {}
    with db.write() as session:
        import_scan_dir(session, tmp / "scan", requested_by="test")
        tokens["inspector"] = create_user(session, "inspector", "aid_inspector", [INSPECTOR_COUNTY])
        tokens["analyst"] = create_user(session, "analyst", "debt_analyst", ["410000"])
        tokens["admin"] = create_user(session, "admin", "admin", [])
    app = create_app(store=store, state_db_url=db_url, workspace=tmp / "ws")
    base_url, server, thread = _serve(app)
    try:
        yield WebSite(base_url, app, db, tmp / "scan", tokens)
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
        db.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("RISKGRAPH_REQUIRE_BROWSER") == "1":
            pytest.fail("RISKGRAPH_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("RISKGRAPH_REQUIRE_BROWSER") == "1":
            raise
        pytest.skip("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_for(browser: object, web_site: WebSite) -> Iterator[object]:
    """``page_for(user)``: a fresh browser context signed in as ``user`` through the form."""
    contexts = []

    def make(user: str, lang: str | None = None) -> object:
        context = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": 1440, "height": 900}, locale="zh-CN"
        )
        if lang:
            context.add_cookies([{"name": "rg_lang", "value": lang, "url": web_site.base_url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{web_site.base_url}/web/login")
        page.get_by_label("访问令牌" if lang != "en" else "Access token").fill(
            web_site.tokens[user]
        )
        page.locator("form[action='/web/login'] button[type=submit]").click()
        page.wait_for_url("**/web/flags**")
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/web/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
