from pathlib import Path

from trellis_sessions.settings import SessionsSettings
from trellis_shared.runner import main

main(
    app_path="trellis_sessions.main:create_app",
    settings_factory=SessionsSettings,
    migrations_dir=Path(__file__).parent / "migrations",
)
