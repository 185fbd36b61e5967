"""Settings every service composes with its own (env prefix per service, e.g. PROFILES_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-changethis"
_PLACEHOLDERS = ("changethis", "dev-only", "-dev@", ":dev@", "password")


class ServiceSettings(BaseSettings):
    """What a Trellis service needs to run; subclasses set `env_prefix` and defaults."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    environment: Literal["development", "test", "production"] = "development"
    service_name: str = "trellis"
    host: str = "127.0.0.1"
    port: int = 8000

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5433/trellis"
    db_schema: str = "public"
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # How long a request waits for a free connection before it is answered 503 (overloaded).
    db_pool_timeout_s: float = Field(default=10.0, gt=0, le=120)

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_partitions: int = Field(default=6, ge=1)

    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    otlp_endpoint: str | None = None
    # Spans as JSON lines in a local file (no collector needed); `trellis trace` renders them.
    trace_file: str | None = None
    log_level: str = "INFO"

    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=1.0, gt=0)
    relay_retention_hours: float = Field(default=72.0, ge=0)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_s: float = Field(default=0.2, gt=0)
    consumer_backoff_max_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        problems = []
        if self.jwt_algorithm == "HS256" and (
            len(self.jwt_secret) < 32 or any(p in self.jwt_secret for p in _PLACEHOLDERS)
        ):
            problems.append("jwt_secret is a placeholder or shorter than 32 characters")
        if self.jwt_algorithm == "RS256" and not (self.jwt_public_key or self.jwt_jwks_url):
            problems.append("RS256 needs jwt_public_key or jwt_jwks_url")
        if any(p in self.database_url for p in _PLACEHOLDERS):
            problems.append("database_url carries a development password")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def source(self) -> str:
        """CloudEvents `source` of the events this service produces."""
        return f"trellis/{self.service_name}"
