"""Review decisions on flags: confirmed, dismissed or needs_field_check, with a comment."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from api.server.deps import CurrentUser, Graph, Services, audit_revealed
from api.server.errors import ApiError, error_responses, request_id_of
from api.server.flag_views import FlagReader, get_visible_flag
from api.server.models import ReviewCreate, ReviewPublic
from api.server.state.audit import append_audit
from api.server.state.models import UNSUPPORTED, FlagState, ReviewDecision, utcnow

__all__ = ["router"]

router = APIRouter(prefix="/flags/{flag_id}/reviews", tags=["reviews"])


@router.post(
    "",
    summary="Record a review decision",
    status_code=201,
    response_model=ReviewPublic,
    responses=error_responses(401, 404, 409, 422),
)
def create_review(
    request: Request, services: Services, user: CurrentUser, flag_id: str, body: ReviewCreate
) -> ReviewPublic:
    """Record your decision on a flag you may see; the flag's status becomes the decision.
    The decision and the audit row are written in one transaction."""
    with services.db.write() as session:
        get_visible_flag(session, user, flag_id)
        state = session.execute(
            select(FlagState).where(FlagState.flag_id == flag_id).with_for_update()
        ).scalar_one()
        if state.status == UNSUPPORTED:
            raise ApiError(
                409, "flag_unsupported",
                "the data no longer supports this flag: it is kept for its history, not reviewed",
            )  # fmt: skip
        now = utcnow()
        review = ReviewDecision(
            flag_id=flag_id, user_id=user.user_id, user_name=user.name, decision=body.decision,
            comment=body.comment, created_at=now,
        )  # fmt: skip
        session.add(review)
        state.status = body.decision
        state.prior_status = None  # a reopened flag is decided again
        state.review_count = FlagState.review_count + 1
        state.updated_at, state.updated_by = now, user.name
        session.flush()
        append_audit(
            session, actor=user.name, role=user.role, action="review",
            resource=f"flag {flag_id}", request_id=request_id_of(request),
            detail={"review_id": review.id, "decision": body.decision, "comment": body.comment},
        )  # fmt: skip
        return ReviewPublic.model_validate(review)


@router.get(
    "",
    summary="Review history of a flag",
    response_model=list[ReviewPublic],
    responses=error_responses(401, 404, 422),
)
def list_reviews(
    request: Request, services: Services, user: CurrentUser, graph: Graph, flag_id: str
) -> list[ReviewPublic]:
    """Every decision on the flag, oldest first (comments cut to your scope and masked for
    your role, as the flag itself)."""
    with services.db.read() as session:
        flag, _state = get_visible_flag(session, user, flag_id)
        reviews = session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.flag_id == flag_id)
            .order_by(ReviewDecision.id)
        ).all()
    reader = FlagReader(graph)
    reader.prepare([flag], reviews)
    out = [ReviewPublic(**r) for r in reader.reviews(flag, reviews)]
    audit_revealed(services, request, user, graph.masker)
    return out
