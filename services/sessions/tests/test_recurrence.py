"""Meeting times without the stack: wall time in a zone, DST gaps and folds, RRULE expansion and
its limits. `now` is fixed, so these hold whatever the date of the run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trellis_sessions.meetings.recurrence import ScheduleError, expand, plan, zone

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def planned(start: datetime, *, tz: str = "America/New_York", minutes: int = 45, rule=None):
    return plan(start=start, time_zone=tz, duration_minutes=minutes, recurrence=rule, now=NOW)


def fails(field: str, **kwargs) -> str:
    kwargs = {"start": datetime(2027, 1, 4, 9), "tz": "America/New_York"} | kwargs
    with pytest.raises(ScheduleError) as caught:
        planned(kwargs.pop("start"), **kwargs)
    assert caught.value.field == field, caught.value
    return caught.value.message


def test_a_weekly_nine_oclock_in_new_york_stays_nine_oclock_across_dst():
    result = planned(datetime(2027, 3, 1, 9), rule="FREQ=WEEKLY;COUNT=4")

    assert [s.starts_at.hour for s in result.slots] == [14, 14, 13, 13]  # EST, EST, then EDT
    assert all(s.starts_at.tzinfo == UTC for s in result.slots)
    assert [s.starts_at.astimezone(NEW_YORK).hour for s in result.slots] == [9] * 4
    london = ZoneInfo("Europe/London")  # still on GMT until 28 March 2027
    assert [s.starts_at.astimezone(london).hour for s in result.slots] == [14, 14, 13, 13]
    assert [s.occurrence for s in result.slots] == [1, 2, 3, 4]
    assert all(s.ends_at - s.starts_at == timedelta(minutes=45) for s in result.slots)
    assert result.local_start == datetime(2027, 3, 1, 9)


def test_every_two_weeks():
    result = planned(datetime(2027, 1, 4, 9), rule="FREQ=WEEKLY;INTERVAL=2;COUNT=6")
    days = [s.local_start.date() for s in result.slots]
    assert len(days) == 6
    assert {(b - a).days for a, b in itertools.pairwise(days)} == {14}


def test_a_start_with_an_offset_is_converted_to_the_zones_wall_time():
    result = planned(datetime(2027, 3, 1, 15, tzinfo=ZoneInfo("Europe/Paris")))
    assert result.local_start == datetime(2027, 3, 1, 9)
    assert result.slots[0].starts_at == datetime(2027, 3, 1, 14, tzinfo=UTC)
    assert result.slots[0].occurrence is None


def test_a_time_the_clocks_skip_is_refused_and_a_repeated_one_means_the_first():
    assert "does not exist" in fails("start", start=datetime(2027, 3, 14, 2, 30))
    fall_back = planned(datetime(2027, 11, 7, 1, 30))
    assert fall_back.slots[0].starts_at == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # EDT


def test_an_occurrence_in_a_dst_gap_takes_the_offset_before_it_as_rfc5545_says():
    result = planned(datetime(2027, 3, 12, 2, 30), rule="FREQ=DAILY;COUNT=3")
    # 14 March 02:30 does not exist in New York: it becomes 03:30 EDT, i.e. 07:30 UTC.
    assert [s.starts_at.hour for s in result.slots] == [7, 7, 7]
    assert result.slots[2].starts_at.astimezone(NEW_YORK).hour == 3


def test_bad_input_names_its_field():
    assert "future" in fails("start", start=datetime(2026, 11, 27, 6, 0))
    fails("duration_minutes", minutes=0)
    fails("duration_minutes", minutes=481)
    assert planned(datetime(2027, 1, 4, 9), minutes=480).slots
    for name in ("Mars/Olympus", "../../etc/passwd", "", "America", "EST5EDT "):
        assert "unknown time zone" in fails("time_zone", tz=name)


@pytest.mark.parametrize(
    "rule",
    [
        "nonsense",
        "FREQ=FOO;COUNT=2",
        "FREQ=WEEKLY;BYDAY=XX;COUNT=2",
        "FREQ=WEEKLY;COUNT=two",
        "FREQ=WEEKLY;COUNT=0",
        "FREQ=HOURLY;COUNT=2",
        "FREQ=WEEKLY;BYHOUR=3;COUNT=2",
        "FREQ=WEEKLY;COUNT=2;COUNT=3",
        "FREQ=WEEKLY;COUNT=2\nRRULE:FREQ=DAILY;COUNT=2",
        "DTSTART:20270101T090000\nFREQ=WEEKLY;COUNT=2",
        "FREQ=WEEKLY;UNTIL=tomorrow",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20270301",
        "FREQ=WEEKLY;INTERVAL=99999999999;COUNT=2",
        "FREQ=WEEKLY;INTERVAL=0;COUNT=2",
    ],
)
def test_an_invalid_rrule_is_refused(rule):
    fails("recurrence", rule=rule)


def test_a_series_must_end_and_stay_within_its_limits():
    assert "COUNT or UNTIL" in fails("recurrence", rule="FREQ=WEEKLY")
    assert "at most 52" in fails("recurrence", rule="FREQ=DAILY;COUNT=53")
    assert "at most 52" in fails("recurrence", rule="FREQ=DAILY;UNTIL=20270601T000000Z")
    assert len(planned(datetime(2027, 1, 4, 9), rule="FREQ=DAILY;COUNT=52").slots) == 52
    assert "more than a year ahead" in fails("recurrence", rule="FREQ=MONTHLY;UNTIL=20280101")
    assert "at most a year" in fails("recurrence", rule="FREQ=MONTHLY;COUNT=14")
    assert "no occurrence" in fails("recurrence", rule="FREQ=WEEKLY;UNTIL=20270101")
    impossible = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3"
    assert "no occurrence" in fails("recurrence", rule=impossible)


def test_until_may_be_a_date_a_utc_instant_or_a_local_time():
    start = datetime(2027, 3, 1, 9)
    forms = ("20270322", "20270322T130000Z", "20270322T090000", "RRULE:FREQ=WEEKLY;UNTIL=20270322")
    for until in forms:
        rule = until if until.startswith("RRULE:") else f"FREQ=WEEKLY;UNTIL={until}"
        found = expand(rule, start, NEW_YORK, now=NOW)
        assert [d.day for d in found] == [1, 8, 15, 22], until
    before = expand("FREQ=WEEKLY;UNTIL=20270322T125959Z", start, NEW_YORK, now=NOW)
    assert [d.day for d in before] == [1, 8, 15]


def test_zone_knows_iana_names():
    assert zone("Asia/Kolkata").key == "Asia/Kolkata"
    assert zone("UTC").key == "UTC"
