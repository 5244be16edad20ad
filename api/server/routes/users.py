"""``GET /me``: who the token belongs to, their role and region scopes."""

from __future__ import annotations

from fastapi import APIRouter

from api.server.deps import CurrentUser
from api.server.errors import error_responses
from api.server.models import MePublic

__all__ = ["router"]

router = APIRouter(tags=["users"])


@router.get(
    "/me", summary="The current user", response_model=MePublic, responses=error_responses(401)
)
async def me(user: CurrentUser) -> MePublic:
    """Who you are (no I/O: runs on the event loop, no thread taken)."""
    families = user.policy.flag_families
    return MePublic(
        name=user.name,
        role=user.role,
        regions=list(user.scope.codes),
        personal_clearance=user.policy.personal_clearance,
        flag_families=sorted(families) if families is not None else None,
    )
