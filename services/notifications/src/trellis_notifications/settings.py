from pydantic_settings import SettingsConfigDict

from trellis_shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    port: int = 8004
    db_schema: str = "notifications"
    database_url: str = (
        "postgresql+asyncpg://notifications:notifications-dev@127.0.0.1:5433/trellis"
    )
