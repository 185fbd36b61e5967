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


def language(locale: str) -> str:
    """A locale's language: "es" for es, es-MX or es_ES."""
    return (locale or FALLBACK_LOCALE).replace("_", "-").split("-")[0].lower()


def exists(template: str, locale: str = FALLBACK_LOCALE) -> bool:
    try:
        _environment().get_template(f"{language(locale)}/{template}.j2")
        return True
    except TemplateNotFound:
        return False


def locale_for(template: str, locale: str) -> str:
    """The locale the template is rendered in for a person of `locale`: theirs, or English when
    we have no translation yet."""
    return locale if exists(template, locale) else FALLBACK_LOCALE


def render(template: str, locale: str, context: dict[str, Any]) -> Rendered:
    """The message in the person's language (English when we have no translation yet)."""
    env = _environment()
    context = {"link": None, "program": None, "unsubscribe_url": None} | dict(context)
    lang = language(locale_for(template, locale))
    source = env.get_template(f"{lang}/{template}.j2")
    ctx = source.new_context(dict(context))
    # Autoescaping is for the HTML part: the subject and the text part are plain text, so a name
    # like O'Brien must not reach them as O&#39;Brien.
    subject = html_lib.unescape(" ".join("".join(source.blocks["subject"](ctx)).split()))
    text = html_lib.unescape("".join(source.blocks["text"](ctx)).strip())
    content = "".join(source.blocks["html"](ctx)).strip()
    layout = env.get_template(f"{lang}/_layout.html.j2")
    html = layout.render(dict(context) | {"subject": subject, "content": content})
    return Rendered(subject=subject, text=text, html=html)
