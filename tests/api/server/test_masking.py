"""Masking per role and the audit of every unmasked read of personal data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from api.access.masking import Masker, mask_account, mask_free_text, mask_name, mask_phone
from api.access.roles import ROLES
from api.server.state.models import AuditEntry
from graph_models.schema import SCHEMA
from graph_models.value_types import mask_person_id
from tests.api.conftest import A1, E1, E3, E4, P1, P5, PH1


def _personal_reads(env) -> list[dict]:
    import json

    with env.db.read() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "read_personal").order_by(AuditEntry.seq)
        ).all()
        return [{"actor": r.actor, **json.loads(r.detail)} for r in rows]


def test_mask_helpers():
    assert mask_name("张三丰") == "张**" and mask_name("张三") == "张*"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_account(A1) == "6222***********3446"
    assert mask_person_id(P1) == P1[:4] + "*" * 10 + P1[-4:]
    text = f"张三（{P1}）电话{PH1}，账户{A1}，企业{E1}"
    masked = mask_free_text(text, ["张三"])
    assert P1 not in masked and PH1 not in masked and A1 not in masked and "张三" not in masked
    assert E1 in masked  # enterprise codes (letters inside) stay readable


@given(st.from_regex(r"\A[1-6]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{3}[\dX]\Z"))
def test_any_resident_id_inside_any_text_is_masked(pid):
    for text in (pid, f"身份证{pid}号", f"id:{pid}.", f"{pid}{pid[:3]}中"):
        out = mask_free_text(text)
        assert pid not in out


def test_masking_follows_schema_sensitivity():
    debt = Masker(ROLES["debt_analyst"])
    rec = {"id": P1, "label": "Person", "properties": {"name": "张三", "phone": PH1}}
    out = debt.node(rec)
    assert out["id"] == mask_person_id(P1)
    assert out["properties"] == {"name": "张*", "phone": "138****5678"}
    assert out["masked"] == ["name", "phone"] and debt.revealed == []
    hh = {"id": "H1", "label": "Household",
          "properties": {"income_per_capita": 3100.0, "status": "enrolled", "region_code": "410822"}}  # fmt: skip
    out = debt.node(hh)
    assert out["properties"] == {"region_code": "410822"}
    assert out["masked"] == ["income_per_capita"] and out["hidden"] == ["status"]
    aid = Masker(ROLES["aid_inspector"])
    out = aid.node(
        {"id": E1, "label": "Enterprise", "properties": {"name": "x", "net_assets": 1.0}}
    )
    assert out["hidden"] == ["net_assets"] and aid.revealed == []
    out = aid.node(rec)
    assert out["id"] == P1 and out["properties"]["name"] == "张三"
    assert aid.revealed == [f"Person:{P1}"]
    # every personal property of the schema is masked for a role without clearance
    for label, spec in SCHEMA.nodes.items():
        props = {
            k: "13812345678" for k, p in spec.properties.items() if p.sensitivity == "personal"
        }
        out = Masker(ROLES["debt_analyst"]).node(
            {"id": "X1234", "label": label, "properties": props}
        )
        assert set(out["masked"]) == set(props), label
        assert all(v != "13812345678" for v in out["properties"].values()), label


def test_debt_analyst_sees_masked_persons_and_is_not_audited(env):
    before = len(_personal_reads(env))
    # a person is seen, masked, around what the analyst may open (here the guarantor of E1)
    around = env.get("debt_in", f"/entities/{E1}/neighborhood").json()["nodes"]
    p5 = next(n for n in around if n["label"] == "Person")
    assert p5["id"] == mask_person_id(P5)
    assert p5["properties"]["name"] == "李*"
    flag = env.get("debt_in", f"/flags/{env.flag_ids['debt_in']}").json()
    blob = str(flag)
    assert P5 not in blob and "李四" not in blob and PH1 not in blob
    assert mask_person_id(P5) in flag["entities"]
    assert E1 in flag["entities"]  # enterprises stay readable
    assert len(_personal_reads(env)) == before  # nothing personal was shown in clear


def test_aid_inspector_reads_in_clear_and_every_read_is_audited(env):
    reads = []
    for path in (f"/entities/{P1}", f"/entities/{A1}/neighborhood", f"/flags/{env.flag_ids['aid_in']}",
                 "/flags", f"/flags/{env.flag_ids['aid_in']}/graph", "/entities?q=张三"):  # fmt: skip
        before = len(_personal_reads(env))
        r = env.get("aid_in", path)
        assert r.status_code == 200, path
        after = _personal_reads(env)
        assert len(after) == before + 1, path
        reads.append(after[-1])
    assert reads[0]["actor"] == "aid_in" and f"Person:{P1}" in reads[0]["items"]
    assert reads[2]["items"] and f"flag:{env.flag_ids['aid_in']}" in reads[2]["items"]
    detail = env.get("aid_in", f"/flags/{env.flag_ids['aid_in']}").json()
    assert P1 in detail["entities"] and "张三" in detail["explanation"]["zh"]


def test_hidden_confidential_properties(env):
    aid = env.get("aid_in", f"/entities/{E1}").json()
    assert "net_assets" not in aid["properties"] and aid["hidden"] == ["net_assets"]
    debt = env.get("debt_in", f"/entities/{E1}").json()
    assert debt["properties"]["net_assets"] == 1.0e9 and debt["hidden"] == []


@pytest.mark.parametrize("user", ["admin", "inv_in", "aid_in"])
def test_reads_without_personal_data_are_not_audited(env, user):
    with env.db.read() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    assert env.get(user, f"/entities/{E1}").status_code == 200
    assert env.get(user, "/me").status_code == 200
    with env.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == before


@pytest.mark.parametrize("user", ["inv_nat", "aid_in", "debt_in", "inv_in"])
def test_graph_responses_sent_without_a_model_have_the_models_exact_shape(env, user):
    """Neighbourhood, entity and paths responses are written straight from ScopedGraph's dicts
    (``built_json_response``): read back into their model and dumped again they are unchanged,
    so no field is missing, extra or of another type than the OpenAPI schema says."""
    from api.server.models import NodePublic, PathsPublic, SubgraphPublic

    h1 = "H1"
    checked = 0
    for path, model in [
        *((f"/entities/{e}/neighborhood?hops=2", SubgraphPublic) for e in (P1, E1, E3, A1, h1)),
        *((f"/entities/{e}", NodePublic) for e in (P1, E1, E3, A1, h1)),
        (f"/paths?source={P1}&target={E4}&max_hops=4", PathsPublic),
        (f"/paths?source={h1}&target={A1}&max_hops=3", PathsPublic),
    ]:
        r = env.get(user, path)
        if r.status_code != 200:
            assert r.status_code == 404  # outside this user's role or regions
            continue
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert model.model_validate(body).model_dump(mode="json") == body, path
        checked += 1
    assert checked >= 3
