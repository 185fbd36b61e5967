from pydantic_settings import SettingsConfigDict

from trellis_shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    service_name: str = "matching"
    port: int = 8002
    db_schema: str = "matching"
    database_url: str = "postgresql+asyncpg://matching:matching-dev@127.0.0.1:5433/trellis"
