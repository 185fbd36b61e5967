"""When a meeting (or each meeting of a series) happens: local wall times in an IANA zone, turned
into UTC instants.

Recurrence is expanded on naive local times and only then placed in the zone, so a weekly 09:00
in New York stays 09:00 in New York when the clocks change. Pure: no database, no clock (`now` is
passed in), so every rule here is unit-tested on its own.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

MAX_OCCURRENCES = 52
HORIZON = relativedelta(years=1)
MAX_MINUTES = 8 * 60

# Only day-or-longer frequencies, and only the parts that cannot describe an empty set over
# thousands of years (dateutil would then iterate to year 9999 before giving up): the time of
# day always comes from `start`.
_COMMON = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST"}
_ALLOWED = {
    "DAILY": _COMMON | {"BYDAY"},
    "WEEKLY": _COMMON | {"BYDAY"},
    "MONTHLY": _COMMON | {"BYDAY", "BYMONTHDAY", "BYSETPOS"},
    "YEARLY": _COMMON | {"BYDAY", "BYMONTHDAY", "BYSETPOS", "BYMONTH"},
}


class ScheduleError(ValueError):
    """A rule of scheduling is broken; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Slot:
    """One occurrence: its wall time in the planning zone and its UTC interval."""

    occurrence: int | None
    local_start: datetime
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Plan:
    time_zone: str
    local_start: datetime
    duration_minutes: int
    rrule: str | None
    slots: list[Slot]


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or a ScheduleError naming `time_zone`."""
    if name not in _zones():
        raise ScheduleError("time_zone", f"unknown time zone {name!r} (use an IANA name)")
    return ZoneInfo(name)


def wall_time(start: datetime, tz: ZoneInfo) -> datetime:
    """The naive local time of `start` in `tz`; a start with an offset is converted first."""
    if start.tzinfo is None:
        return start.replace(microsecond=0)
    return start.astimezone(tz).replace(tzinfo=None, microsecond=0)


def exists(local: datetime, tz: ZoneInfo) -> bool:
    """False for a wall time the clocks skip (the spring-forward gap)."""
    there_and_back = local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
    return there_and_back.replace(tzinfo=None) == local


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant of a wall time. As RFC 5545 says for recurrence instances, a skipped time
    takes the offset before the gap and a repeated one means its first occurrence (fold=0)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if not body or any(c in body for c in "\r\n"):
        raise ScheduleError("recurrence", "one RRULE value, like FREQ=WEEKLY;COUNT=6")
    parts: dict[str, str] = {}
    for chunk in filter(None, (c.strip() for c in body.split(";"))):
        name, sep, value = chunk.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not sep or not name or not value:
            raise ScheduleError("recurrence", f"{chunk!r} is not NAME=VALUE")
        if name in parts:
            raise ScheduleError("recurrence", f"{name} appears twice")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq not in _ALLOWED:
        raise ScheduleError("recurrence", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    unsupported = sorted(set(parts) - _ALLOWED[freq])
    if unsupported:
        raise ScheduleError("recurrence", f"{', '.join(unsupported)} not supported with {freq}")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise ScheduleError("recurrence", "a series must end: give COUNT or UNTIL")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ScheduleError("recurrence", "give COUNT or UNTIL, not both")
    return parts


def _until_local(value: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UNTIL as a local wall time (what the rule is expanded in) and as an instant."""
    try:
        if len(value) == 8:  # a DATE: the whole of that day counts
            local = datetime.combine(date.fromisoformat(value), time(23, 59, 59))
            return local, to_utc(local, tz)
        if value.endswith("Z"):
            instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return instant.astimezone(tz).replace(tzinfo=None), instant
        local = datetime.strptime(value, "%Y%m%dT%H%M%S")
        return local, to_utc(local, tz)
    except ValueError as exc:
        raise ScheduleError("recurrence", f"UNTIL={value} is not a date or date-time") from exc


def expand(text: str, local_start: datetime, tz: ZoneInfo, *, now: datetime) -> list[datetime]:
    """The local wall times of a series (its first is `local_start` when it matches the rule)."""
    parts = _parts(text)
    horizon = now + HORIZON
    if "COUNT" in parts:
        if not parts["COUNT"].isdigit() or int(parts["COUNT"]) < 1:
            raise ScheduleError("recurrence", "COUNT must be a positive whole number")
        if int(parts["COUNT"]) > MAX_OCCURRENCES:
            raise ScheduleError("recurrence", f"at most {MAX_OCCURRENCES} occurrences")
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or not 1 <= int(interval) <= 366:
        raise ScheduleError("recurrence", "INTERVAL must be a whole number from 1 to 366")
    if "UNTIL" in parts:
        local_until, until = _until_local(parts["UNTIL"], tz)
        if until > horizon:
            raise ScheduleError("recurrence", "UNTIL is more than a year ahead")
        parts["UNTIL"] = local_until.strftime("%Y%m%dT%H%M%S")
    rule_text = ";".join(f"{name}={value}" for name, value in parts.items())
    try:
        rule = rrulestr(rule_text, dtstart=local_start)
        found = list(itertools.islice(iter(rule), MAX_OCCURRENCES + 1))  # type: ignore[call-overload]
    except (ValueError, TypeError, OverflowError) as exc:
        raise ScheduleError("recurrence", f"invalid RRULE: {exc}") from exc
    if not found:
        raise ScheduleError("recurrence", "the rule yields no occurrence after start")
    if len(found) > MAX_OCCURRENCES:
        raise ScheduleError("recurrence", f"at most {MAX_OCCURRENCES} occurrences")
    if to_utc(found[-1], tz) > to_utc(local_start, tz) + HORIZON:
        raise ScheduleError("recurrence", "a series may span at most a year")
    return found


def plan(
    *,
    start: datetime,
    time_zone: str,
    duration_minutes: int,
    recurrence: str | None,
    now: datetime,
) -> Plan:
    """Validate a meeting (or series) request and place every occurrence in UTC."""
    if not 1 <= duration_minutes <= MAX_MINUTES:
        raise ScheduleError("duration_minutes", f"between 1 and {MAX_MINUTES} minutes")
    tz = zone(time_zone)
    local_start = wall_time(start, tz)
    if not exists(local_start, tz):
        raise ScheduleError(
            "start", f"{local_start:%Y-%m-%d %H:%M} does not exist in {time_zone} (clocks skip it)"
        )
    if to_utc(local_start, tz) <= now:
        raise ScheduleError("start", "must be in the future")
    locals_ = [local_start]
    if recurrence is not None:
        locals_ = expand(recurrence, local_start, tz, now=now)
    length = timedelta(minutes=duration_minutes)
    slots = [
        Slot(
            occurrence=index if recurrence is not None else None,
            local_start=local,
            starts_at=to_utc(local, tz),
            ends_at=to_utc(local, tz) + length,
        )
        for index, local in enumerate(locals_, start=1)
    ]
    return Plan(time_zone, local_start, duration_minutes, recurrence, slots)
