from pydantic import Field, model_validator
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
    # Email worker (email/): how often it looks for due emails, how many it claims per pass and
    # sends over how many SMTP connections, how long a claim holds (a crashed worker's emails go
    # again after it, with the same Message-ID), retries with exponential backoff and jitter
    # within a window, and past how much delay a message says it is late.
    email_interval_s: float = Field(default=2.0, gt=0)
    email_batch_size: int = Field(default=100, ge=1, le=5000)
    email_connections: int = Field(default=4, ge=1, le=32)
    email_lease_s: float = Field(default=300.0, gt=0)
    email_retry_base_s: float = Field(default=60.0, gt=0)
    email_retry_max_s: float = Field(default=3600.0, gt=0)
    email_give_up_after_h: float = Field(default=24.0, gt=0)
    email_late_after_min: int = Field(default=15, ge=1)
    # Signs unsubscribe links (HMAC-SHA256); production refuses the development value.
    unsubscribe_secret: str = "dev-only-unsubscribe-secret-changethis"

    @model_validator(mode="after")
    def _real_unsubscribe_secret_in_production(self) -> "NotificationsSettings":
        if self.environment == "production" and (
            len(self.unsubscribe_secret) < 32 or "dev-only" in self.unsubscribe_secret
        ):
            raise ValueError("refusing to start in production: unsubscribe_secret is a placeholder")
        return self

    # Reminders and check-in prompts (reminders/): how often the worker looks for due ones, how
    # many it claims per transaction and how many such transactions run at once, and past how
    # much delay a reminder says it is late.
    reminders_interval_s: float = Field(default=1.0, gt=0)
    reminders_batch_size: int = Field(default=200, ge=1, le=5000)
    reminders_concurrency: int = Field(default=4, ge=1, le=32)
    reminders_late_after_s: float = Field(default=120.0, ge=0)

    # Partner webhooks (webhooks/): whether this process delivers (off on API-only replicas; tests
    # drive the worker themselves), the time one POST may take, how many deliveries one batch
    # sends at once and how many batches are in flight (a slow endpoint holds up only its own
    # batch), the poll interval behind LISTEN, and a factor that shrinks the retry schedule and
    # its 24 h window (tests only).
    webhook_worker: bool = True
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_batch_size: int = Field(default=50, ge=1, le=1000)
    webhook_loops: int = Field(default=4, ge=1, le=64)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_retry_scale: float = Field(default=1.0, gt=0, le=1)
