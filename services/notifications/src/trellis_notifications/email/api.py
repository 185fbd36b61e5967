"""Email routes: unsubscribing from a link (no sign-in: the signed token is the authority) and
an org admin's at-risk digest switch."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from trellis_notifications.deps import CallerPersonId, SessionDep
from trellis_notifications.email import admins, unsubscribe
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.problems import Problem

router = APIRouter(prefix="/notifications", tags=["email"])

Token = Annotated[str, Query(min_length=1, max_length=500, description="From the email's link")]
_LINK_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The link is not one Trellis signed"},
    404: {"description": "The link's person is not known (any more)"},
}


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; '
        f'padding: 0 1rem; line-height: 1.5;"><h1>{escape(title)}</h1>{body}</body></html>'
    )


def _named(categories: tuple[str, ...]) -> str:
    return escape(", ".join(c.replace("_", " ") for c in categories))


@router.get(
    "/unsubscribe",
    response_class=HTMLResponse,
    responses=_LINK_PROBLEMS,
    summary="The page an email's unsubscribe link opens: asks before switching anything",
)
async def unsubscribe_page(token: Token, request: Request, session: SessionDep) -> HTMLResponse:
    found = unsubscribe.claim(token, request.app.state.settings.unsubscribe_secret)
    await unsubscribe.known(session, found)
    # A GET changes nothing: link scanners in mail systems open links without anyone clicking.
    return _page(
        "Stop these emails?",
        f"<p>You will no longer receive emails about <strong>{_named(found.categories)}</strong>. "
        "They stay in your Trellis inbox, and you can switch them back on in your preferences.</p>"
        f'<form method="post" action="?token={escape(quote(token, safe=""))}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post(
    "/unsubscribe",
    response_class=HTMLResponse,
    responses=_LINK_PROBLEMS,
    summary="Unsubscribe (RFC 8058 one-click, or the page's button): email off for the categories",
)
async def unsubscribe_now(token: Token, request: Request, session: SessionDep) -> HTMLResponse:
    found = unsubscribe.claim(token, request.app.state.settings.unsubscribe_secret)
    async with session.begin():
        await unsubscribe.apply(session, found)
    return _page(
        "Unsubscribed",
        f"<p>You will no longer receive emails about <strong>{_named(found.categories)}</strong>."
        "</p>",
    )


class AdminDigest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        description="A daily digest of the organization's mentorships at risk (and inbox items)"
    )


def _admin(principal: CurrentPrincipal) -> None:
    if not principal.has_role("org_admin"):
        raise Problem(403, "Only an org admin receives program digests")


@router.get(
    "/admin-digest", response_model=AdminDigest, summary="Whether the caller gets at-risk digests"
)
async def read_admin_digest(
    principal: CurrentPrincipal, person_id: CallerPersonId, session: SessionDep
) -> AdminDigest:
    _admin(principal)
    enabled = await admins.digest_enabled(
        session, organization_id=principal.org, person_id=person_id
    )
    return AdminDigest(enabled=enabled)


@router.put(
    "/admin-digest",
    response_model=AdminDigest,
    summary="Switch the caller's at-risk digest (org admins with a person id)",
)
async def write_admin_digest(
    body: AdminDigest, principal: CurrentPrincipal, person_id: CallerPersonId, session: SessionDep
) -> AdminDigest:
    _admin(principal)
    async with session.begin():
        enabled = await admins.set_digest(
            session, organization_id=principal.org, person_id=person_id, enabled=body.enabled
        )
    return AdminDigest(enabled=enabled)
