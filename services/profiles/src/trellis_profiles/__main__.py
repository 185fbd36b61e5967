from pathlib import Path

from trellis_profiles.settings import ProfilesSettings
from trellis_shared.runner import main

main(
    app_path="trellis_profiles.main:create_app",
    settings_factory=ProfilesSettings,
    migrations_dir=Path(__file__).parent / "migrations",
)
