"""Denied requests are audited (issue 15, probe 5b): probing another county's entities or
``/audit`` as a non-admin leaves a trace; a flood of denials is rate-limited, not lost."""

from __future__ import annotations

import json

from api.server.denials import DenialLimiter
from tests.api.conftest import P2


def _rows(env, action: str) -> list[dict]:
    items = env.get("admin", "/audit", params={"action": action, "limit": 1000}).json()["items"]
    return list(reversed(items))


def test_denials_on_scoped_resources_are_audited(memory_env):
    env = memory_env
    assert env.get("aid_in", f"/entities/{P2}").status_code == 404  # 420102: not theirs
    assert env.get("aid_in", f"/entities/{P2}/neighborhood").status_code == 404
    assert env.get("aid_in", f"/flags/{env.flag_ids['aid_out']}").status_code == 404
    assert env.get("aid_in", "/audit").status_code == 403
    assert env.client.get("/api/v1/flags").status_code == 401
    bad = {"Authorization": "Bearer rg_000000000000_" + "A" * 43}
    assert env.client.get(f"/api/v1/entities/{P2}", headers=bad).status_code == 401
    assert env.client.get("/web/api/flags").status_code == 401
    rows = _rows(env, "denied")
    got = [(r["actor"], r["resource"], json.loads(r["detail"])["status"]) for r in rows]
    assert got == [
        ("aid_in", f"GET /api/v1/entities/{P2}", 404),
        ("aid_in", f"GET /api/v1/entities/{P2}/neighborhood", 404),
        ("aid_in", f"GET /api/v1/flags/{env.flag_ids['aid_out']}", 404),
        ("aid_in", "GET /api/v1/audit", 403),
        ("anonymous", "GET /api/v1/flags", 401),
        ("anonymous", f"GET /api/v1/entities/{P2}", 401),
        ("anonymous", "GET /web/api/flags", 401),
    ]
    assert all(r["request_id"] for r in rows)
    # reads that succeed are not denials; the chain stays intact
    assert env.get("aid_in", "/flags").status_code == 200
    assert len(_rows(env, "denied")) == len(rows)
    assert env.get("admin", "/audit/verify").json()["ok"]


def test_a_flood_of_denials_is_rate_limited_and_counted(memory_env):
    env = memory_env
    now = [0.0]
    # the app's limiter, made small and given a clock the test moves
    limiter: DenialLimiter = env.client.app.state.denial_limiter
    limiter.per_key, limiter.clock = 5, lambda: now[0]
    for i in range(40):
        assert env.get("aid_in", f"/entities/4201021970010100{i:02d}").status_code == 404
    assert len(_rows(env, "denied")) == 5
    now[0] = 61.0  # the next minute: the first row says how many were not written
    assert env.get("aid_in", f"/entities/{P2}").status_code == 404
    rows = _rows(env, "denied")
    assert len(rows) == 6 and json.loads(rows[-1]["detail"])["suppressed_before"] == 35
    # another user's flood in a minute that ends quietly: its count is written all the same
    for _ in range(8):
        env.get("debt_in", "/audit")
    now[0] = 130.0
    env.client.get("/api/v1/me")  # anyone's next denial writes the pending counts
    summary = _rows(env, "denials_suppressed")
    assert [json.loads(r["detail"]) for r in summary] == [{"key": "user:debt_in", "count": 3}]
