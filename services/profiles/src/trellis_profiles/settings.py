from pydantic_settings import SettingsConfigDict

from trellis_shared.settings import ServiceSettings


class ProfilesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILES_", extra="ignore")

    service_name: str = "profiles"
    port: int = 8001
    db_schema: str = "profiles"
    database_url: str = "postgresql+asyncpg://profiles:profiles-dev@127.0.0.1:5433/trellis"
