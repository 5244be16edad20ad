"""Property-based contract test of the whole OpenAPI spec (schemathesis): no generated request
makes the API answer 5xx, status codes are documented ones and bodies match their schemas.

Bounded: a few examples per operation (fixed seed), as an admin (everything reachable) and as a
regional aid inspector (every scoping and masking path). Operations are driven through
schemathesis' strategies with Hypothesis directly, one test per operation and role.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.server.app import create_app
from graph_models.memory_store import MemoryStore
from tests.api.conftest import make_env

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = 6


def _operations() -> list[str]:
    import tempfile

    app = create_app(store=MemoryStore(), state_db_url=f"sqlite:///{tempfile.mkdtemp()}/s.sqlite")
    spec = app.openapi()
    return [f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops]


@pytest.fixture(scope="module")
def api_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schemathesis")
    env = make_env(MemoryStore(tmp / "graph"), f"sqlite:///{tmp / 'state.sqlite'}", tmp)
    with env.client:
        env.extra["schema"] = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
        yield env
    env.db.close()


@pytest.mark.slow
@pytest.mark.parametrize("user", ["admin", "aid_in"])
@pytest.mark.parametrize("operation", _operations())
def test_no_server_errors(api_env, operation, user):
    method, path = operation.split(" ", 1)
    op = api_env.extra["schema"][path][method]
    headers = api_env.h(user)

    @given(case=op.as_strategy())
    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
