"""The notifications app: wiring only."""

from fastapi import FastAPI

from trellis_notifications.api import router
from trellis_notifications.handlers import subscriptions
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            name="notifications",
            settings=settings or NotificationsSettings(),
            routers=[router],
            subscriptions=subscriptions,
            description="In-app inbox, email, reminders and partner webhooks.",
        )
    )
