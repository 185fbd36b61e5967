"""The matching app: wiring only."""

from fastapi import FastAPI

from trellis_matching.api import router
from trellis_matching.events import PRODUCES
from trellis_matching.handlers import subscriptions
from trellis_matching.settings import MatchingSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="matching",
            settings=settings or MatchingSettings(),
            routers=[router],
            produces=PRODUCES,
            subscriptions=subscriptions,
            description="Explainable scores, suggestions and optimal cohort matching.",
        )
    )
