from trellis_profiles.models import ProfilesTable
from trellis_shared.migrations import run_env

run_env(ProfilesTable.metadata)
