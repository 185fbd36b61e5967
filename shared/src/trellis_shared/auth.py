"""Bearer JWT authentication and role checks.

Tokens carry `sub` (a person or client id), `org` (the tenant), `roles` and, for partners,
`scope`. Whether a member is a mentor or a mentee is a fact of an enrollment, never of a token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings

Role = Literal["platform_admin", "org_admin", "member", "partner"]
ROLES: tuple[Role, ...] = ("platform_admin", "org_admin", "member", "partner")


@dataclass(frozen=True)
class Principal:
    sub: str
    org: uuid.UUID
    roles: frozenset[str]
    scope: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def person_id(self) -> uuid.UUID | None:
        """The caller as a person, when `sub` is a person id."""
        try:
            return uuid.UUID(self.sub)
        except ValueError:
            return None


def mint_token(
    *,
    secret: str,
    sub: str,
    org: uuid.UUID | str,
    roles: list[str],
    scope: list[str] | None = None,
    ttl_s: int = 3600,
    algorithm: str = "HS256",
) -> str:
    """A signed token, for development, tests and operators."""
    now = int(time.time())
    claims = {"sub": sub, "org": str(org), "roles": roles, "iat": now, "exp": now + ttl_s}
    if scope:
        claims["scope"] = " ".join(scope)
    return jwt.encode(claims, secret, algorithm=algorithm)


class TokenVerifier:
    """Verifies bearer tokens with the key material the settings name."""

    # Verified tokens, until they expire: a client sends the same token with every request, and
    # checking its signature and claims cost as much as the rest of a read.
    CACHE_SIZE = 10_000

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._verified: dict[str, tuple[Principal, float]] = {}

    def _key(self, token: str) -> object:
        if self._settings.jwt_algorithm == "HS256":
            return self._settings.jwt_secret
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        return self._settings.jwt_public_key

    def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                return principal
            del self._verified[token]
        principal, expires = self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()  # rare: a burst of distinct tokens; they are verified again
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=[self._settings.jwt_algorithm],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": bool(self._settings.jwt_audience),
                },
            )
        except jwt.PyJWTError as exc:
            raise _unauthenticated(f"Invalid bearer token: {exc}") from exc
        try:
            org = uuid.UUID(str(claims.get("org")))
        except ValueError as exc:
            raise _unauthenticated("Token has no valid `org` claim") from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not set(roles) <= set(ROLES):
            raise _unauthenticated("Token `roles` must be a list of known roles")
        scope = claims.get("scope") or ""
        principal = Principal(
            sub=str(claims["sub"]),
            org=org,
            roles=frozenset(roles),
            scope=frozenset(scope.split() if isinstance(scope, str) else scope),
        )
        return principal, float(claims["exp"])


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="trellis"'})


# Declares the bearer scheme in each service's OpenAPI document; `authenticate` reads the header
# itself so that every failure is the same 401 problem.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")


async def authenticate(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthenticated("A bearer token is required")
    principal = request.app.state.token_verifier.verify(token.strip())
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_roles(*roles: Role):
    """A dependency that admits callers holding any of `roles`."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise Problem(403, f"This action needs one of the roles: {', '.join(roles)}")
        return principal

    return Depends(_check)
