"""The sessions service reads its own SESSIONS_ variables and no other service's."""

import pytest
from pydantic import ValidationError

from trellis_sessions.settings import SessionsSettings


def test_settings_come_from_its_own_prefix(monkeypatch):
    monkeypatch.setenv("SESSIONS_DATABASE_URL", "postgresql+asyncpg://sessions:pw@db:5432/trellis")
    monkeypatch.setenv("SESSIONS_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("PROFILES_KAFKA_BOOTSTRAP", "elsewhere:9092")
    settings = SessionsSettings()
    assert settings.database_url.endswith("@db:5432/trellis")
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.db_schema == "sessions"
    assert settings.source == "trellis/sessions"


def test_the_public_base_url_must_be_an_absolute_http_url(monkeypatch):
    assert SessionsSettings().public_base_url == "http://localhost:8080"
    monkeypatch.setenv("SESSIONS_PUBLIC_BASE_URL", "https://trellis.example.org")
    assert SessionsSettings().public_base_url == "https://trellis.example.org"
    monkeypatch.setenv("SESSIONS_PUBLIC_BASE_URL", "trellis.example.org")
    with pytest.raises(ValidationError, match="public_base_url"):
        SessionsSettings()
