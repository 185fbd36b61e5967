"""One email as it goes over SMTP: subject, a plain-text and an HTML part in the person's
language, the headers mail providers expect of bulk mail, and the invite for meeting emails.

The MIME parts are built with the compat32 classes and the message header is written here, not
through `EmailMessage`: its header registry parsed every header as it was set and again as it
was written, ~4 of the ~5 ms of CPU an email cost the sender (a 10,000-person import's welcomes
reached SMTP at ~140 per second)."""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from email.generator import BytesGenerator
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from trellis_notifications import templates
from trellis_notifications.email import invite, tokens
from trellis_notifications.settings import NotificationsSettings


@cache
def _text_environment() -> Environment:
    # The text part's frame is plain text: no HTML escaping (the HTML part has its own layout).
    return Environment(
        loader=PackageLoader("trellis_notifications", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _text_layout(template: str, locale: str) -> str:
    """The text frame in the language the message itself is in (English when it fell back)."""
    language = (locale or "en").replace("_", "-").split("-")[0].lower()
    if not (templates.exists(template, language) and templates.exists("_layout.txt", language)):
        language = "en"
    return f"{language}/_layout.txt.j2"


def message_id(delivery_id: uuid.UUID) -> str:
    """Stable per delivery: a copy sent again after a crash is recognisably the same message."""
    return f"<{delivery_id}@trellis>"


def unsubscribe_url(
    settings: NotificationsSettings,
    *,
    person_id: uuid.UUID,
    organization_id: uuid.UUID,
    categories: tuple[str, ...],
) -> str:
    token = tokens.sign(
        tokens.Unsubscribe(person_id, organization_id, categories), settings.unsubscribe_secret
    )
    return f"{settings.public_base_url.rstrip('/')}/notifications/unsubscribe?token={token}"


def build(
    row: Any, settings: NotificationsSettings, *, now: datetime, late_by_min: int | None
) -> bytes:
    """The message for an email_delivery row that has its address, as sent (CRLF lines)."""
    context: dict[str, Any] = dict(row.context)
    unsubscribe = None
    if not row.critical:
        # The digest's link stops every category it gathered; any other email its own.
        categories = tuple(context.get("categories") or (row.category,))
        unsubscribe = unsubscribe_url(
            settings,
            person_id=row.person_id,
            organization_id=row.organization_id,
            categories=categories,
        )
    context |= {"unsubscribe_url": unsubscribe, "late_by_min": late_by_min}
    rendered = templates.render(row.template, row.locale, context)
    text = (
        _text_environment()
        .get_template(_text_layout(row.template, row.locale))
        .render({"link": None, "program": None} | context | {"content": rendered.text})
    )

    body = MIMEMultipart(
        "alternative", boundary=_boundary(), _subparts=[_utf8(text + "\n", "plain")]
    )
    body.attach(_utf8(rendered.html, "html"))
    parts = body
    if "event" in context and "recipient" in context:
        attached = invite.build(
            row.template,
            context["event"],
            summary=invite.summary(context["recipient"], context.get("other") or {"name": ""}),
            organizer=parseaddr(settings.mail_from)[1],
            attendee=row.to_address,
            stamp=now,
        )
        if attached is not None:
            ics, method = attached
            calendar = _utf8(ics, "calendar")
            calendar.set_param("method", method)
            calendar.add_header("Content-Disposition", "attachment", filename="invite.ics")
            parts = MIMEMultipart("mixed", boundary=_boundary(), _subparts=[body, calendar])
    header = [
        ("From", _from(settings.mail_from)),
        ("To", row.to_address),
        ("Subject", _words(rendered.subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id(row.id)),
        # Machine-sent (RFC 3834): out-of-office replies stay away.
        ("Auto-Submitted", "auto-generated"),
    ]
    if unsubscribe is not None:
        header.append(("List-Unsubscribe", f"<{unsubscribe}>"))
        header.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))  # RFC 8058
    if any(c in row.to_address for c in "\r\n"):
        raise ValueError("a line break in the address")
    out = io.BytesIO()
    for name, value in header:
        out.write(f"{name}: {value}\r\n".encode())
    # The parts' own header (MIME-Version, Content-Type) follows, then the body.
    BytesGenerator(out, policy=_PARTS).flatten(parts)
    return out.getvalue()


# The parts' header lines are short; nothing is folded (a long token would move to a line of its
# own, which some readers of List-Unsubscribe take as part of the value).
_PARTS = compat32.clone(linesep="\r\n", max_line_length=None)


@cache
def _from(mail_from: str) -> str:
    return formataddr(parseaddr(mail_from), charset="utf-8")


def _boundary() -> str:
    # "=_" never occurs in base64, the parts' only encoding; the generator would otherwise search
    # each body for a boundary of its own with a regular expression compiled per message.
    return f"=_{uuid.uuid4().hex}"


def _utf8(text: str, subtype: str) -> MIMEText:
    """A text part in UTF-8, base64-encoded: any line length and any script go through SMTP."""
    return MIMEText(text, subtype, "utf-8")


def _words(value: str) -> str:
    """A header value with no line breaks of its own: as is when ASCII, else RFC 2047 encoded
    words (folded onto continuation lines, which a reader joins back)."""
    value = " ".join(value.split())
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")
