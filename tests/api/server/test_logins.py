"""Sign-ins (issue 15, probe 8): failed attempts rate-limited per user name and per client
address, tokens with an optional expiry, the same answer for unknown and known users."""

from __future__ import annotations

import datetime as dt
import re

from click.testing import CliRunner
from sqlalchemy import select, update

from api.cli.main import main
from api.server.auth.login_limits import LoginLimits
from api.server.state.models import User
from tests.api.server.web.test_session import _HIDDEN_CSRF


def _limits(env, **kw) -> LoginLimits:
    limits = env.client.app.state.services.login_limits
    for k, v in kw.items():
        setattr(limits, k, v)
    return limits


def _wrong(token: str) -> str:
    """The same user name (selector), a wrong secret."""
    return token[:16] + ("B" if token[16] != "B" else "C") + token[17:]


def test_guessing_one_users_token_is_stopped(memory_env):
    env = memory_env
    _limits(env, per_user=5)
    right = env.tokens["aid_in"]
    for _ in range(5):
        r = env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {_wrong(right)}"})
        assert r.status_code == 401
    # the name is blocked now: a wrong guess and the right token alike
    for token in (_wrong(right), right):
        r = env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert r.json()["error"]["code"] == "too_many_requests"
    # other users are not affected
    assert env.get("aid_out", "/me").status_code == 200
    # a made-up name is limited exactly alike (the limit tells nothing about who exists)
    ghost = "rg_0123456789ab_" + "A" * 43
    codes = [
        env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {ghost}"}).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_one_address_trying_many_names_is_stopped(memory_env):
    env = memory_env
    _limits(env, per_user=100, per_client=8)
    for i in range(8):
        bad = f"rg_{i:012x}_" + "A" * 43
        assert (
            env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"}).status_code
            == 401
        )
    r = env.client.get("/api/v1/me", headers=env.h("aid_in"))
    assert r.status_code == 429  # the address is blocked, for every name


def test_the_web_form_is_limited_too(memory_env):
    env = memory_env
    _limits(env, per_user=3)
    c = env.client

    def attempt(token: str) -> int:
        csrf = _HIDDEN_CSRF.search(c.get("/web/login").text).group(1)
        r = c.post(
            "/web/login", content=f"csrf_token={csrf}&next=/web/flags&token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False,
        )  # fmt: skip
        return r.status_code

    right = env.tokens["aid_in"]
    assert [attempt(_wrong(right)) for _ in range(3)] == [401, 401, 401]
    assert attempt(right) == 429


def test_a_success_clears_the_names_count(memory_env):
    env = memory_env
    _limits(env, per_user=3)
    right = env.tokens["aid_in"]
    for _ in range(2):
        env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {_wrong(right)}"})
    assert env.get("aid_in", "/me").status_code == 200
    env.client.app.state.services.principals.clear()
    for _ in range(2):
        env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {_wrong(right)}"})
    assert env.get("aid_in", "/me").status_code == 200  # 2 + 2 failures, never 3 in a row


def test_tokens_expire(memory_env):
    env = memory_env
    assert env.get("aid_in", "/me").status_code == 200
    with env.db.write() as s:
        s.execute(
            update(User)
            .where(User.name == "aid_in")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    # a cached principal is not trusted past its expiry either
    env.client.app.state.services.principals.clear()
    r = env.get("aid_in", "/me")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_users_add_expires_in(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    runner = CliRunner()
    r = runner.invoke(main, ["users", "add", "临时", "--role", "aid_inspector", "--region",
                             "410822", "--expires-in", "12h", "--state-db", url])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "valid until" in r.output
    token = r.output.strip().splitlines()[-1]
    assert re.match(r"^rg_[0-9a-f]{12}_", token)
    from api.server.state.db import StateDB

    db = StateDB(url)
    with db.read() as s:
        user = s.scalars(select(User).where(User.name == "临时")).one()
        left = user.expires_at - dt.datetime.now(dt.UTC)
        assert dt.timedelta(hours=11, minutes=59) < left <= dt.timedelta(hours=12)
    db.close()
    bad = runner.invoke(main, ["users", "add", "x", "--role", "admin", "--expires-in", "soon",
                               "--state-db", url])  # fmt: skip
    assert bad.exit_code != 0 and "--expires-in" in bad.output
