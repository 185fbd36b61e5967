from trellis_notifications.models import NotificationsTable
from trellis_shared.migrations import run_env

run_env(NotificationsTable.metadata)
