from trellis_sessions.models import SessionsTable
from trellis_shared.migrations import run_env

run_env(SessionsTable.metadata)
