"""The README's path, as a newcomer follows it: ``riskgraph demo``, ``riskgraph users add`` with
a region of the demo, ``riskgraph serve`` without options, sign in, the queue, a flag, its graph.

Every step is the real command in a fresh directory (subprocesses); the last part drives Debian's
chromium through Playwright.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.server.web.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

RISKGRAPH = [sys.executable, "-m", "api.cli.main"]
ROOT = Path(__file__).resolve().parents[3]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKGRAPH_WORKSPACE")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [*RISKGRAPH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _get(url: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("readme")
    done = _run(cwd, "demo", "--households", "200")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "riskgraph users add" in done.stderr and "riskgraph serve" in done.stderr
    return cwd


def test_demo_fills_the_default_workspace(demo_dir):
    ws = demo_dir / "riskgraph-workspace"
    assert (ws / "graph" / "nodes" / "Household.parquet").is_file()
    assert (ws / "riskgraph-state.sqlite").is_file()
    # a second demo reuses its own workspace; a workspace holding another graph is refused
    other = demo_dir / "other"
    (other / "graph").mkdir(parents=True)
    refused = _run(demo_dir, "demo", "--households", "50", "--workspace", str(other))
    assert refused.returncode == 2 and "workspace_in_use" in refused.stderr


def test_users_add_refuses_a_region_the_graph_does_not_hold(demo_dir):
    bad = _run(demo_dir, "users", "add", "wang", "--role", "aid_inspector", "--region", "410822")
    assert bad.returncode == 2
    assert "410822" in bad.stderr and "410883" in bad.stderr  # says which regions there are
    forced = _run(demo_dir, "users", "add", "wang2", "--role", "aid_inspector", "--region",
                  "410822", "--allow-unknown-region")  # fmt: skip
    assert forced.returncode == 0 and "warning" in forced.stderr


def test_readme_path_in_a_browser(demo_dir):
    if not CHROMIUM.exists():
        if os.environ.get("RISKGRAPH_REQUIRE_BROWSER") == "1":
            pytest.fail("RISKGRAPH_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is missing")
    from playwright.sync_api import sync_playwright

    flags = [
        json.loads(x) for x in (demo_dir / "demo-out" / "flags.jsonl").read_text().splitlines()
    ]
    county = max(
        {f["region_code"] for f in flags if f["detector"].startswith("aid.")},
        key=lambda c: sum(f["region_code"] == c for f in flags),
    )
    added = _run(demo_dir, "users", "add", "王检查", "--role", "aid_inspector", "--region", county)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKGRAPH_WORKSPACE")}
    env["PYTHONPATH"] = str(ROOT)
    server = subprocess.Popen(
        [*RISKGRAPH, "serve", "--port", str(port)], cwd=demo_dir, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline:
            try:
                health = _get(f"{base}/api/v1/healthz")
                if health["warm"]:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert health and health["warm"] and health["nodes"] > 1000, health
        listed = _get(f"{base}/api/v1/flags?limit=500", token)
        assert listed["total"] > 0
        assert {f["region_code"][:6] for f in listed["items"]} == {county}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/web/")
            page.get_by_label("访问令牌").fill(token)
            page.locator("form[action='/web/login'] button[type=submit]").click()
            page.wait_for_url("**/web/flags**")
            page.wait_for_selector("#queue tbody tr[data-flag]")
            severities = page.locator("#queue tbody .badge[class*='sev-']").all_inner_texts()
            order = {"高": 0, "中": 1, "低": 2}
            assert [order[s] for s in severities] == sorted(order[s] for s in severities)
            page.locator("#queue tbody tr[data-flag] a").first.click()
            page.wait_for_url("**/web/flags/F*")
            page.wait_for_function(
                "() => Number(document.getElementById('cy').dataset.nodes || 0) > 1"
            )
            assert page.locator("#evidence table").count() >= 1
            graphml = page.request.get(
                page.url.replace("/web/flags/", "/api/v1/flags/") + "/graph?format=graphml"
            )
            assert graphml.status == 200 and "<node " in graphml.text()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(demo_dir / "other", ignore_errors=True)
