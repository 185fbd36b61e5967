from pydantic import Field
from pydantic_settings import SettingsConfigDict

from trellis_shared.settings import ServiceSettings


class SessionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SESSIONS_", extra="ignore")

    service_name: str = "sessions"
    port: int = 8003
    db_schema: str = "sessions"
    database_url: str = "postgresql+asyncpg://sessions:sessions-dev@127.0.0.1:5433/trellis"
    public_base_url: str = Field(
        default="http://localhost:8080",
        pattern=r"^https?://[^/\s]+(/\S*)?$",
        description="Where people reach Trellis: the base of calendar feed URLs",
    )

    # The health watch: how often each replica sweeps, and how many mentorships per transaction.
    health_sweep_seconds: float = Field(default=600.0, gt=0)
    health_batch_size: int = Field(default=1000, ge=1, le=10_000)
