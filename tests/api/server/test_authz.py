"""Authorization matrix: every role x every endpoint x in / out of region, on both stores.

Users (tests/api/conftest.py): ``*_in`` users' scopes contain the 410822 data, ``*_out`` users'
do not. A resource outside the role or region answers 404 (like one that does not exist); an
endpoint the role may not use answers 403; no token 401. Lists are filtered.
"""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import A1, E1, E2, E3, E4, G1, G2, P1, P2, P3, USERS

ALL = list(USERS)
EXPECTED_FLAGS = {
    "admin": {"aid_in", "aid_out", "debt_in", "debt_out", "debt_nat", "aid_city"},
    "debt_in": {"debt_in"},
    "debt_out": {"debt_out"},
    "aid_in": {"aid_in"},
    "aid_out": {"aid_out"},
    "inv_in": {"aid_in", "debt_in", "aid_city"},
    "inv_out": {"aid_out", "debt_out"},
    "inv_nat": {"aid_in", "aid_out", "debt_in", "debt_out", "debt_nat", "aid_city"},
}


def _status_matrix(env, method: str, path: str, expected: dict[str, int], **kw) -> None:
    got = {}
    for user in ALL:
        r = env.client.request(method, f"/api/v1{path}", headers=env.h(user), **kw)
        got[user] = r.status_code
    assert got == expected, path


def _expect(ok: set[str], ok_status: int = 200, other: int = 404) -> dict[str, int]:
    return {u: ok_status if u in ok else other for u in ALL}


def test_every_endpoint_needs_a_token(env):
    paths = [
        ("GET", "/me"), ("GET", "/entities?q=博爱"), ("GET", f"/entities/{P1}"),
        ("GET", f"/entities/{P1}/neighborhood"), ("GET", f"/entities/{E1}/control"),
        ("GET", f"/paths?source={P1}&target={E4}"), ("GET", "/flags"),
        ("GET", f"/flags/{env.flag_ids['aid_in']}"),
        ("GET", f"/flags/{env.flag_ids['aid_in']}/graph"),
        ("POST", f"/flags/{env.flag_ids['aid_in']}/reviews"),
        ("GET", f"/flags/{env.flag_ids['aid_in']}/reviews"), ("GET", "/cases"),
        ("POST", "/cases"), ("GET", "/cases/1"), ("PATCH", "/cases/1"), ("DELETE", "/cases/1"),
        ("POST", "/scans"), ("GET", "/scans"), ("GET", "/scans/1"), ("GET", "/audit"),
        ("GET", "/audit/verify"), ("POST", "/cypher"),
    ]  # fmt: skip
    for n, (method, path) in enumerate(paths):
        # a new made-up user name each time: one name guessed 10 times is refused with 429
        # (tests/api/server/test_logins.py)
        bad_tokens = [None, "Bearer nonsense", f"Bearer rg_{n:012x}_" + "A" * 43, "Basic abc"]
        for bad in bad_tokens:
            headers = {"Authorization": bad} if bad else {}
            r = env.client.request(method, f"/api/v1{path}", headers=headers, json={})
            assert r.status_code == 401, (method, path, bad, r.status_code)
            assert r.json()["error"]["code"] == "unauthorized"
    assert env.client.get("/api/v1/healthz").status_code == 200


def test_disabled_user_is_refused(env):
    from sqlalchemy import update

    from api.server.state.models import User

    assert env.get("aid_in", "/me").status_code == 200
    with env.db.write() as s:
        s.execute(update(User).where(User.name == "aid_in").values(disabled=True))
    # a token checked moments ago is trusted for the auth cache's few seconds, no longer
    env.client.app.state.services.principals.clear()
    assert env.get("aid_in", "/me").status_code == 401


def test_auth_cache_trusts_a_token_for_its_ttl_only(memory_env):
    from sqlalchemy import update

    from api.server.state.models import User

    cache = memory_env.client.app.state.services.principals
    cache.ttl = 0.5
    assert memory_env.get("aid_in", "/me").status_code == 200
    with memory_env.db.write() as s:
        s.execute(update(User).where(User.name == "aid_in").values(disabled=True))
    assert memory_env.get("aid_in", "/me").status_code == 200  # within the TTL
    time.sleep(0.6)
    assert memory_env.get("aid_in", "/me").status_code == 401
    cache.ttl = 0  # off: every request asks the state DB
    with memory_env.db.write() as s:
        s.execute(update(User).where(User.name == "aid_in").values(disabled=False))
    assert memory_env.get("aid_in", "/me").status_code == 200
    with memory_env.db.write() as s:
        s.execute(update(User).where(User.name == "aid_in").values(disabled=True))
    assert memory_env.get("aid_in", "/me").status_code == 401
    # unknown tokens are never cached as good
    bad = {"Authorization": "Bearer rg_x_" + "A" * 43}
    assert memory_env.client.get("/api/v1/me", headers=bad).status_code == 401


def test_me(env):
    for user in ALL:
        r = env.get(user, "/me")
        assert r.status_code == 200
        assert r.json()["role"] == USERS[user][0]
    assert env.get("admin", "/me").json()["regions"] == ["000000"]
    assert env.get("debt_in", "/me").json()["personal_clearance"] is False


def test_entity_detail_matrix(env):
    national_or_in = {"admin", "inv_nat"}
    # a resident ID is looked up only with personal-data clearance: for a debt analyst a real
    # one answers as a made-up one does (no existence oracle; issue 15)
    _status_matrix(env, "GET", f"/entities/{P1}", _expect(national_or_in | {"aid_in", "inv_in"}))
    # households are aid data: debt analysts never see them
    _status_matrix(env, "GET", "/entities/H1", _expect(national_or_in | {"aid_in", "inv_in"}))
    _status_matrix(env, "GET", "/entities/H2", _expect(national_or_in | {"aid_out", "inv_out"}))
    _status_matrix(
        env, "GET", f"/entities/{E1}", _expect(national_or_in | {"debt_in", "aid_in", "inv_in"})
    )
    # loans are debt data: aid inspectors never see them
    _status_matrix(env, "GET", "/entities/L1", _expect(national_or_in | {"debt_in", "inv_in"}))
    # P3's ID was issued in 410822 but P3 lives in household H2 (420102)
    _status_matrix(
        env, "GET", f"/entities/{P3}",
        _expect(national_or_in | {"aid_out", "inv_out"}),
    )  # fmt: skip


def _node_ids(resp) -> set[str]:
    return {n["id"] for n in resp.json()["nodes"]}


def test_neighbourhood_never_leaks_out_of_scope_nodes(env):
    _status_matrix(
        env, "GET", f"/entities/{A1}/neighborhood?hops=2",
        _expect({"admin", "inv_nat", "aid_in", "aid_out", "inv_in", "inv_out"}),
    )  # fmt: skip
    full = _node_ids(env.get("admin", f"/entities/{A1}/neighborhood", params={"hops": 2}))
    assert {"PAY1", "PAY2", "H1", "H2", P1, P2} <= full
    inside = env.get("aid_in", f"/entities/{A1}/neighborhood", params={"hops": 2})
    assert _node_ids(inside) == {A1, P1, "PAY1", "H1", "13812345678"}
    assert not {"PAY2", "H2", P2} & _node_ids(inside)
    for e in inside.json()["edges"]:
        assert e["src"] in _node_ids(inside) and e["dst"] in _node_ids(inside)
    outside = env.get("aid_out", f"/entities/{A1}/neighborhood", params={"hops": 2})
    assert {"PAY2", "H2", P2} <= _node_ids(outside)
    assert not {"PAY1", "H1", P1} & _node_ids(outside)
    city = env.get("inv_in", f"/entities/{A1}/neighborhood", params={"hops": 3})
    assert not {"PAY2", "H2", P2, E4} & _node_ids(city)


def test_neighbourhood_type_filter(env):
    r = env.get("admin", f"/entities/{A1}/neighborhood", params={"types": "PAID_INTO"})
    assert _node_ids(r) == {A1, "PAY1", "PAY2"}
    assert {e["type"] for e in r.json()["edges"]} == {"PAID_INTO"}
    assert (
        env.get("admin", f"/entities/{A1}/neighborhood", params={"types": "NOPE"}).status_code
        == 400
    )


def test_paths_drop_routes_through_hidden_nodes(env):
    path = f"/paths?source={P1}&target={E4}"
    # P1 is a resident ID: not an endpoint a debt analyst (no clearance) may name
    _status_matrix(env, "GET", path, _expect({"admin", "inv_nat", "aid_in", "inv_in"}))
    admin = env.get("admin", path).json()["paths"]
    assert [[n["id"] for n in p["nodes"]] for p in admin] == [[P1, "13812345678", P2, E4]]
    for user in ("aid_in", "inv_in"):
        assert env.get(user, path).json()["paths"] == [], user
    # inside the scope, every shortest path is returned (P2 is H2's member and head)
    r = env.get("aid_out", f"/paths?source={P2}&target=H2").json()["paths"]
    assert [[n["id"] for n in p["nodes"]] for p in r] == [[P2, "H2"], [P2, "H2"]]
    assert sorted(p["edges"][0]["type"] for p in r) == ["HEADED_BY", "MEMBER_OF"]


def test_control_hides_chains_through_out_of_scope_owners(env):
    _status_matrix(
        env, "GET", f"/entities/{E3}/control",
        _expect({"admin", "inv_nat", "debt_in", "aid_in", "inv_in"}),
    )  # fmt: skip
    admin = env.get("admin", f"/entities/{E3}/control").json()
    assert [c["controller_id"] for c in admin["controllers"]] == [G2]
    assert admin["controllers"][0]["chain"][0] == G2 and admin["controllers"][0]["gov_linked"]
    scoped = env.get("debt_in", f"/entities/{E3}/control").json()
    assert scoped["controllers"] == [] and scoped["direct_holders"] == []
    e1 = env.get("debt_in", f"/entities/{E1}/control").json()
    assert {h["holder_id"] for h in e1["direct_holders"]} == {G1}  # E2 (420102) is hidden
    assert [c["controller_id"] for c in e1["controllers"]] == [G1]
    assert {
        h["holder_id"] for h in env.get("admin", f"/entities/{E1}/control").json()["direct_holders"]
    } == {G1, E2}
    assert env.get("admin", "/entities/H1/control").status_code == 404


def test_flag_list_is_filtered_by_family_and_region(env):
    for user in ALL:
        r = env.get(user, "/flags")
        assert r.status_code == 200
        got = {
            k for k, fid in env.flag_ids.items() if fid in {f["flag_id"] for f in r.json()["items"]}
        }
        assert got == EXPECTED_FLAGS[user], user
        assert r.json()["total"] == len(EXPECTED_FLAGS[user])


def test_flag_filters_and_paging(env):
    r = env.get("admin", "/flags", params={"limit": 2, "offset": 0}).json()
    assert r["total"] == 6 and len(r["items"]) == 2
    scores = [f["score"] for f in env.get("admin", "/flags").json()["items"]]
    assert scores == sorted(scores, reverse=True)
    assert env.get("admin", "/flags", params={"family": "aid"}).json()["total"] == 3
    assert env.get("admin", "/flags", params={"severity": "high"}).json()["total"] == 3
    assert env.get("admin", "/flags", params={"detector": "guarantee.mutual"}).json()["total"] == 1
    assert env.get("admin", "/flags", params={"region": "410800"}).json()["total"] == 3
    assert env.get("inv_in", "/flags", params={"region": "410822"}).json()["total"] == 2
    # a region filter outside your scope is refused, not silently empty
    assert env.get("inv_in", "/flags", params={"region": "420000"}).status_code == 403
    assert env.get("admin", "/flags", params={"status": "open"}).json()["total"] == 6


def test_flag_detail_review_and_graph_matrix(env):
    for key, fid in env.flag_ids.items():
        ok = {u for u in ALL if key in EXPECTED_FLAGS[u]}
        _status_matrix(env, "GET", f"/flags/{fid}", _expect(ok))
        _status_matrix(env, "GET", f"/flags/{fid}/graph?format=graphml", _expect(ok))
        _status_matrix(env, "GET", f"/flags/{fid}/reviews", _expect(ok))
        _status_matrix(
            env, "POST", f"/flags/{fid}/reviews", _expect(ok, 201),
            json={"decision": "needs_field_check", "comment": key},
        )  # fmt: skip
    assert env.get("admin", "/flags/Fnope").status_code == 404


def test_flag_subgraph_is_scoped(env):
    fid = env.flag_ids["aid_out"]
    admin = {n["id"] for n in env.get("admin", f"/flags/{fid}").json()["subgraph"]["nodes"]}
    assert {A1, "H1", "H2", P1, P2} <= admin
    scoped = {n["id"] for n in env.get("aid_out", f"/flags/{fid}").json()["subgraph"]["nodes"]}
    assert {A1, "H2", P2} <= scoped
    assert not {"H1", P1, "PAY1"} & scoped


def test_search_is_scoped_and_personal_search_needs_clearance(env):
    def ids(user, q, **params):
        r = env.get(user, "/entities", params={"q": q, **params})
        assert r.status_code == 200
        return {n["id"] for n in r.json()["items"]}

    assert P1 in ids("aid_in", "张三")
    assert ids("aid_out", "张三") == set()
    assert ids("debt_in", "张三") == set()  # names of persons are personal: not searchable
    assert ids("debt_in", P1[:8]) == set()  # neither are resident IDs
    assert P1 in ids("inv_in", P1[:8])
    assert {E1, E3, E4} <= ids("debt_in", "博爱", label="Enterprise")
    assert ids("aid_out", "博爱", label="Enterprise") == set()
    assert ids("debt_in", "H1") == set() and "H1" in ids("aid_in", "H1")
    assert env.get("admin", "/entities", params={"q": "x", "label": "Nope"}).status_code == 422
    assert env.get("admin", "/entities", params={"q": "xy", "label": "Nope"}).status_code == 400


def test_cases_matrix(env):
    fid = env.flag_ids["aid_in"]
    body = {"title": "张三 case", "region_code": "410822", "flag_ids": [fid]}
    got = {u: env.post(u, "/cases", body).status_code for u in ALL}
    assert got == {
        "admin": 201, "inv_nat": 201, "inv_in": 201, "aid_in": 201,
        "aid_out": 403, "inv_out": 403, "debt_out": 403,  # region outside scope
        "debt_in": 404,  # region fine, flag not visible to the role
    }  # fmt: skip
    case = env.post("aid_in", "/cases", body).json()
    cid = case["id"]
    _status_matrix(
        env, "GET", f"/cases/{cid}", _expect({"admin", "inv_nat", "aid_in", "inv_in", "debt_in"})
    )
    assert env.get("debt_in", f"/cases/{cid}").json()["flag_ids"] == []  # flag hidden from role
    assert env.get("inv_in", f"/cases/{cid}").json()["flag_ids"] == [fid]
    listed = {u: {c["id"] for c in env.get(u, "/cases").json()["items"]} for u in ALL}
    assert cid in listed["aid_in"] and cid not in listed["aid_out"]
    # only the creator or an admin deletes
    for user in ("inv_in", "debt_in"):
        assert env.client.delete(f"/api/v1/cases/{cid}", headers=env.h(user)).status_code == 403
    assert env.client.delete(f"/api/v1/cases/{cid}", headers=env.h("aid_out")).status_code == 404
    assert env.client.delete(f"/api/v1/cases/{cid}", headers=env.h("aid_in")).status_code == 204
    assert env.get("aid_in", f"/cases/{cid}").status_code == 404


def test_case_update_and_assignment(env):
    fid = env.flag_ids["aid_in"]
    case = env.post("inv_in", "/cases", {"title": "t", "region_code": "410822"}).json()
    cid = case["id"]
    patch = env.client.patch
    r = patch(f"/api/v1/cases/{cid}", headers=env.h("inv_in"),
              json={"add_flags": [fid], "assignee": "aid_in", "status": "in_progress",
                    "version": case["version"]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["flag_ids"] == [fid] and r.json()["assignee"] == "aid_in"
    assert env.get("aid_in", "/cases", params={"assignee": "aid_in"}).json()["total"] == 1
    # stale version
    stale = patch(f"/api/v1/cases/{cid}", headers=env.h("inv_in"), json={"version": 1})
    assert stale.status_code == 409
    # an assignee who cannot see the region
    bad = patch(f"/api/v1/cases/{cid}", headers=env.h("inv_in"), json={"assignee": "aid_out"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_assignee"
    # ... answers exactly as a name nobody has (issue 15: no user-name oracle)
    nobody = patch(f"/api/v1/cases/{cid}", headers=env.h("inv_in"), json={"assignee": "nobody"})
    assert (nobody.status_code, nobody.json()["error"]["code"]) == (400, "bad_assignee")
    assert (
        nobody.json()["error"]["message"].replace("nobody", "aid_out")
        == (bad.json()["error"]["message"])
    )
    # a flag outside the case's region
    other = env.flag_ids["aid_city"]
    r = patch(f"/api/v1/cases/{cid}", headers=env.h("inv_in"), json={"add_flags": [other]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "flag_out_of_case_region"
    r = patch(f"/api/v1/cases/{cid}", headers=env.h("inv_in"), json={"remove_flags": [fid]})
    assert r.json()["flag_ids"] == []


def test_admin_only_endpoints(env):
    admin_only = {u: 403 for u in ALL} | {"admin": 200}
    _status_matrix(env, "GET", "/audit", admin_only)
    _status_matrix(env, "GET", "/audit/verify", admin_only)
    _status_matrix(env, "GET", "/scans", admin_only)
    _status_matrix(env, "GET", "/scans/1", admin_only)
    _status_matrix(
        env, "POST", "/scans", {u: 403 for u in ALL} | {"admin": 400},
        json={"dataset_dir": "no-such-dir"},
    )  # fmt: skip


def test_cypher_roles(env):
    body = {"query": "MATCH (n:Household) RETURN n LIMIT 5"}
    # national scopes only: a regional investigator is refused like any other role (issue 15)
    allowed = {"admin", "inv_nat"}
    ok = 200 if env.store.supports_cypher else 400
    _status_matrix(env, "POST", "/cypher", {u: ok if u in allowed else 403 for u in ALL}, json=body)
    if not env.store.supports_cypher:
        r = env.post("inv_nat", "/cypher", body)
        assert r.json()["error"]["message"] == "cypher needs the neo4j store"


@pytest.mark.parametrize("user", ["aid_in", "inv_in"])
def test_unknown_and_hidden_entities_look_the_same(env, user):
    hidden = env.get(user, f"/entities/{P2}")
    missing = env.get(user, "/entities/410000000000000000")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"] == missing.json()["error"]["message"]


def _web(env, user: str, path: str, **kw):
    return env.client.get(path, headers=env.h(user), **kw)


def test_export_and_evidence_matrix(env):
    """The web downloads and evidence reads: each user gets exactly their flags, in every
    format, and a flag's entities and evidence cut to their scope (issue 15)."""
    import io
    import zipfile

    for user in ALL:
        mine = {env.flag_ids[k] for k in EXPECTED_FLAGS[user]}
        others = set(env.flag_ids.values()) - mine
        queue = _web(env, user, "/web/api/flags", params={"limit": 200})
        assert queue.status_code == 200
        assert {f["flag_id"] for f in queue.json()["items"]} == mine, user
        report = _web(env, user, "/web/report.html")
        xlsx = _web(env, user, "/web/export.xlsx")
        assert report.status_code == xlsx.status_code == 200
        with zipfile.ZipFile(io.BytesIO(xlsx.content)) as z:
            sheets = "".join(z.read(n).decode("utf-8") for n in z.namelist())
        for fid in mine:
            assert fid in sheets, (user, fid)
        for fid in others:
            assert fid not in sheets, (user, fid)
        assert f"线索清单 ({len(mine)})" in report.text or f"({len(mine)})</h2>" in report.text
        # every role has a dashboard over its own regions (issue 17)
        assert _web(env, user, "/web/api/dashboard").status_code == 200, user
    # flags by entity: the entity's own visibility first (404 like a missing one), then flags
    for eid, ok in ((f"{P1}", {"admin", "inv_nat", "aid_in", "inv_in"}),
                    ("H2", {"admin", "inv_nat", "aid_out", "inv_out"})):  # fmt: skip
        got = {u: _web(env, u, f"/web/api/entities/{eid}/flags").status_code for u in ALL}
        assert got == _expect(ok), eid
    # the 420102 inspector reads the shared-account flag without the 410822 household and person
    flag = env.get("aid_out", f"/flags/{env.flag_ids['aid_out']}").json()
    assert P1 not in flag["entities"] and "H1" not in flag["entities"]
    assert flag["withheld"]["entities"] == 3  # H1, P1 of the entities; H1 of evidence.households
    assert {n["id"] for n in flag["subgraph"]["nodes"]} & {P1, "H1", "PAY1"} == set()
    graph = env.get("aid_out", f"/flags/{env.flag_ids['aid_out']}/graph?format=graphml").text
    assert P1 not in graph and "张三" not in graph  # A1's holder_id (P1) is cut from its node
    whole = env.get("admin", f"/flags/{env.flag_ids['aid_out']}").json()
    assert P1 in whole["entities"] and whole["withheld"]["entities"] == 0
