from pydantic import Field
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
    public_base_url: str = Field(
        default="http://localhost:8080",
        description="Where people reach Trellis: the base of links in messages",
    )
    # Email (SMTP).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    mail_from: str = "Trellis <no-reply@trellis.local>"
    # How long an open inbox stream waits before a keep-alive comment.
    stream_keepalive_s: float = Field(default=15.0, gt=0)
