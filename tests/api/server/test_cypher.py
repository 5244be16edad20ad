"""Read-only Cypher: the tokenizer guard, the READ transaction behind it, time and row limits,
region scoping of results; write clauses, write procedures and injection strings rejected."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.server.cypher_guard import FORBIDDEN, CypherRejected, check_read_only, tokenize
from api.server.errors import ApiError
from api.server.models import CypherRequest
from tests.api.conftest import make_env

WRITES = [
    "CREATE (n:Household {id: 'X'})",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n:Household) DELETE n",
    "MERGE (n:Household {id: 'H1'}) ON MATCH SET n.status = 'exited'",
    "MATCH (n:Household) SET n.status = 'exited' RETURN n",
    "MATCH (n:Household) SET n:Hidden",
    "MATCH (n:Household) REMOVE n.status",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "LOAD CSV WITH HEADERS FROM 'https://example.org/x.csv' AS r CREATE (:X {a: r.a})",
    "UNWIND [1, 2] AS x FOREACH (i IN [x] | CREATE (:X {i: i}))",
    "CALL db.createLabel('Hack')",
    "CALL db.createProperty('p')",
    "CALL dbms.security.createUser('eve', 'pw', false)",
    "CALL dbms.killQueries(['query-1'])",
    "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {})",
    "RETURN apoc.cypher.runFirstColumnSingle('CREATE (n) RETURN n', {})",
    "CALL { MATCH (n) DETACH DELETE n } IN TRANSACTIONS",
    "USE system SHOW USERS",
    "USE system CREATE USER eve SET PASSWORD 'x'",
    "SHOW DATABASES",
    "DROP INDEX household_id",
    "CREATE INDEX x FOR (n:Household) ON (n.status)",
    "ALTER USER neo4j SET PASSWORD 'x'",
    "GRANT ROLE admin TO eve",
    "STOP DATABASE neo4j",
    "INSERT (:Household {id: 'X'})",
    "match (n) detach delete n",
    "MATCH (n) /* hide */ DETACH /* it */ DELETE n",
    "MATCH (n) RETURN n\nCREATE (m)",
    "CALL `dbms`.`security`.`createUser`('eve', 'pw', false)",
]
INJECTIONS = [
    "MATCH (n:Household {id: 'H1'}) RETURN n; MATCH (m) DETACH DELETE m",
    "MATCH (n:Household) WHERE n.id = '' RETURN n UNION MATCH (m) DETACH DELETE m RETURN m",
    "RETURN 'unterminated",
    "MATCH (n) RETURN n /* unterminated comment",
    "RETURN 1;;",
    "RETURN `unterminated",
    "MATCH (n) CALL { WITH n SET n.x = 1 } RETURN n",
    "MATCH (n) WITH n, 1. DELETE n",
]
READS = [
    "MATCH (h:Household) RETURN h",
    "MATCH (h:Household {id: $id}) RETURN h",
    "MATCH (n) WHERE n.set = 1 OR n.delete = 2 RETURN n",
    "MATCH (n:Merge)-[r:CREATE]->(m) RETURN n, r, m",
    "RETURN {delete: 1, create: 'SET'} AS m",
    "MATCH (n) RETURN 'CREATE (x)', \"DETACH DELETE\" // CREATE in a comment",
    "/* SET */ MATCH (n) RETURN n LIMIT 1;",
    "CALL db.labels()",
    "CALL db.schema.visualization()",
    "CALL { MATCH (n:Household) RETURN n } RETURN n",
    "MATCH p = shortestPath((a)-[*..4]-(b)) WHERE a.id = $a AND b.id = $b RETURN p",
    "MATCH (n) RETURN n.`create` AS c",
    "MATCH (n) WHERE n.id = 'x' RETURN n // '; DROP",
    "MATCH (n) RETURN n; ",
]


@pytest.mark.parametrize("query", WRITES + INJECTIONS)
def test_writes_and_injections_are_rejected(query):
    with pytest.raises(CypherRejected):
        check_read_only(query)


@pytest.mark.parametrize("query", READS)
def test_reads_pass_the_guard(query):
    check_read_only(query)


_ident = st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z")
_keyword = st.sampled_from(sorted(FORBIDDEN - {"TRANSACTIONS", "PERIODIC"}))


@given(_keyword, _ident, st.booleans())
def test_keywords_in_strings_and_comments_are_data(keyword, name, lower):
    kw = keyword.lower() if lower else keyword
    check_read_only(f"MATCH (n) WHERE n.{name} = '{kw} (x)' RETURN n // {kw}")
    check_read_only(f'RETURN "{kw}" /* {kw} */ AS {name}')


@given(_keyword, _ident, st.booleans())
def test_keywords_as_clauses_are_rejected(keyword, name, lower):
    kw = keyword.lower() if lower else keyword
    with pytest.raises(CypherRejected):
        check_read_only(f"MATCH ({name}) {kw} {name}")


def test_tokenizer_keeps_strings_whole():
    toks = tokenize("RETURN 'it\\'s // not a comment' AS x // a comment")
    assert [t.kind for t in toks] == ["word", "string", "word", "word"]


# -- against a real Neo4j -------------------------------------------------------------------


@pytest.fixture
def neo_env(store_factory, sqlite_url, tmp_path):
    e = make_env(store_factory("neo4j"), sqlite_url, tmp_path)
    with e.client:
        yield e
    e.db.close()


def _cypher(env, user, query, **kw):
    return env.post(user, "/cypher", {"query": query, **kw})


@pytest.mark.neo4j
def test_national_scope_reads_everything(neo_env):
    env = neo_env
    q = "MATCH (h:Household) RETURN h ORDER BY h.id"
    nat = _cypher(env, "inv_nat", q).json()
    assert [r[0]["id"] for r in nat["rows"]] == ["H1", "H2"]
    assert nat["columns"] == ["h"] and nat["rows"][0][0]["kind"] == "node"
    paths = _cypher(
        env, "admin", "MATCH p = (h:Household)-[:HEADED_BY]->(:Person) RETURN p ORDER BY h.id"
    ).json()
    assert len(paths["rows"]) == 2 and paths["rows"][0][0]["kind"] == "path"
    r = _cypher(env, "inv_nat", "MATCH (h:Household) RETURN h.id AS id ORDER BY id").json()
    assert r["rows"] == [["H1"], ["H2"]]


def _uniform(r) -> tuple[int, str, str]:
    err = r.json()["error"]
    return r.status_code, err["code"], err["message"]


@pytest.mark.parametrize("kind", ["memory", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_scoped_users_get_one_403_whatever_they_ask(store_factory, sqlite_url, tmp_path, kind):
    """Issue 15, probe 2: a scoped investigator could read any out-of-scope property through
    the predicate of an EXISTS subquery (one row or none). Cypher is for national scopes only;
    everyone else gets the same 403 whatever the query, and each refusal is audited."""
    from tests.api.conftest import P2

    env = make_env(store_factory(kind), sqlite_url, tmp_path)
    with env.client:
        oracle = (
            "MATCH (r:Region {id: '410822'}) WHERE EXISTS { MATCH (p:Person {id: $p}) "
            "WHERE p.name STARTS WITH $x } RETURN r"
        )
        answers = set()
        for user in ("inv_in", "inv_out", "debt_in", "aid_in", "aid_out"):
            for x in ("王", "张"):
                r = _cypher(env, user, oracle, parameters={"p": P2, "x": x})
                answers.add(_uniform(r))
            answers.add(_uniform(_cypher(env, user, "MATCH (n RETURN n")))
            answers.add(_uniform(_cypher(env, user, "MATCH (n) DETACH DELETE n")))
        assert answers == {(403, "forbidden", "Cypher queries are not available to you")}
        refused = env.get("admin", "/audit", params={"action": "cypher_refused", "limit": 100})
        assert refused.json()["total"] == 5 * 4
        item = refused.json()["items"][0]
        assert "query" in item["detail"] and item["role"] in ("investigator", "aid_inspector")
    env.db.close()


@pytest.mark.parametrize("kind", ["memory", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_every_cypher_request_is_audited(store_factory, sqlite_url, tmp_path, kind):
    """Allowed, rejected, failed, timed-out, malformed: one audit row each, with the outcome."""
    env = make_env(store_factory(kind), sqlite_url, tmp_path)
    with env.client:
        sent = [
            ("MATCH (h:Household) RETURN h", {}),
            ("MATCH (n) DETACH DELETE n", {}),
            ("MATCH (n RETURN n", {}),
            ("UNWIND range(1, 2000000000) AS x WITH x WHERE x < 0 RETURN count(x)",
             {"timeout_s": 0.5}),
        ]  # fmt: skip
        codes = [_cypher(env, "inv_nat", q, **kw).status_code for q, kw in sent]
        bad_body = env.post("inv_nat", "/cypher", {"query": 42, "limit": -1})
        assert bad_body.status_code == 422
        rows = env.get("admin", "/audit", params={"limit": 1000}).json()["items"]
        cypher_rows = [r for r in rows if r["action"].startswith("cypher")]
        assert len(cypher_rows) == len(sent) + 1, [r["action"] for r in cypher_rows]
        outcomes = sorted(json.loads(r["detail"])["outcome"] for r in cypher_rows)
        if kind == "neo4j":
            assert codes == [200, 400, 400, 400]
            assert outcomes == ["error", "invalid", "ok", "rejected", "timeout"]
        else:  # the embedded store runs no Cypher: every request is still audited
            assert codes == [400, 400, 400, 400]
            assert outcomes == [
                "invalid",
                "unavailable",
                "unavailable",
                "unavailable",
                "unavailable",
            ]
    env.db.close()


@pytest.mark.neo4j
def test_writes_are_rejected_and_nothing_changes(neo_env):
    env = neo_env
    before = env.store.counts()
    for query in WRITES + INJECTIONS:
        r = _cypher(env, "admin", query)
        assert r.status_code == 400, query
        assert r.json()["error"]["code"] == "cypher_rejected", query
    assert env.store.counts() == before
    rejected = env.get("admin", "/audit", params={"action": "cypher_rejected", "limit": 1000})
    assert rejected.json()["total"] == len(WRITES + INJECTIONS)


@pytest.mark.neo4j
def test_read_transaction_refuses_writes_even_past_the_guard(neo_env):
    """Defence in depth: the statement runs in a READ transaction the server enforces."""
    from api.access.roles import ROLES
    from api.access.scopes import RegionScope
    from api.server.auth.principals import Principal
    from api.server.graph.access import GraphAccess
    from api.server.graph.scoped import ScopedGraph
    from api.server.routes.graph import _run_read_only

    env = neo_env
    before = env.store.counts()
    graph = ScopedGraph(
        GraphAccess(env.store), Principal(1, "t", ROLES["admin"], RegionScope(["000000"]))
    )
    for query in ("CREATE (n:Household {id: 'X'}) RETURN n", "MATCH (n) DETACH DELETE n",
                  "MATCH (h:Household) SET h.status = 'gone' RETURN h"):  # fmt: skip
        with pytest.raises(ApiError) as err:
            _run_read_only(graph, CypherRequest(query=query))
        assert err.value.status == 400 and err.value.code == "cypher_rejected"
    assert env.store.counts() == before


@pytest.mark.neo4j
def test_parameters_are_data_not_code(neo_env):
    env = neo_env
    q = "MATCH (h:Household) WHERE h.id = $id RETURN h"
    for evil in (
        "H1' OR 1=1 //",
        "x'}) DETACH DELETE h //",
        'H1" RETURN 1 UNION MATCH (m) RETURN m',
    ):
        r = _cypher(env, "inv_nat", q, parameters={"id": evil})
        assert r.status_code == 200 and r.json()["rows"] == []
    ok = _cypher(env, "inv_nat", q, parameters={"id": "H1"}).json()
    assert [row[0]["id"] for row in ok["rows"]] == ["H1"]
    assert env.store.counts()["nodes"]["Household"] == 2


@pytest.mark.neo4j
def test_row_and_time_limits(neo_env):
    env = neo_env
    r = _cypher(env, "inv_nat", "UNWIND range(1, 1000) AS x RETURN x", limit=3).json()
    assert r["rows"] == [[1], [2], [3]] and r["truncated"] is True
    slow = "UNWIND range(1, 2000000000) AS x WITH x WHERE x < 0 RETURN count(x)"
    r = _cypher(env, "inv_nat", slow, timeout_s=0.5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "cypher_timeout"
    bad = _cypher(env, "inv_nat", "MATCH (n RETURN n")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "cypher_error"
    audited = env.get("admin", "/audit", params={"action": "cypher"}).json()["items"]
    assert audited and "UNWIND range(1, 1000)" in audited[-1]["detail"]
