"""Scope applies to every byte (issue 15, probe 1): a user of one county reads every endpoint,
page and export over flags that span two counties, and no identifier, name, phone or record of
the other county appears anywhere in what they receive. On both stores.

The dataset (``tests/api/two_regions.py``) goes through the real loaders and detectors; the
tokens a user must never see are read off its tables, not off the code under test.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import zipfile
from io import BytesIO
from itertools import islice

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.state.db import StateDB
from api.server.state.flag_import import import_scan_dir
from api.server.state.models import FlagRecord
from tests.api import two_regions as tr
from tests.api.server.web.test_session import _HIDDEN_CSRF

#: user -> (role, regions, the county whose data they may see)
USERS = {
    "aid_a": ("aid_inspector", [tr.COUNTY_A], tr.COUNTY_A),
    "debt_a": ("debt_analyst", [tr.COUNTY_A], tr.COUNTY_A),
    "inv_a": ("investigator", [tr.CITY_A], tr.COUNTY_A),
    "aid_b": ("aid_inspector", [tr.COUNTY_B], tr.COUNTY_B),
    "debt_b": ("debt_analyst", [tr.COUNTY_B], tr.COUNTY_B),
}
COMMENT = f"已核实：开户人钱八（{tr.BROKER}，电话13900001111）系西华县西村村会计，户HB1"


class Site:
    def __init__(self, client: TestClient, tokens: dict[str, str], db: StateDB) -> None:
        self.client, self.tokens, self.db = client, tokens, db

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture
def site(store, tmp_path):
    from api.scan.pipeline import scan_dataset

    dataset = tr.build(tmp_path / "dataset")
    scan_dataset(store, tmp_path / "scan", dataset, as_of=dt.date.fromisoformat(tr.AS_OF))
    store.flush()
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    db = StateDB(url)
    tokens = {}
    with db.write() as session:
        import_scan_dir(session, tmp_path / "scan", requested_by="test")
        for name, (role, regions, _county) in USERS.items():
            tokens[name] = create_user(session, name, role, regions)
        tokens["admin"] = create_user(session, "admin", "admin", [])
    # a later scan finds one more payment into the shared account, for a 西华 household: the
    # flag's change record (its differences) names 西华 people too
    _rescan_with_more_evidence(tmp_path / "scan", tmp_path / "scan2")
    with db.write() as session:
        assert import_scan_dir(session, tmp_path / "scan2", requested_by="test").changed == 1
    app = create_app(store=store, state_db_url=url, workspace=tmp_path / "ws")
    client = TestClient(app, raise_server_exceptions=False)
    with client:
        s = Site(client, tokens, db)
        shared = _flag_id(db, "aid.shared_account")
        r = client.post(
            f"/api/v1/flags/{shared}/reviews", headers=s.h("admin"),
            json={"decision": "needs_field_check", "comment": COMMENT},
        )  # fmt: skip
        assert r.status_code in (200, 201), r.text
        yield s
    db.close()


def sign_in(client: TestClient, token: str) -> None:
    """Sign in through the login form (the session cookie stays on the client)."""
    form_csrf = _HIDDEN_CSRF.search(client.get("/web/login").text).group(1)
    r = client.post(
        "/web/login", content=f"csrf_token={form_csrf}&next=/web/flags&token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text


def _rescan_with_more_evidence(scan, rescan) -> None:
    import shutil

    rescan.mkdir()
    shutil.copy(scan / "summary.json", rescan / "summary.json")
    lines = []
    for line in (scan / "flags.jsonl").read_text("utf-8").splitlines():
        flag = json.loads(line)
        if flag["detector"] == "aid.shared_account":
            flag["evidence"]["payments"].append(
                {"table": "aid_payments", "line": 6, "payment_id": "PB1", "program": "低保",
                 "recipient_id": tr.B["b1"], "household_id": "HB1", "amount": 450.0,
                 "paid_date": "2021-04-10", "by_proxy": True}
            )  # fmt: skip
            flag["evidence"]["figures"]["amount"] += 450.0
            del flag["fingerprint"]  # recomputed from the evidence when read
        lines.append(json.dumps(flag, ensure_ascii=False))
    (rescan / "flags.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def _flag_id(db: StateDB, detector: str) -> str:
    with db.read() as session:
        return session.scalars(
            select(FlagRecord.flag_id).where(FlagRecord.detector == detector)
        ).first()


def _all_entity_ids(db: StateDB) -> list[str]:
    with db.read() as session:
        rows = session.execute(select(FlagRecord.subject_id, FlagRecord.entities)).all()
    ids = {str(e) for subject, ents in rows for e in [subject, *(ents or [])]}
    for rows in tr.TABLES.values():
        for row in rows:
            for key in ("person_id", "household_id", "payment_id", "account_no", "uscc",
                        "region_code", "holder_id", "head_id", "recipient_id"):  # fmt: skip
                if row.get(key):
                    ids.add(str(row[key]))
    return sorted(ids)


def _matcher(tokens: set[str]) -> re.Pattern[str]:
    """Ids as whole tokens (a random CSRF string may hold ``HB1``), names anywhere."""
    ascii_ = sorted((t for t in tokens if t.isascii()), key=len, reverse=True)
    other = sorted((t for t in tokens if not t.isascii()), key=len, reverse=True)
    parts = []
    if ascii_:
        parts.append(
            r"(?<![0-9A-Za-z])(?:" + "|".join(map(re.escape, ascii_)) + r")(?![0-9A-Za-z])"
        )
    if other:
        parts.append("|".join(map(re.escape, other)))
    return re.compile("|".join(parts))


def _texts(r) -> str:
    """Everything a response carries, as text a person (or a program) could read."""
    kind = r.headers.get("content-type", "")
    parts = [str(r.headers.get("content-disposition", ""))]
    if "spreadsheetml" in kind:
        with zipfile.ZipFile(BytesIO(r.content)) as z:
            parts += [html.unescape(z.read(n).decode("utf-8")) for n in z.namelist()]
    else:
        parts.append(r.text)
        parts.append(html.unescape(r.text))
        if "json" in kind:
            parts.append(json.dumps(r.json(), ensure_ascii=False))
    return "\n".join(parts)


def _every_response(site: Site, user: str, entity_ids: list[str]):
    c, h = site.client, site.h(user)
    api = "/api/v1"
    yield c.get(f"{api}/me", headers=h)
    listing = c.get(f"{api}/flags?limit=500", headers=h)
    yield listing
    for status in ("open", "needs_field_check"):
        yield c.get(f"{api}/flags?status={status}", headers=h)
    flag_ids = [f["flag_id"] for f in listing.json()["items"]]
    for fid in flag_ids:
        yield c.get(f"{api}/flags/{fid}", headers=h)
        yield c.get(f"{api}/flags/{fid}/graph", headers=h)
        yield c.get(f"{api}/flags/{fid}/graph?format=graphml", headers=h)
        yield c.get(f"{api}/flags/{fid}/reviews", headers=h)
    for eid in entity_ids:
        yield c.get(f"{api}/entities/{eid}", headers=h)
        for hops in (1, 2, 3):
            yield c.get(f"{api}/entities/{eid}/neighborhood?hops={hops}", headers=h)
        yield c.get(f"{api}/entities/{eid}/control", headers=h)
        yield c.get(f"/web/api/entities/{eid}/flags", headers=h)
    for a in entity_ids:
        for b in islice((x for x in entity_ids if x > a), 6):
            yield c.get(f"{api}/paths?source={a}&target={b}&max_hops=6", headers=h)
    for q in {t[:n] for t in entity_ids for n in (2, 4, len(t))} | {"钱八", "西华", "宜阳", "孙九"}:
        if len(q) >= 2:
            yield c.get(f"{api}/entities", params={"q": q}, headers=h)
    if flag_ids:
        case = c.post(
            f"{api}/cases", headers=h,
            json={"title": "核查", "region_code": USERS[user][1][0], "flag_ids": flag_ids[:3]},
        )  # fmt: skip
        yield case
        yield c.get(f"{api}/cases", headers=h)
        if case.status_code in (200, 201):
            yield c.get(f"{api}/cases/{case.json()['id']}", headers=h)
    yield c.get(f"{api}/scans", headers=h)
    yield c.get(f"{api}/audit", headers=h)
    yield c.post(f"{api}/cypher", headers=h, json={"query": "MATCH (n) RETURN n LIMIT 5"})
    yield c.get("/web/api/flags?limit=200", headers=h)
    yield c.get("/web/api/dashboard", headers=h)
    for lang in ("zh", "en"):
        c.cookies.set("rg_lang", lang)
        yield c.get("/web/report.html", headers=h)
        yield c.get("/web/export.xlsx", headers=h)
    c.cookies.clear()
    sign_in(c, site.tokens[user])
    for path in ("/web/flags", "/web/regions", *(f"/web/flags/{fid}" for fid in flag_ids),
                 *(f"/web/entities/{eid}" for eid in entity_ids)):  # fmt: skip
        yield c.get(path)
    c.cookies.clear()


@pytest.mark.parametrize("user", list(USERS))
def test_no_out_of_scope_byte_reaches_a_scoped_user(site, user):
    tokens = tr.out_of_scope_tokens(USERS[user][2])
    assert len(tokens) > 15
    found = _matcher(tokens)
    entity_ids = _all_entity_ids(site.db)
    seen = 0
    for r in _every_response(site, user, entity_ids):
        assert r.status_code < 500, (r.request.url, r.text[:300])
        hit = found.search(_texts(r))
        assert hit is None, f"{user} got {hit.group(0)!r} from {r.request.url}"
        seen += 1
    assert seen > 200


def test_the_shared_account_flag_says_what_it_withholds(site):
    """The 宜阳 inspector sees the 宜阳 part of the flag, and is told how much is left out."""
    shared = _flag_id(site.db, "aid.shared_account")
    flag = site.client.get(f"/api/v1/flags/{shared}", headers=site.h("aid_a")).json()
    assert flag["withheld"]["records"] >= 1 and flag["withheld"]["entities"] >= 1
    assert {p["payment_id"] for p in flag["evidence"]["payments"]} == {"PA1", "PA2", "PA3"}
    assert flag["evidence"]["holder_offices"] == []
    assert "〔辖区外〕" in flag["explanation"]["zh"]
    assert "[outside your region]" in flag["explanation"]["en"]
    assert "〔辖区外〕" in flag["reviews"][0]["comment"]
    change = flag["changes"][0]
    assert change["kind"] == "evidence_changed" and change["differences"]["added"] == {
        "payments": []
    }  # the one payment added is 西华's: withheld like the evidence
    # the national investigator's view is whole
    whole = site.client.get(f"/api/v1/flags/{shared}", headers=site.h("admin")).json()
    assert whole["withheld"] == {"records": 0, "entities": 0}
    assert "钱八" in whole["explanation"]["zh"] and whole["evidence"]["holder_offices"]
    site.client.cookies.set("rg_lang", "zh")
    report = site.client.get("/web/report.html", headers=site.h("aid_a")).text
    assert "条记录" in report and "不在您的辖区内" in report
    site.client.cookies.set("rg_lang", "en")
    report = site.client.get("/web/report.html", headers=site.h("aid_a")).text
    assert "outside your region" in report
    site.client.cookies.clear()


def test_hidden_entities_answer_like_missing_ones(site):
    """An id of the other county answers exactly as an id that does not exist."""
    c, h = site.client, site.h("aid_a")

    def body(path: str) -> tuple[int, dict]:
        r = c.get(path, headers=h)
        out = r.json()
        out.get("error", {}).pop("request_id", None)
        return r.status_code, out

    for hidden, missing in ((tr.BROKER, tr.BROKER[:-4] + "0000"), ("HB1", "HZ9")):
        for suffix in ("", "/neighborhood", "/control"):
            assert body(f"/api/v1/entities/{hidden}{suffix}")[0] == 404
            assert body(f"/api/v1/entities/{hidden}{suffix}") == body(
                f"/api/v1/entities/{missing}{suffix}"
            )
        assert body(f"/web/api/entities/{hidden}/flags") == body(
            f"/web/api/entities/{missing}/flags"
        )
