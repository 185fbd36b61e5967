"""Events published by the profiles service."""

from __future__ import annotations

import uuid
from datetime import datetime

from trellis_shared.events import EventContract, event


@event("trellis.profiles.person.registered.v1", subject="person_id")
class PersonRegistered(EventContract):
    """A person joined an organization's directory."""

    person_id: uuid.UUID
    full_name: str
    email: str
    time_zone: str
    locale: str
    registered_at: datetime


@event("trellis.profiles.person.erased.v1", subject="person_id")
class PersonErased(EventContract):
    """A person's data was erased; every service erases or anonymizes what it holds of them."""

    person_id: uuid.UUID
    erased_at: datetime
