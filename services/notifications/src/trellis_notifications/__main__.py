from pathlib import Path

from trellis_notifications.settings import NotificationsSettings
from trellis_shared.runner import main

main(
    app_path="trellis_notifications.main:create_app",
    settings_factory=NotificationsSettings,
    migrations_dir=Path(__file__).parent / "migrations",
)
