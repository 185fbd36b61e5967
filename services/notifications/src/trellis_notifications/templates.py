"""Message templates: one Jinja2 file per template and locale, with a subject, a plain-text and
an HTML part. A locale without its own file falls back to English."""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape

FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("trellis_notifications", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _language(locale: str) -> str:
    return (locale or FALLBACK_LOCALE).replace("_", "-").split("-")[0].lower()


def exists(template: str, locale: str = FALLBACK_LOCALE) -> bool:
    try:
        _environment().get_template(f"{_language(locale)}/{template}.j2")
        return True
    except TemplateNotFound:
        return False


def render(template: str, locale: str, context: dict[str, Any]) -> Rendered:
    """The message in the person's language (English when we have no translation yet)."""
    env = _environment()
    context = {"link": None, "program": None, "unsubscribe_url": None} | dict(context)
    language = _language(locale)
    if not exists(template, language):
        language = FALLBACK_LOCALE
    source = env.get_template(f"{language}/{template}.j2")
    ctx = source.new_context(dict(context))
    # Autoescaping is for the HTML part: the subject and the text part are plain text, so a name
    # like O'Brien must not reach them as O&#39;Brien.
    subject = html_lib.unescape(" ".join("".join(source.blocks["subject"](ctx)).split()))
    text = html_lib.unescape("".join(source.blocks["text"](ctx)).strip())
    content = "".join(source.blocks["html"](ctx)).strip()
    layout = env.get_template(f"{language}/_layout.html.j2")
    html = layout.render(dict(context) | {"subject": subject, "content": content})
    return Rendered(subject=subject, text=text, html=html)
