from trellis_matching.models import MatchingTable
from trellis_shared.migrations import run_env

run_env(MatchingTable.metadata)
