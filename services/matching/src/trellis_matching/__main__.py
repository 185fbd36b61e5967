from pathlib import Path

from trellis_matching.settings import MatchingSettings
from trellis_shared.runner import main

main(
    app_path="trellis_matching.main:create_app",
    settings_factory=MatchingSettings,
    migrations_dir=Path(__file__).parent / "migrations",
)
