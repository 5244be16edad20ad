"""Decisions follow the data (issue 15, probe 4), on SQLite and PostgreSQL: a dismissed flag
whose amount more than doubled is reopened with its prior decision and the differences; a
confirmed flag whose death record was removed leaves the queue as no longer supported, its
history kept; a re-scan of the same data in another order, on another day, changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.scan.pipeline import scan_dataset
from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.state.db import StateDB
from api.server.state.flag_import import import_scan_dir
from api.server.state.models import FlagChange, FlagRecord, FlagState
from fixtures.aid import load_case, person_id, write_dataset
from graph_models.memory_store import MemoryStore

DETECTOR = "aid.deceased_recipient"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _scan(case: dict, tmp_path, name: str, as_of: str = "2024-01-01", reverse: bool = False):
    if reverse:  # the same rows, exported in another order: every line number moves
        case = {**case, "tables": {t: list(reversed(r)) for t, r in case["tables"].items()}}
    dataset = write_dataset(case, tmp_path / f"{name}-data")
    store = MemoryStore()
    scan_dataset(store, tmp_path / name, dataset, as_of=dt.date.fromisoformat(as_of))
    return tmp_path / name, store


def _states(db: StateDB) -> dict[str, tuple[str, str | None]]:
    with db.read() as s:
        rows = s.execute(select(FlagRecord.subject_id, FlagState.status, FlagState.prior_status)
                         .join(FlagState, FlagState.flag_id == FlagRecord.flag_id)
                         .where(FlagRecord.detector == DETECTOR)).all()  # fmt: skip
    return {subject: (status, prior) for subject, status, prior in rows}


def test_decisions_follow_the_data(db_url, tmp_path):
    zhang, zhao = person_id("zhang"), person_id("zhao")
    case = load_case("deceased_recipient")
    db = StateDB(db_url)
    first, _ = _scan(case, tmp_path, "v1")
    with db.write() as s:
        import_scan_dir(s, first, requested_by="test")
        token = create_user(s, "inspector", "aid_inspector", ["410800"])
    assert _states(db) == {zhang: ("open", None), zhao: ("open", None)}

    # the same data again, rows in another order and another day: nothing is reopened
    again, _ = _scan(case, tmp_path, "v1-again", as_of="2024-06-30", reverse=True)
    with db.write() as s:
        result = import_scan_dir(s, again, requested_by="test")
    assert (result.reopened, result.changed, result.unsupported) == (0, 0, 0)

    # decisions
    with db.write() as s:
        for subject, decision in ((zhang, "dismissed"), (zhao, "confirmed")):
            state = s.scalars(select(FlagState).join(FlagRecord).where(
                FlagRecord.subject_id == subject, FlagRecord.detector == DETECTOR)).one()  # fmt: skip
            state.status, state.review_count = decision, 1

    # the data changes: 张三 was paid six more times after his death (3,000 -> 6,600 yuan),
    # 赵六's death record is withdrawn
    changed = {**case, "tables": dict(case["tables"])}
    changed["tables"]["aid_payments"] = case["tables"]["aid_payments"] + [
        {"payment_id": f"PX{m}", "program": "低保", "recipient_id": zhang, "household_id": "H1",
         "account_no": "6222020200112233441", "amount": 600, "paid_date": f"2021-{m:02d}-10",
         "region_code": "410822"}
        for m in range(9, 13)
    ] + [
        {"payment_id": f"PY{m}", "program": "低保", "recipient_id": zhang, "household_id": "H1",
         "account_no": "6222020200112233441", "amount": 600, "paid_date": f"2022-{m:02d}-10",
         "region_code": "410822"}
        for m in (1, 2)
    ]  # fmt: skip
    changed["tables"]["deaths"] = [
        d for d in case["tables"]["deaths"] if str(d["death_date"]) != "2022-01-05"
    ]
    second, store = _scan(changed, tmp_path, "v2", reverse=True)
    with db.write() as s:
        result = import_scan_dir(s, second, requested_by="test")
    assert (result.reopened, result.unsupported, result.raised_again) == (1, 1, 0)
    assert _states(db) == {zhang: ("open", "dismissed"), zhao: ("unsupported", "confirmed")}
    with db.read() as s:
        change = s.scalars(select(FlagChange).where(FlagChange.kind == "evidence_changed")).one()
        diff = change.differences
    amounts = {c["path"]: (c["before"], c["after"]) for c in diff["changed"]}
    assert amounts["figures.amount_after_death"] == (3000, 6600)
    assert len(diff["added"]["payments"]) == 6 and not diff["removed"]

    # what a reviewer sees
    app = create_app(store=store, state_db_url=db_url, workspace=tmp_path / "ws")
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {token}"}
        queue = client.get("/api/v1/flags", params={"detector": DETECTOR}, headers=h).json()
        assert [f["subject_id"] for f in queue["items"]] == [zhang]
        assert queue["items"][0]["status"] == "open"
        assert queue["items"][0]["prior_status"] == "dismissed"
        gone = client.get(
            "/api/v1/flags", params={"status": "unsupported", "detector": DETECTOR}, headers=h
        ).json()
        assert [f["subject_id"] for f in gone["items"]] == [zhao]
        flag = client.get(f"/api/v1/flags/{gone['items'][0]['flag_id']}", headers=h).json()
        assert flag["status"] == "unsupported" and flag["prior_status"] == "confirmed"
        assert [c["kind"] for c in flag["changes"]] == ["no_longer_supported"]
        assert flag["evidence"]["death_records"]  # the evidence it was decided on is kept
        review = client.post(f"/api/v1/flags/{flag['flag_id']}/reviews", headers=h,
                             json={"decision": "confirmed"})  # fmt: skip
        assert review.status_code == 409
        reopened = client.get(f"/api/v1/flags/{queue['items'][0]['flag_id']}", headers=h).json()
        assert reopened["changes"][0]["kind"] == "evidence_changed"
        assert reopened["changes"][0]["differences"]["added"]["payments"]
        web = client.get("/web/api/flags", params={"detector": DETECTOR}, headers=h).json()
        assert web["total"] == 1 and web["facets"]["status"].get("unsupported") == 1

    # the death record comes back: the flag is raised again with its decision
    third, _ = _scan(case, tmp_path, "v3")
    with db.write() as s:
        result = import_scan_dir(s, third, requested_by="test")
    assert result.raised_again == 1
    assert _states(db)[zhao] == ("confirmed", None)
    db.close()
