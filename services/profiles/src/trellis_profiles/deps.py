"""Request-scoped dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from trellis_profiles.settings import ProfilesSettings
from trellis_shared.db import SessionDep  # noqa: F401  (re-exported for the routes)


async def _settings(request: Request) -> ProfilesSettings:  # async: a plain def runs in a thread
    return request.app.state.settings


SettingsDep = Annotated[ProfilesSettings, Depends(_settings)]
