"""One JSON error shape for every error status, and no stack traces to clients."""

from __future__ import annotations

import re

from fastapi import APIRouter

from api.server.state.models import DECISIONS, FLAG_STATUSES, Scan, utcnow
from tests.api.conftest import P1


def _assert_shape(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "request_id"}
    assert all(isinstance(v, str) and v for v in err.values())
    assert err["request_id"] == resp.headers["X-Request-ID"]
    if code is not None:
        assert err["code"] == code
    assert "Traceback" not in resp.text and 'File "' not in resp.text
    return err


def test_error_shape_for_every_status(memory_env):
    env = memory_env
    _assert_shape(env.get("admin", "/entities/x", params={"label": "Nope"}), 400, "unknown_label")
    _assert_shape(env.client.get("/api/v1/flags"), 401, "unauthorized")
    _assert_shape(env.get("aid_in", "/audit"), 403, "forbidden")
    _assert_shape(env.get("admin", "/flags/Fdoesnotexist"), 404, "not_found")
    _assert_shape(env.client.get("/api/v1/no-such-endpoint"), 404, "not_found")
    _assert_shape(env.client.put("/api/v1/flags", headers=env.h("admin")), 405)
    _assert_shape(env.get("admin", "/flags", params={"limit": "many"}), 422, "invalid_request")
    bad_review = env.post(
        "admin", f"/flags/{env.flag_ids['aid_in']}/reviews", {"decision": "maybe"}
    )
    err = _assert_shape(bad_review, 422, "invalid_request")
    assert "decision" in err["message"]
    _assert_shape(
        env.client.post(f"/api/v1/flags/{env.flag_ids['aid_in']}/reviews", headers=env.h("admin"),
                        content=b"{not json"),
        422,
    )  # fmt: skip
    case = env.post("admin", "/cases", {"title": "t", "region_code": "410822"}).json()
    env.client.patch(f"/api/v1/cases/{case['id']}", headers=env.h("admin"), json={"title": "u"})
    stale = env.client.patch(
        f"/api/v1/cases/{case['id']}", headers=env.h("admin"), json={"title": "v", "version": 1}
    )
    _assert_shape(stale, 409, "conflict")


def test_scan_already_running_is_a_conflict(memory_env):
    env = memory_env
    (env.tmp / "datasets" / "d1").mkdir()
    with env.db.write() as s:
        s.add(Scan(source="api", status="running", out_dir="-", options={},
                   requested_by="admin", created_at=utcnow()))  # fmt: skip
    _assert_shape(env.post("admin", "/scans", {"dataset_dir": "d1"}), 409, "conflict")


def test_unexpected_errors_are_500_without_details(memory_env):
    env = memory_env
    router = APIRouter()

    @router.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError(f"secret detail {P1} at /etc/passwd")

    env.client.app.include_router(router)
    resp = env.client.get("/api/v1/boom")
    err = _assert_shape(resp, 500, "internal_error")
    assert P1 not in resp.text and "secret" not in resp.text and "RuntimeError" not in resp.text
    assert "request id" in err["message"]


def test_request_ids(memory_env):
    env = memory_env
    given = env.client.get("/api/v1/healthz", headers={"X-Request-ID": "abc-12345678"})
    assert given.headers["X-Request-ID"] == "abc-12345678"
    fresh = env.client.get("/api/v1/healthz", headers={"X-Request-ID": "bad id\n"})
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])


def test_api_literals_match_the_state_model():
    from typing import get_args

    from api.server.models import Decision, FlagStatus

    assert set(get_args(Decision)) == set(DECISIONS)
    assert set(get_args(FlagStatus)) == set(FLAG_STATUSES)


def test_openapi_documents_every_route_with_tags_summaries_and_error_model(memory_env):
    spec = memory_env.client.get("/openapi.json").json()
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, ops in spec["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, op in ops.items():
            assert op.get("tags") and op.get("summary"), (method, path)
            errors = [s for s in op["responses"] if s.startswith(("4", "5"))]
            assert errors, (method, path)
            for status in errors:
                ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (method, path, status)
