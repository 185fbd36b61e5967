"""The sessions app: wiring only."""

from fastapi import FastAPI

from trellis_sessions.events import PRODUCES
from trellis_sessions.handlers import subscriptions
from trellis_sessions.health.api import router as health_router
from trellis_sessions.health.sweep import watch_health
from trellis_sessions.meetings.api import router as meetings_router
from trellis_sessions.mentorships.api import router as mentorships_router
from trellis_sessions.mentorships.jobs import resume_paused
from trellis_sessions.plan.api import router as plan_router
from trellis_sessions.pulse.api import router as pulse_router
from trellis_sessions.settings import SessionsSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="sessions",
            settings=settings or SessionsSettings(),
            routers=[mentorships_router, plan_router, meetings_router, pulse_router, health_router],
            produces=PRODUCES,
            subscriptions=subscriptions,
            background=[resume_paused, watch_health],
            description="Mentorships: agreements, goals, meetings, check-ins, feedback and health.",
        )
    )
