"""Events published by the matching service (more arrive with issue 4)."""

from __future__ import annotations

import uuid
from datetime import datetime

from trellis_shared.events import EventContract, event


@event("trellis.matching.match.accepted.v1", subject="match_id")
class MatchAccepted(EventContract):
    """Both sides accepted a proposal: a mentorship starts and the two are connected."""

    match_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    accepted_at: datetime
