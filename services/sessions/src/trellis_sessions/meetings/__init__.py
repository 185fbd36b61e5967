"""Meetings: scheduled across time zones (recurring by RRULE), rescheduled, cancelled, completed,
and published as iCalendar invites and per-person feeds."""
