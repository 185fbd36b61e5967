"""Preferences as stored and as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_notifications.models import NotificationsTable, timestamp

# What a message is about; each category can be switched off per channel.
CATEGORIES = (
    "account",
    "matching",
    "mentorship",
    "meetings",
    "reminders",
    "progress",
    "network",
    "program_admin",
)
CHANNELS = ("inbox", "email")
Category = Literal[
    "account",
    "matching",
    "mentorship",
    "meetings",
    "reminders",
    "progress",
    "network",
    "program_admin",
]
DEFAULT_LEADS = [1440, 60]
LeadMinutes = Annotated[int, Field(ge=5, le=10080, description="Minutes before the meeting")]


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("must be a local time without a UTC offset, like 08:30")
    return value


# A wall-clock time in the person's own zone: RFC 3339's partial-time (JSON Schema's "time"
# format requires an offset, which these never have).
LocalTime = Annotated[
    time,
    AfterValidator(_wall_clock),
    WithJsonSchema({"type": "string", "format": "partial-time", "examples": ["08:30"]}),
]


class Preference(NotificationsTable, table=True):
    person_id: uuid.UUID = SQLField(primary_key=True)
    organization_id: uuid.UUID
    # {category: {channel: bool}}; what is absent is on.
    channels: dict = SQLField(default_factory=dict, sa_type=pg.JSONB)
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: str = "instant"
    digest_time: time = time(8, 0)
    reminder_leads: list[int] = SQLField(
        default_factory=lambda: list(DEFAULT_LEADS), sa_type=pg.JSONB
    )
    version: int = 1
    updated_at: datetime = timestamp()


class ChannelSwitches(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inbox: bool = True
    email: bool = True


class QuietHours(BaseModel):
    """Local times in the person's own zone; a window may cross midnight (22:00 → 07:00)."""

    model_config = ConfigDict(extra="forbid")

    start: LocalTime = Field(description="HH:MM, the person's local time")
    end: LocalTime = Field(description="HH:MM, the person's local time")

    @field_validator("end")
    @classmethod
    def _not_empty(cls, value: time, info) -> time:
        if info.data.get("start") == value:
            raise ValueError("must differ from start")
        return value


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[Category, ChannelSwitches] = Field(
        default_factory=dict, description="Per category; categories left out stay on"
    )
    quiet_hours: QuietHours | None = Field(
        default=None, description="Non-urgent email waits until the window ends"
    )
    digest: Literal["instant", "daily"] = "instant"
    digest_time: LocalTime = Field(default=time(8, 0), description="When the daily digest is sent")
    reminder_lead_minutes: list[LeadMinutes] = Field(
        default_factory=lambda: list(DEFAULT_LEADS), min_length=0, max_length=5
    )

    @field_validator("reminder_lead_minutes")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        return sorted(set(value), reverse=True)


class PreferencesPublic(BaseModel):
    channels: dict[str, ChannelSwitches]
    quiet_hours: QuietHours | None
    digest: Literal["instant", "daily"]
    digest_time: LocalTime
    reminder_lead_minutes: list[int]
    time_zone: str = Field(description="The zone quiet hours and digests follow (the profile's)")
    version: int
