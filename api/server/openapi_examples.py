"""An example for every operation of the API, added to its OpenAPI document (``/docs``,
``/redoc``): the parameters of a typical call, the request body where there is one, and what
the call answers. The values come from the demo dataset (``make demo``): a county of 孟州市
(410883), its flags and entities; personal data appears as an aid inspector sees it.

A test checks that every operation has them (``tests/api/server/test_openapi_examples.py``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXAMPLES", "add_examples"]

_FLAG = {
    "flag_id": "F001a6d3dd1a873a8810c", "detector": "aid.deceased_recipient", "family": "aid",
    "severity": "high", "score": 2804230.0, "region_code": "410883", "subject_type": "person_id",
    "subject_id": "410883198101172694", "status": "open", "review_count": 0, "scan_id": 1,
    "imported_at": "2026-12-07T02:58:11Z", "updated_at": None,
    "entities": ["410883198101172694", "4108831002020075"],
    "explanation": {
        "zh": "汪军（户4108831002020075）于2020-07-16死亡，宽限31天后仍领取农村低保金资金53笔共52,910元，"
              "最后一笔发放于2024-12-26（死亡后53个月）",
        "en": "汪军 (household 4108831002020075) died on 2020-07-16; 53 payment(s) of 农村低保金 "
              "totalling CNY 52,910 were made more than 31 days later, the last on 2024-12-26",
    },
}  # fmt: skip
_PAYMENT = {
    "table": "aid_payments", "line": 4187, "payment_id": "FP4108830000004159",
    "program": "农村低保金", "recipient_id": "410883198101172694",
    "household_id": "4108831002020075", "account_no": "6228485967589381925", "amount": 1060.0,
    "paid_date": "2024-12-26",
}  # fmt: skip
_NODE = {
    "id": "91410883MAR4WET68U", "label": "Enterprise",
    "properties": {"name": "孟州市城乡建设开发有限公司", "region_code": "410883", "kind": "lgfv"},
    "masked": [], "hidden": [], "regions": ["410883"],
}  # fmt: skip
_PERSON = {
    "id": "410883198101172694", "label": "Person", "properties": {"name": "汪军"},
    "masked": [], "hidden": [], "regions": ["410883"],
}  # fmt: skip
_EDGE = {
    "id": "HS-17", "type": "HOLDS_SHARES", "src": "11410883MB1234567X", "src_label": "GovUnit",
    "dst": "91410883MAR4WET68U", "dst_label": "Enterprise",
    "properties": {"share_pct": 100.0}, "masked": [], "hidden": [],
}  # fmt: skip
_SUBGRAPH = {"nodes": [_PERSON, _NODE], "edges": [_EDGE], "truncated": False, "hubs": []}
_CASE = {
    "id": 3, "title": "孟州市死亡人员领取核查", "description": "", "status": "in_progress",
    "region_code": "410883", "assignee": "王检查", "created_by": "王检查",
    "created_at": "2026-12-07T03:10:00Z", "updated_at": "2026-12-07T03:20:00Z", "version": 2,
    "flag_ids": ["F001a6d3dd1a873a8810c"],
}  # fmt: skip
_REVIEW = {
    "id": 1, "flag_id": "F001a6d3dd1a873a8810c", "user_name": "王检查", "decision": "confirmed",
    "comment": "已走访核实，死亡后仍由亲属代领。", "created_at": "2026-12-07T03:15:00Z",
}  # fmt: skip
_SCAN = {
    "id": 2, "source": "api", "status": "running", "dataset_dir": "demo-out/dataset",
    "out_dir": "riskgraph-workspace/scans/2", "requested_by": "admin",
    "created_at": "2026-12-07T03:30:00Z", "started_at": "2026-12-07T03:30:01Z",
    "finished_at": None, "heartbeat_at": "2026-12-07T03:30:21Z", "error": None,
    "flags_imported": None,
    "progress": {"stage": "detect", "tables": {"households": 500}, "detectors_done": 7,
                 "detectors_total": 25, "current": "aid.deceased_recipient"},
}  # fmt: skip
_AUDIT = {
    "seq": 41, "at": "2026-12-07T03:15:00.120000+00:00", "actor": "王检查", "role": "aid_inspector",
    "action": "review", "resource": "flag F001a6d3dd1a873a8810c",
    "detail": '{"comment_chars":21,"decision":"confirmed"}',
    "request_id": "9f2c1e", "prev_hash": "3b1f…", "hash": "a4c9…",
}  # fmt: skip

#: (method, path) -> {"parameters": {name: value}, "request": body, "response": body}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/healthz"): {"response": {
        "status": "ok", "store": "memory", "state_db": "sqlite", "version": "0.1.0", "warm": True,
        "nodes": 11469, "generation": 0, "worker": 1}},
    ("get", "/api/v1/me"): {"response": {
        "name": "王检查", "role": "aid_inspector", "regions": ["410883"],
        "personal_clearance": True, "flag_families": ["aid"]}},
    ("get", "/api/v1/entities"): {"parameters": {"q": "孟州市城", "limit": 20},
        "response": {"items": [_NODE], "truncated": False}},
    ("get", "/api/v1/entities/{entity_id}"): {
        "parameters": {"entity_id": "91410883MAR4WET68U"}, "response": _NODE},
    ("get", "/api/v1/entities/{entity_id}/neighborhood"): {
        "parameters": {"entity_id": "91410883MAR4WET68U", "hops": 1, "types": "HOLDS_SHARES"},
        "response": _SUBGRAPH},
    ("get", "/api/v1/entities/{entity_id}/control"): {
        "parameters": {"entity_id": "91410883MAR4WET68U"},
        "response": {"company": _NODE, "available": True, "direct_holders": [
            {"holder_id": "11410883MB1234567X", "holder_label": "GovUnit", "share_pct": 100.0,
             "voting_pct": None}],
            "controllers": [{"controller_id": "11410883MB1234567X", "controller_label": "GovUnit",
                             "test": "majority", "control_pct": 100.0, "cash_flow_pct": 100.0,
                             "gov_linked": True, "chain": ["11410883MB1234567X", "91410883MAR4WET68U"],
                             "chain_pcts": [100.0]}]}},
    ("get", "/api/v1/paths"): {
        "parameters": {"source": "410883198101172694", "target": "91410883MAR4WET68U", "max_hops": 4},
        "response": {"paths": [{"nodes": [{"label": "Person", "id": "410883198101172694"},
                                          {"label": "Enterprise", "id": "91410883MAR4WET68U"}],
                                "edges": [], "length": 1}]}},
    ("post", "/api/v1/cypher"): {
        "request": {"query": "MATCH (e:Enterprise {region_code: $region}) RETURN e.id, e.name LIMIT 5",
                    "parameters": {"region": "410883"}},
        "response": {"columns": ["e.id", "e.name"],
                     "rows": [["91410883MAR4WET68U", "孟州市城乡建设开发有限公司"]],
                     "truncated": False}},
    ("get", "/api/v1/flags"): {"parameters": {"region": "410883", "severity": "high", "limit": 25},
        "response": {"items": [_FLAG], "total": 12, "limit": 25, "offset": 0}},
    ("get", "/api/v1/flags/{flag_id}"): {"parameters": {"flag_id": "F001a6d3dd1a873a8810c"},
        "response": {**_FLAG, "evidence": {"payments": [_PAYMENT], "figures": {
            "payments_after_death": 53, "amount_after_death": 52910.0}},
            "evidence_totals": {"payments": 53}, "evidence_page": 50,
            "settings_digest": "5d41402abc4b", "reviews": [_REVIEW], "subgraph": _SUBGRAPH}},
    ("get", "/api/v1/flags/{flag_id}/evidence/{section}"): {
        "parameters": {"flag_id": "F001a6d3dd1a873a8810c", "section": "payments", "offset": 50,
                       "limit": 50},
        "response": {"flag_id": "F001a6d3dd1a873a8810c", "section": "payments", "total": 53,
                     "offset": 50, "limit": 50, "items": [_PAYMENT]}},
    ("get", "/api/v1/flags/{flag_id}/graph"): {
        "parameters": {"flag_id": "F001a6d3dd1a873a8810c", "format": "json"}, "response": _SUBGRAPH},
    ("post", "/api/v1/flags/{flag_id}/reviews"): {"parameters": {"flag_id": "F001a6d3dd1a873a8810c"},
        "request": {"decision": "confirmed", "comment": "已走访核实，死亡后仍由亲属代领。"},
        "response": _REVIEW},
    ("get", "/api/v1/flags/{flag_id}/reviews"): {
        "parameters": {"flag_id": "F001a6d3dd1a873a8810c"}, "response": [_REVIEW]},
    ("post", "/api/v1/cases"): {
        "request": {"title": "孟州市死亡人员领取核查", "region_code": "410883",
                    "assignee": "王检查", "flag_ids": ["F001a6d3dd1a873a8810c"]},
        "response": {**_CASE, "status": "open", "version": 1}},
    ("get", "/api/v1/cases"): {"parameters": {"status": "in_progress", "limit": 50},
        "response": {"items": [_CASE], "total": 1, "limit": 50, "offset": 0}},
    ("get", "/api/v1/cases/{case_id}"): {"parameters": {"case_id": 3}, "response": _CASE},
    ("patch", "/api/v1/cases/{case_id}"): {"parameters": {"case_id": 3},
        "request": {"status": "closed", "version": 2}, "response": {**_CASE, "status": "closed", "version": 3}},
    ("delete", "/api/v1/cases/{case_id}"): {"parameters": {"case_id": 3}},
    ("get", "/api/v1/cases/{case_id}/comments"): {"parameters": {"case_id": 3}, "response": [
        {"id": 7, "case_id": 3, "author": "王检查", "body": "已调取发放凭证。",
         "created_at": "2026-12-07T03:18:00Z"}]},
    ("post", "/api/v1/cases/{case_id}/comments"): {"parameters": {"case_id": 3},
        "request": {"body": "已走访，确认死亡。"},
        "response": {"id": 8, "case_id": 3, "author": "王检查", "body": "已走访，确认死亡。",
                     "created_at": "2026-12-07T03:19:00Z"}},
    ("get", "/api/v1/cases/{case_id}/assignees"): {"parameters": {"case_id": 3},
        "response": ["admin", "王检查"]},
    ("post", "/api/v1/scans"): {"request": {"dataset_dir": "demo-out/dataset", "as_of": "2025-06-30"},
        "response": {**_SCAN, "status": "queued", "started_at": None, "progress": None}},
    ("get", "/api/v1/scans"): {"parameters": {"limit": 20}, "response": [_SCAN]},
    ("get", "/api/v1/scans/{scan_id}"): {"parameters": {"scan_id": 2}, "response": _SCAN},
    ("get", "/api/v1/audit"): {"parameters": {"actor": "王检查", "limit": 50},
        "response": {"items": [_AUDIT], "total": 1, "limit": 50, "offset": 0}},
    ("get", "/api/v1/audit/verify"): {"response": {"ok": True, "rows": 41, "first_bad_seq": None,
                                                   "reason": ""}},
}  # fmt: skip


def add_examples(spec: dict[str, Any]) -> dict[str, Any]:
    """Put :data:`EXAMPLES` into an OpenAPI document (in place; returns it)."""
    for (method, path), ex in EXAMPLES.items():
        op = spec.get("paths", {}).get(path, {}).get(method)
        if op is None:
            continue
        for param in op.get("parameters", []):
            if param["name"] in ex.get("parameters", {}):
                param["example"] = ex["parameters"][param["name"]]
        if "request" in ex and "requestBody" in op:
            op["requestBody"]["content"]["application/json"]["example"] = ex["request"]
        if "response" in ex:
            for code, response in op["responses"].items():
                if code.startswith("2") and "application/json" in response.get("content", {}):
                    response["content"]["application/json"]["example"] = ex["response"]
    return spec
