from pydantic_settings import SettingsConfigDict

from trellis_shared.settings import ServiceSettings


class SessionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SESSIONS_", extra="ignore")

    service_name: str = "sessions"
    port: int = 8003
    db_schema: str = "sessions"
    database_url: str = "postgresql+asyncpg://sessions:sessions-dev@127.0.0.1:5433/trellis"
