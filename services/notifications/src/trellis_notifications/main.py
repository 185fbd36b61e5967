"""The notifications app: wiring only."""

from fastapi import FastAPI

from trellis_notifications.api import router as inbox_router
from trellis_notifications.email import sender as email_sender
from trellis_notifications.email.api import router as email_router
from trellis_notifications.events import PRODUCES
from trellis_notifications.handlers import subscriptions
from trellis_notifications.preferences.api import router as preferences_router
from trellis_notifications.reminders import run as send_reminders
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.stream import InboxHub
from trellis_notifications.webhooks.api import router as webhooks_router
from trellis_notifications.webhooks.worker import deliver_webhooks
from trellis_shared.app import ServiceSpec, create_service_app


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    hub = InboxHub(settings.database_url)
    app = create_service_app(
        ServiceSpec(
            name="notifications",
            settings=settings,
            routers=[inbox_router, preferences_router, email_router, webhooks_router],
            produces=PRODUCES,
            subscriptions=subscriptions,
            background=[hub.run, send_reminders, email_sender.job, deliver_webhooks],
            description="In-app inbox, email, reminders and partner webhooks.",
        )
    )
    app.state.inbox_hub = hub
    return app
