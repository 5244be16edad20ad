"""No existence oracles (issue 15, probe 3): for a role without personal-data clearance, every
lookup by a resident ID answers exactly as it does for a made-up one, on every endpoint."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import E1, P1, P5, pid
from tests.api.server.test_scope_bytes import sign_in

#: valid resident IDs (checksum and all) of nobody in the graph, issued in the same regions
MADE_UP = {P1: pid("410822", "19650304", "999"), P5: pid("410802", "19720709", "998")}
_VOLATILE = re.compile(r'"request_id":"[0-9a-f]+"|content="[^"]{20,}"|value="[^"]{20,}"')


def _answer(r) -> tuple[int, str]:
    return r.status_code, _VOLATILE.sub("", r.text)


@pytest.mark.parametrize("user", ["debt_in", "debt_out"])
def test_a_real_resident_id_answers_like_a_made_up_one(env, user):
    paths = [
        "/api/v1/entities/{}", "/api/v1/entities/{}?label=Person",
        "/api/v1/entities/{}/neighborhood", "/api/v1/entities/{}/neighborhood?hops=3",
        "/api/v1/entities/{}/control", f"/api/v1/paths?source={{}}&target={E1}",
        f"/api/v1/paths?source={E1}&target={{}}", "/web/api/entities/{}/flags",
        "/web/api/entities/{}/flags?label=Person",
    ]  # fmt: skip
    for real, fake in MADE_UP.items():
        for path in paths:
            a = _answer(env.client.get(path.format(real), headers=env.h(user)))
            b = _answer(env.client.get(path.format(fake), headers=env.h(user)))
            assert a == b, (user, path)
            assert a[0] == 404
    sign_in(env.client, env.tokens[user])
    for real, fake in MADE_UP.items():
        a = _answer(env.client.get(f"/web/entities/{real}"))
        b = _answer(env.client.get(f"/web/entities/{fake}"))
        assert a == b and a[0] == 404
    env.client.cookies.clear()


def test_cleared_roles_still_open_people_in_their_scope(env):
    assert env.get("aid_in", f"/entities/{P1}").status_code == 200
    assert env.get("inv_nat", f"/entities/{P5}").status_code == 200
    assert env.get("aid_in", f"/entities/{MADE_UP[P1]}").status_code == 404
