"""The matching app: wiring only."""

from fastapi import FastAPI

from trellis_matching.api import router
from trellis_matching.events import PRODUCES
from trellis_matching.expiry import expire_proposals
from trellis_matching.handlers import subscriptions
from trellis_matching.proposals.api import router as proposals_router
from trellis_matching.runs.api import router as runs_router
from trellis_matching.runs.service import resume_pending_runs
from trellis_matching.settings import MatchingSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="matching",
            settings=settings or MatchingSettings(),
            routers=[router, proposals_router, runs_router],
            produces=PRODUCES,
            subscriptions=subscriptions,
            background=[resume_pending_runs, expire_proposals],
            description="Explainable scores, suggestions and optimal cohort matching.",
        )
    )
