"""The notifications app: wiring only."""

from fastapi import FastAPI

from trellis_notifications.api import router as inbox_router
from trellis_notifications.handlers import subscriptions
from trellis_notifications.preferences.api import router as preferences_router
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.stream import InboxHub
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    hub = InboxHub(settings.database_url)
    app = create_service_app(
        ServiceSpec(
            name="notifications",
            settings=settings,
            routers=[inbox_router, preferences_router],
            subscriptions=subscriptions,
            background=[hub.run],
            description="In-app inbox, email, reminders and partner webhooks.",
        )
    )
    app.state.inbox_hub = hub
    return app
