"""The profiles app: wiring only."""

from fastapi import FastAPI

from trellis_profiles.api import router
from trellis_profiles.events import PRODUCES
from trellis_profiles.handlers import subscriptions
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: ProfilesSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="profiles",
            settings=settings or ProfilesSettings(),
            routers=[router],
            produces=PRODUCES,
            subscriptions=subscriptions,
            description="Organizations, programs, people, enrollments and the network.",
        )
    )
