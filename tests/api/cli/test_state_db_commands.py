"""CLI: users add, import-flags (idempotent, review state kept), db upgrade; scans via the API."""

from __future__ import annotations

import time

from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.cli.main import main
from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.state.db import StateDB
from api.server.state.models import AuditEntry, FlagRecord, FlagState, User
from engine.outputs import write_flags
from graph_models.memory_store import MemoryStore
from tests import dataset_builder
from tests.api.conftest import make_flags


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_users_add_prints_a_working_token_once(tmp_path, sqlite_url):
    r = _run("users", "add", "li", "--role", "aid_inspector", "--region", "410822",
             "--state-db", sqlite_url)  # fmt: skip
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("rg_")
    db = StateDB(sqlite_url)
    with db.read() as s:
        user = s.query(User).one()
        assert token not in (user.token_hash, user.token_selector)
        assert [r.region_code for r in user.regions] == ["410822"]
    app = create_app(store=MemoryStore(), state_db_url=sqlite_url, workspace=tmp_path)
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["regions"] == ["410822"]
        wrong = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert (
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {wrong}"}).status_code
            == 401
        )
    # the addition (and the refused wrong token) is on the audit trail, the token is not
    with db.read() as s:
        rows = s.query(AuditEntry).order_by(AuditEntry.seq).all()
        assert [r.action for r in rows] == ["user_add", "denied"]
        assert all(token not in r.detail and wrong not in r.detail for r in rows)
    db.close()


def test_users_add_refuses_bad_input(sqlite_url):
    base = ["--state-db", sqlite_url]
    no_region = _run("users", "add", "a", "--role", "investigator", *base)
    assert no_region.exit_code == 2 and "--region" in no_region.output
    bad = _run("users", "add", "a", "--role", "investigator", "--region", "41", *base)
    assert bad.exit_code == 2 and "6 digits" in bad.output
    assert _run("users", "add", "boss", "--role", "admin", *base).exit_code == 0
    dup = _run("users", "add", "boss", "--role", "admin", *base)
    assert dup.exit_code == 2 and "exists" in dup.output
    assert _run("users", "add", "x", "--role", "king", *base).exit_code == 2


def test_import_flags_is_idempotent_and_keeps_reviews(tmp_path, sqlite_url):
    flags = list(make_flags().values())
    scan = tmp_path / "scan"
    write_flags(scan, flags)
    first = _run("import-flags", str(scan), "--state-db", sqlite_url)
    assert first.exit_code == 0 and "6 new" in first.output
    db = StateDB(sqlite_url)
    fid = flags[0].flag_id
    with db.write() as s:
        state = s.get(FlagState, fid)
        state.status, state.review_count = "confirmed", 2
    # a re-scan with a changed score: same ids, updated in place, review state untouched
    flags[0].score = 42.0
    write_flags(scan, flags)
    again = _run("import-flags", str(scan), "--state-db", sqlite_url)
    assert again.exit_code == 0 and "0 new, 6 updated" in again.output
    with db.read() as s:
        assert s.query(FlagRecord).count() == 6
        assert s.get(FlagRecord, fid).score == 42.0
        assert s.get(FlagState, fid).status == "confirmed"
        assert s.get(FlagState, fid).review_count == 2
    db.close()
    missing = _run("import-flags", str(tmp_path), "--state-db", sqlite_url)
    assert missing.exit_code == 2 and "flags.jsonl" in missing.output


def test_db_upgrade_and_default_location(tmp_path, monkeypatch):
    monkeypatch.delenv("RISKGRAPH_STATE_DB", raising=False)
    r = _run("db", "upgrade", "--workspace", str(tmp_path / "ws"))
    assert r.exit_code == 0 and "0008" in r.output
    assert (tmp_path / "ws" / "riskgraph-state.sqlite").exists()
    monkeypatch.setenv("RISKGRAPH_STATE_DB", str(tmp_path / "env.sqlite"))
    assert _run("db", "upgrade").exit_code == 0
    assert (tmp_path / "env.sqlite").exists()
    assert _run("audit", "verify").exit_code == 0


def test_scan_job_loads_detects_and_imports(tmp_path, sqlite_url):
    datasets = tmp_path / "datasets"
    dataset_builder.build(datasets / "messy")
    store = MemoryStore(tmp_path / "ws")
    app = create_app(store=store, state_db_url=sqlite_url, workspace=tmp_path / "ws",
                     datasets_root=datasets)  # fmt: skip
    db = StateDB(sqlite_url)
    with db.write() as s:
        token = create_user(s, "root", "admin", [])
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        escape = client.post("/api/v1/scans", headers=h, json={"dataset_dir": "../.."})
        assert (
            escape.status_code == 400 and escape.json()["error"]["code"] == "outside_datasets_root"
        )
        r = client.post(
            "/api/v1/scans", headers=h, json={"dataset_dir": "messy", "as_of": "2024-06-30"}
        )
        assert r.status_code == 202, r.text
        scan_id = r.json()["id"]
        deadline = time.monotonic() + 300
        while True:
            status = client.get(f"/api/v1/scans/{scan_id}", headers=h).json()
            if status["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status["status"] == "succeeded", status
        assert (tmp_path / "ws" / "scans" / str(scan_id) / "flags.jsonl").exists()
        listed = client.get("/api/v1/flags", headers=h).json()
        assert listed["total"] == status["flags_imported"]
        assert store.counts()["nodes"].get("Household", 0) > 0
        # the graph endpoints see the freshly loaded data
        hh = store.nodes("Household", ["id"])["id"].iloc[0]
        assert client.get(f"/api/v1/entities/{hh}", headers=h).status_code == 200
        actions = {a["action"] for a in client.get("/api/v1/audit", headers=h).json()["items"]}
        assert {"scan_start", "scan_finished"} <= actions
    db.close()
