"""One email as it goes over SMTP: subject, a plain-text and an HTML part in the person's
language, the headers mail providers expect of bulk mail, and the invite for meeting emails."""

from __future__ import annotations

import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
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
) -> EmailMessage:
    """The message for an email_delivery row that has its address."""
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

    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(row.id)
    # Machine-sent (RFC 3834): out-of-office replies stay away.
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    message.set_content(text + "\n")
    message.add_alternative(rendered.html, subtype="html")
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
            message.add_attachment(
                ics,
                maintype="text",
                subtype="calendar",
                filename="invite.ics",
                params={"method": method, "charset": "utf-8"},
            )
    return message
