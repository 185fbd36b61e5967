"""The sessions app: wiring only."""

from fastapi import FastAPI

from trellis_sessions.api import router
from trellis_sessions.handlers import subscriptions
from trellis_sessions.settings import SessionsSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="sessions",
            settings=settings or SessionsSettings(),
            routers=[router],
            subscriptions=subscriptions,
            description="Mentorships: agreements, goals, meetings, check-ins, feedback and health.",
        )
    )
