"""The matching service reads its own MATCHING_ variables and no other service's."""

from trellis_matching.settings import MatchingSettings


def test_settings_come_from_its_own_prefix(monkeypatch):
    monkeypatch.setenv("MATCHING_DATABASE_URL", "postgresql+asyncpg://matching:pw@db:5432/trellis")
    monkeypatch.setenv("MATCHING_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("PROFILES_KAFKA_BOOTSTRAP", "elsewhere:9092")
    settings = MatchingSettings()
    assert settings.database_url.endswith("@db:5432/trellis")
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.db_schema == "matching"
    assert settings.source == "trellis/matching"
