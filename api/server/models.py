"""Request and response models of the API: ``*Create`` / ``*Update`` in, ``*Public`` out."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AuditEntryPublic",
    "AuditPage",
    "AuditVerifyPublic",
    "CaseCommentCreate",
    "CaseCommentPublic",
    "CaseCreate",
    "CasePage",
    "CasePublic",
    "CaseUpdate",
    "ControlPublic",
    "ControllerPublic",
    "CypherRequest",
    "CypherResultPublic",
    "EdgePublic",
    "EntitySearchPublic",
    "EvidencePage",
    "FlagChangePublic",
    "FlagDetailPublic",
    "FlagPage",
    "FlagPublic",
    "HealthPublic",
    "HolderPublic",
    "MePublic",
    "NodePublic",
    "NodeRef",
    "PathPublic",
    "PathsPublic",
    "ReviewCreate",
    "ReviewPublic",
    "ScanCreate",
    "ScanPublic",
    "SubgraphPublic",
    "WithheldPublic",
]

Decision = Literal["confirmed", "dismissed", "needs_field_check"]
FlagStatus = Literal["open", "confirmed", "dismissed", "needs_field_check", "unsupported"]
CaseStatus = Literal["open", "in_progress", "closed"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Send a response model already built (and so validated) as JSON, as it is.

    An endpoint that returns the model instead has FastAPI dump it to a dict, validate that
    against the ``response_model`` again and encode it once more: for a neighbourhood of a few
    dozen nodes that repeat cost as much as the query. Keep ``response_model=`` on the route
    for the OpenAPI document.
    """
    return Response(model.model_dump_json(), status_code, media_type="application/json")


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # dates, pandas Timestamps: as pydantic writes them
        return value.isoformat()
    raise TypeError(type(value).__name__)


def built_json_response(content: dict[str, Any], model: type[BaseModel]) -> Response:
    """Send a response our own code built, in exactly the shape of ``model``, without building
    the model: for a 2-hop neighbourhood, validating a few dozen nodes and edges into pydantic
    models and dumping them again cost about as much as the graph walk.

    Only for contents made field by field for ``model`` (``ScopedGraph`` results); the tests
    check that every such response read back into ``model`` and dumped again is unchanged, and
    schemathesis checks the responses against the OpenAPI schema. What orjson cannot write
    (an integer beyond 64 bits) goes through ``model`` instead.
    """
    try:
        body = orjson.dumps(content, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        body = model(**content).model_dump_json().encode()
    return Response(body, media_type="application/json")


class HealthPublic(_Out):
    status: Literal["ok"]
    store: str
    state_db: str
    version: str
    warm: bool = Field(
        description="The graph caches (region index, ownership) built at startup are ready and "
        "the graph is not empty; until then requests work but the first ones are slow (and on "
        "an empty graph every flag's graph is blank)."
    )
    nodes: int | None = Field(
        None,
        description="Nodes in the graph served (null until counted at warm-up; 0: empty, "
        "nothing loaded into this workspace).",
    )
    generation: int = Field(
        description="Id of the last API scan whose graph this process serves (0: none yet)."
    )
    worker: int = Field(
        description="Which worker process answered (1..N with `riskgraph serve --workers N`)."
    )


class MePublic(_Out):
    name: str
    role: str
    regions: list[str] = Field(description="Region scopes; 000000 is the whole country.")
    personal_clearance: bool
    flag_families: list[str] | None = Field(description="None: every family.")


class NodePublic(_Out):
    id: str = Field(description="Masked when the id is personal and the role has no clearance.")
    label: str
    properties: dict[str, Any]
    masked: list[str] = Field(description="Personal properties masked or removed for this role.")
    hidden: list[str] = Field(description="Confidential properties removed for this role.")
    regions: list[str]


class EdgePublic(_Out):
    id: str
    type: str
    src: str
    src_label: str
    dst: str
    dst_label: str
    properties: dict[str, Any]
    masked: list[str]
    hidden: list[str]


class NodeRef(_Out):
    label: str
    id: str


class SubgraphPublic(_Out):
    nodes: list[NodePublic]
    edges: list[EdgePublic]
    truncated: bool = Field(description="The node limit cut the walk short.")
    hubs: list[NodeRef] = Field(
        default_factory=list,
        description="Nodes in the result that were not walked through because they have more "
        "relationships than hub_degree (e.g. a county's Region node); ask for their own "
        "neighbourhood to see them.",
    )


class EntitySearchPublic(_Out):
    items: list[NodePublic]
    truncated: bool


class PathPublic(_Out):
    nodes: list[NodeRef]
    edges: list[EdgePublic]
    length: int


class PathsPublic(_Out):
    paths: list[PathPublic] = Field(
        description="Shortest paths through nodes the user may see (paths through others are dropped)."
    )


class HolderPublic(_Out):
    holder_id: str
    holder_label: str
    share_pct: float | None
    voting_pct: float | None


class ControllerPublic(_Out):
    controller_id: str
    controller_label: str
    test: str = Field(description="majority (> 50 %) or plurality (largest, >= 25 %).")
    control_pct: float | None
    cash_flow_pct: float | None
    gov_linked: bool
    chain: list[str] = Field(description="Ids from the controller down to the company.")
    chain_pcts: list[float | None]


class ControlPublic(_Out):
    company: NodePublic
    available: bool = Field(description="False when the ownership engine is not installed.")
    direct_holders: list[HolderPublic]
    controllers: list[ControllerPublic]
    chains_truncated: bool = False


class ReviewCreate(BaseModel):
    decision: Decision
    comment: str = Field("", max_length=4000)


class ReviewPublic(_Out):
    id: int
    flag_id: str
    user_name: str
    decision: str
    comment: str
    created_at: dt.datetime


class WithheldPublic(_Out):
    """What of a flag lies outside your scope and was left out (``api.access.flag_scope``)."""

    records: int = 0
    entities: int = 0


class FlagPublic(_Out):
    flag_id: str
    detector: str
    family: str
    severity: str
    score: float
    region_code: str | None
    subject_type: str
    subject_id: str
    entities: list[str]
    explanation: dict[str, str]
    status: str
    review_count: int
    scan_id: int | None
    imported_at: dt.datetime
    updated_at: dt.datetime | None
    withheld: WithheldPublic = WithheldPublic()
    #: the decision a change of the data set aside: the flag was reopened because its evidence
    #: changed (status ``open``), or the data no longer supports it (``unsupported``)
    prior_status: str | None = None


class FlagChangePublic(_Out):
    """What an import changed: ``evidence_changed`` (with the differences),
    ``no_longer_supported`` or ``raised_again``."""

    kind: str
    at: dt.datetime
    scan_id: int | None
    status_before: str
    status_after: str
    differences: dict[str, Any]


class FlagDetailPublic(FlagPublic):
    evidence: dict[str, Any] = Field(
        description="The flag's evidence. A list of records longer than `evidence_page` is "
        "shortened to its first `evidence_page` records here; `evidence_totals` says how many "
        "it holds and `/flags/{flag_id}/evidence/{section}` pages through all of them."
    )
    evidence_totals: dict[str, int] = Field(
        default_factory=dict,
        description="Records in each evidence list (`section` -> count), shortened or not.",
    )
    evidence_page: int = Field(50, description="Records of each list shown here at most.")
    settings_digest: str
    reviews: list[ReviewPublic]
    subgraph: SubgraphPublic
    #: the flag's history of changes by imports, oldest first
    changes: list[FlagChangePublic] = []


class EvidencePage(_Out):
    flag_id: str
    section: str = Field(description="The evidence list, e.g. `payments`.")
    total: int = Field(description="Records in the list.")
    offset: int
    limit: int
    items: list[Any] = Field(description="Records `offset` .. `offset + limit - 1`, masked.")


class FlagPage(_Out):
    items: list[FlagPublic]
    total: int
    limit: int
    offset: int


class CaseCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=20000)
    region_code: str | None = Field(
        None, pattern=r"^\d{6}$", description="Defaults to the user's first region scope."
    )
    assignee: str | None = Field(None, max_length=100, description="A user name.")
    flag_ids: list[str] = Field(default_factory=list, max_length=1000)


class CaseUpdate(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=20000)
    status: CaseStatus | None = None
    assignee: str | None = Field(None, max_length=100, description="A user name; '' unassigns.")
    add_flags: list[str] = Field(default_factory=list, max_length=1000)
    remove_flags: list[str] = Field(default_factory=list, max_length=1000)
    version: int | None = Field(
        None, description="The version you read; a newer one on the server is a 409 conflict."
    )


class CasePublic(_Out):
    id: int
    title: str
    description: str
    status: str
    region_code: str
    assignee: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    flag_ids: list[str] = Field(description="The flags of the case you may see.")


class CaseCommentCreate(BaseModel):
    body: str = Field(min_length=1, max_length=20000, description="The comment's text.")


class CaseCommentPublic(_Out):
    id: int
    case_id: int
    author: str
    body: str
    created_at: dt.datetime


class CasePage(_Out):
    items: list[CasePublic]
    total: int
    limit: int
    offset: int


class ScanCreate(BaseModel):
    dataset_dir: str = Field(
        min_length=1, max_length=1000, description="A dataset directory under the datasets root."
    )
    only: list[str] = Field(default_factory=list, max_length=100)
    as_of: dt.date | None = None


class ScanPublic(_Out):
    id: int
    source: str
    status: str
    dataset_dir: str | None
    out_dir: str
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None = Field(
        None,
        description="Last heartbeat of the process running it (every 20 s after the start).",
    )
    error: str | None
    flags_imported: int | None
    progress: dict[str, Any] | None = Field(
        None,
        description="While it runs: `stage` (load, detect, import, done), `tables` (rows read "
        "per table), `detectors_done` of `detectors_total`, the `current` detector.",
    )


class AuditEntryPublic(_Out):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    resource: str
    detail: str = Field(description="Canonical JSON, exactly as hashed.")
    request_id: str
    prev_hash: str
    hash: str


class AuditPage(_Out):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int


class AuditVerifyPublic(_Out):
    ok: bool
    rows: int
    first_bad_seq: int | None
    reason: str


class CypherRequest(BaseModel):
    query: str = Field(min_length=1, max_length=20000)
    parameters: dict[str, Any] = Field(default_factory=dict)
    limit: int = Field(100, ge=1, le=5000, description="Rows returned at most.")
    timeout_s: float = Field(10.0, gt=0, le=60, description="Transaction timeout.")


class CypherResultPublic(_Out):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="More rows than the limit were available.")
