"""The profiles app: wiring only."""

from fastapi import FastAPI

from trellis_profiles.events import PRODUCES
from trellis_profiles.handlers import subscriptions
from trellis_profiles.imports import service as imports
from trellis_profiles.imports.api import router as imports_router
from trellis_profiles.imports.runner import resume_pending_imports
from trellis_profiles.network.api import router as network_router
from trellis_profiles.organizations.api import router as organizations_router
from trellis_profiles.people.api import router as people_router
from trellis_profiles.programs.api import router as programs_router
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: ProfilesSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="profiles",
            settings=settings or ProfilesSettings(),
            routers=[
                organizations_router,
                programs_router,
                people_router,
                network_router,
                imports_router,
            ],
            produces=PRODUCES,
            subscriptions=subscriptions,
            background=[resume_pending_imports],
            large_bodies={"/profiles/imports": imports.MAX_BODY_BYTES},
            description="Organizations, programs, people, enrollments, imports and the network.",
        )
    )
