"""API test fixtures: a hand-drawn two-province graph, flags, users of every role, state DBs.

The graph (regions 410822 博爱县 and 410802 in 焦作市 410800, 河南 410000; 420102 in 武汉 420100,
湖北 420000)::

    H1 (410822) <-MEMBER_OF- P1 -HOLDS_ACCOUNT-> A1 <-PAID_INTO- PAY2 (420102) -PAID_FOR-> H2
                             |                   ^                  \\-PAID_TO-> P2 -MEMBER_OF-> H2
                             |                   PAY1 (410822) -PAID_TO-> P1, -PAID_FOR-> H1
                             +-HAS_PHONE-> PH1 <-HAS_PHONE- P2 -REGISTERED_BUSINESS-> E4 (410822)
    P3: resident ID issued in 410822 but a member of H2 (420102): lives out of 410822's scope.

    G1 (gov, 410822) -60%-> E1 (410822) <-30%- E2 (420102) <-100%- G2 (gov, 420102)
    E2 -60%-> E3 (410822): E3's ultimate controller G2 is reached through E2 (out of 410822)
    E1 -BORROWED-> L1 <-LENT- BANK;  E1 -GUARANTEES-> E2;  P5 (李四, 410802) -GUARANTEES-> E1

Only P1 -> E4 via PH1 and P2 connects P1 to E4 (3 hops), so a user who may not see P2 gets no
path at all.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.server.app import create_app
from api.server.auth.principals import create_user
from api.server.state.db import StateDB
from api.server.state.flag_import import import_flags
from api.server.state.models import Scan, utcnow
from engine.flags import Flag
from graph_models.value_types import person_id_check_char, uscc_check_char

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "postgres: needs the PostgreSQL server started by scripts/postgres.sh"
    )


def pid(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + person_id_check_char(body)


def uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


P1 = pid("410822", "19650304", "123")
P2 = pid("420102", "19700101", "456")
P3 = pid("410822", "19800202", "789")
P5 = pid("410802", "19720709", "345")
A1 = "6222020200112233446"
PH1 = "13812345678"
G1 = uscc("11410822MB0000001")
G2 = uscc("11420102MB0000002")
E1 = uscc("91410822MA0000001")
E2 = uscc("91420102MA0000002")
E3 = uscc("91410822MA0000003")
E4 = uscc("91410822MA0000004")
BANK = uscc("91410800MA0000009")


def _nodes() -> dict[str, pd.DataFrame]:
    return {
        "Region": pd.DataFrame(
            {
                "id": ["410000", "410800", "410822", "410802", "420000", "420100", "420102"],
                "name": ["河南省", "焦作市", "博爱县", "解放区", "湖北省", "武汉市", "江岸区"],
                "parent_code": [None, "410000", "410800", "410800", None, "420000", "420100"],
            }
        ),
        "Household": pd.DataFrame(
            {
                "id": ["H1", "H2"],
                "head_id": [P1, P2],
                "region_code": ["410822", "420102"],
                "village_code": ["410822100201", "420102001001"],
                "status": ["enrolled", "enrolled"],
                "income_per_capita": [3100.0, 2900.0],
            }
        ),
        "Person": pd.DataFrame(
            {
                "id": [P1, P2, P3, P5],
                "name": ["张三", "王五", "赵六", "李四"],
                "phone": [PH1, PH1, None, None],
            }
        ),
        "Account": pd.DataFrame({"id": [A1], "holder_id": [P1], "opened_date": ["2019-01-02"]}),
        "Phone": pd.DataFrame({"id": [PH1]}),
        "Payment": pd.DataFrame(
            {
                "id": ["PAY1", "PAY2"],
                "program": ["dibao", "dibao"],
                "recipient_id": [P1, P2],
                "household_id": ["H1", "H2"],
                "account_no": [A1, A1],
                "amount": [600.0, 600.0],
                "paid_date": ["2021-05-01", "2021-05-01"],
                "region_code": ["410822", "420102"],
            }
        ),
        "GovUnit": pd.DataFrame(
            {
                "id": [G1, G2],
                "name": ["博爱县财政局", "江岸区财政局"],
                "region_code": ["410822", "420102"],
            }
        ),
        "Enterprise": pd.DataFrame(
            {
                "id": [E1, E2, E3, E4, BANK],
                "name": ["博爱城投", "江岸建设", "博爱水务", "博爱商贸", "焦作银行"],
                "region_code": ["410822", "420102", "410822", "410822", "410800"],
                "kind": ["lgfv", "soe", "soe", "private", "bank"],
                "net_assets": [1.0e9, 5.0e8, 1.0e8, 1.0e6, 5.0e10],
            }
        ),
        "Loan": pd.DataFrame(
            {"id": ["L1"], "borrower_id": [E1], "lender_id": [BANK], "principal": [2.0e8]}
        ),
    }


def _rel(rows: list[tuple], **props: list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["id", "src", "src_label", "dst", "dst_label"])
    for k, v in props.items():
        frame[k] = v
    return frame


def _relationships() -> dict[str, pd.DataFrame]:
    return {
        "PART_OF": _rel(
            [
                ("r1", "410800", "Region", "410000", "Region"),
                ("r2", "410822", "Region", "410800", "Region"),
                ("r3", "410802", "Region", "410800", "Region"),
                ("r4", "420100", "Region", "420000", "Region"),
                ("r5", "420102", "Region", "420100", "Region"),
            ]
        ),
        "IN_REGION": _rel(
            [
                ("ir1", "H1", "Household", "410822", "Region"),
                ("ir2", "H2", "Household", "420102", "Region"),
            ]
        ),
        "HEADED_BY": _rel(
            [("hb1", "H1", "Household", P1, "Person"), ("hb2", "H2", "Household", P2, "Person")]
        ),
        "MEMBER_OF": _rel(
            [
                ("m1", P1, "Person", "H1", "Household"),
                ("m2", P2, "Person", "H2", "Household"),
                ("m3", P3, "Person", "H2", "Household"),
            ],
            relation=["head", "head", "child"],
        ),
        "HOLDS_ACCOUNT": _rel([("ha1", P1, "Person", A1, "Account")]),
        "HAS_PHONE": _rel(
            [("hp1", P1, "Person", PH1, "Phone"), ("hp2", P2, "Person", PH1, "Phone")]
        ),
        "PAID_TO": _rel(
            [("pt1", "PAY1", "Payment", P1, "Person"), ("pt2", "PAY2", "Payment", P2, "Person")]
        ),
        "PAID_INTO": _rel(
            [("pi1", "PAY1", "Payment", A1, "Account"), ("pi2", "PAY2", "Payment", A1, "Account")]
        ),
        "PAID_FOR": _rel(
            [
                ("pf1", "PAY1", "Payment", "H1", "Household"),
                ("pf2", "PAY2", "Payment", "H2", "Household"),
            ]
        ),
        "REGISTERED_BUSINESS": _rel([("rb1", P2, "Person", E4, "Enterprise")], role=["legal_rep"]),
        "HOLDS_SHARES": _rel(
            [
                ("s1", G1, "GovUnit", E1, "Enterprise"),
                ("s2", E2, "Enterprise", E1, "Enterprise"),
                ("s3", G2, "GovUnit", E2, "Enterprise"),
                ("s4", E2, "Enterprise", E3, "Enterprise"),
            ],
            share_pct=[60.0, 30.0, 100.0, 60.0],
        ),
        "BORROWED": _rel([("b1", E1, "Enterprise", "L1", "Loan")]),
        "LENT": _rel([("l1", BANK, "Enterprise", "L1", "Loan")]),
        "GUARANTEES": _rel(
            [("g1", E1, "Enterprise", E2, "Enterprise"), ("g2", P5, "Person", E1, "Enterprise")],
            amount=[5.0e7, 1.0e7],
        ),
    }


def build_graph(store) -> None:
    for label, frame in _nodes().items():
        store.upsert_nodes(label, frame)
    for rtype, frame in _relationships().items():
        store.upsert_relationships(rtype, frame)
    store.flush()


def make_flags() -> dict[str, Flag]:
    """Hand-made flags of every family and region (ids are stable: detector + subject)."""
    flags = {
        "aid_in": Flag(
            "aid.deceased_recipient", "person_id", P1, "high", 9.0,
            entities=[P1, "H1", "PAY1"], region_code="410822",
            evidence={"payments": [{"payment_id": "PAY1", "recipient_id": P1, "amount": 600.0,
                                    "_table": "aid_payments", "_line": 2}],
                      "death_records": [{"person_id": P1, "death_date": "2021-03-02"}]},
            explanation={"zh": f"张三（{P1}）于2021-03-02死亡，其后仍领取低保资金1笔共600元",
                         "en": f"Zhang San ({P1}) died on 2021-03-02 and was paid 600 yuan later"},
        ),
        "aid_out": Flag(
            "aid.shared_account", "account_no", A1, "medium", 3.0,
            entities=[A1, "H1", "H2", P1, P2], region_code="420102",
            evidence={"households": ["H1", "H2"]},
            explanation={"zh": f"账户{A1}为2户领取资金", "en": f"account {A1} receives aid for 2 households"},
        ),
        "debt_in": Flag(
            "guarantee.mutual", "pair", f"{E1}|{E2}", "medium", 5.0,
            entities=[E1, E2, P5], region_code="410822",
            evidence={"guarantees": [{"guarantor": E1, "debtor": E2, "amount": 5.0e7},
                                     {"guarantor": P5, "debtor": E1, "amount": 1.0e7,
                                      "phone": PH1}]},
            explanation={"zh": f"博爱城投与江岸建设互保；个人担保人李四（{P5}）",
                         "en": f"mutual guarantee; personal guarantor Li Si ({P5})"},
        ),
        "debt_out": Flag(
            "debt.gov_guarantee", "guarantee_id", "g9", "high", 8.0,
            entities=[G2, E2], region_code="420102",
            explanation={"zh": "江岸区财政局为江岸建设担保", "en": "a government unit guarantees"},
        ),
        "debt_nat": Flag(
            "debt.region_risk", "region_code", "national", "low", 1.0,
            entities=[], region_code=None, explanation={"zh": "全国", "en": "national"},
        ),
        "aid_city": Flag(
            "aid.paid_in_prison", "person_id", P5, "high", 7.0,
            entities=[P5], region_code="410802",
            explanation={"zh": "李四服刑期间领取资金", "en": "paid in prison"},
        ),
    }  # fmt: skip
    return flags


#: role and regions of each test user; "_in" users' scopes contain the 410822 data.
USERS = {
    "admin": ("admin", []),
    "debt_in": ("debt_analyst", ["410000"]),
    "debt_out": ("debt_analyst", ["420000"]),
    "aid_in": ("aid_inspector", ["410822"]),
    "aid_out": ("aid_inspector", ["420102"]),
    "inv_in": ("investigator", ["410800"]),
    "inv_out": ("investigator", ["420000"]),
    "inv_nat": ("investigator", ["000000"]),
}


def seed_state(db: StateDB) -> tuple[dict[str, str], dict[str, str]]:
    """Users of every role and the hand-made flags; returns (tokens by user, flag ids by key)."""
    flags = make_flags()
    with db.write() as session:
        tokens = {
            name: create_user(session, name, role, regions)
            for name, (role, regions) in USERS.items()
        }
        now = utcnow()
        scan = Scan(source="import", status="succeeded", out_dir="-", options={},
                    requested_by="test", created_at=now)  # fmt: skip
        session.add(scan)
        session.flush()
        import_flags(session, flags.values(), scan.id)
    return tokens, {k: f.flag_id for k, f in flags.items()}


@dataclass
class ApiEnv:
    client: TestClient
    tokens: dict[str, str]
    flag_ids: dict[str, str]
    db: StateDB
    db_url: str
    store: object
    tmp: Path
    extra: dict = field(default_factory=dict)

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **kw):
        return self.client.get(f"/api/v1{path}", headers=self.h(user), **kw)

    def post(self, user: str, path: str, json=None, **kw):
        return self.client.post(f"/api/v1{path}", headers=self.h(user), json=json, **kw)


def make_env(store, db_url: str, tmp: Path) -> ApiEnv:
    build_graph(store)
    db = StateDB(db_url)
    tokens, flag_ids = seed_state(db)
    (tmp / "datasets").mkdir(exist_ok=True)
    app = create_app(store=store, state_db_url=db_url, workspace=tmp / "ws",
                     datasets_root=tmp / "datasets")  # fmt: skip
    client = TestClient(app, raise_server_exceptions=False)
    return ApiEnv(client, tokens, flag_ids, db, db_url, store, tmp)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def _serving(store, state_db_url: str, tmp_path):
    """An env (see ``make_env``) whose app is running (lifespan entered) until the test ends."""
    e = make_env(store, state_db_url, tmp_path)
    with e.client:
        yield e
    e.db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_db_url(request, tmp_path) -> str:
    """The state DB on each backend: a SQLite file, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def memory_env_on_each_db(tmp_path, state_db_url):
    """The API over the memory store with each state DB backend."""
    from graph_models.memory_store import MemoryStore

    yield from _serving(MemoryStore(tmp_path / "graph"), state_db_url, tmp_path)


@pytest.fixture
def env(store, sqlite_url, tmp_path):
    """The API over each store (memory, Neo4j) with a real SQLite state DB file."""
    yield from _serving(store, sqlite_url, tmp_path)


@pytest.fixture
def memory_env(tmp_path, sqlite_url):
    """The API over the memory store only (for tests that do not depend on the store)."""
    from graph_models.memory_store import MemoryStore

    yield from _serving(MemoryStore(tmp_path / "graph"), sqlite_url, tmp_path)


def _postgres_admin_url() -> str | None:
    if os.environ.get("RISKGRAPH_PG_URL"):
        return os.environ["RISKGRAPH_PG_URL"]
    script = ROOT / "scripts" / "postgres.sh"
    status = subprocess.run(["bash", str(script), "status"], capture_output=True, text=True)
    if status.returncode != 0:
        return None
    url = subprocess.run(["bash", str(script), "url"], capture_output=True, text=True)
    return url.stdout.strip() or None


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = _postgres_admin_url()
    if url is None:
        if os.environ.get("RISKGRAPH_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (RISKGRAPH_REQUIRE_POSTGRES=1) but not running")
        pytest.skip("PostgreSQL not running (start it with 'bash scripts/postgres.sh start')")
    return url


@pytest.fixture
def postgres_url(postgres_server_url):
    """A fresh, empty database on the test server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"rg_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
