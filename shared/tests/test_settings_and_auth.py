"""Settings refuse placeholders in production; tokens carry tenant and roles."""

import uuid

import pytest
from pydantic import ValidationError

from trellis_shared.auth import TokenVerifier, mint_token
from trellis_shared.problems import Problem
from trellis_shared.settings import DEV_JWT_SECRET, ServiceSettings


def test_development_accepts_the_dev_secret():
    assert ServiceSettings().jwt_secret == DEV_JWT_SECRET


def test_production_refuses_placeholder_secrets():
    with pytest.raises(ValidationError, match="jwt_secret is a placeholder"):
        ServiceSettings(environment="production", database_url="postgresql+asyncpg://u:s3cret@db/x")


def test_production_refuses_development_database_passwords():
    with pytest.raises(ValidationError, match="database_url"):
        ServiceSettings(
            environment="production",
            jwt_secret="x" * 40,
            database_url="postgresql+asyncpg://profiles:profiles-dev@db/trellis",
        )


def test_production_starts_with_real_secrets():
    settings = ServiceSettings(
        environment="production",
        jwt_secret="k" * 48,
        database_url="postgresql+asyncpg://u:s3cret@db/x",
    )
    assert settings.environment == "production"


def test_a_minted_token_verifies_to_its_principal():
    org = uuid.uuid4()
    person = uuid.uuid4()
    verifier = TokenVerifier(ServiceSettings())
    principal = verifier.verify(
        mint_token(secret=DEV_JWT_SECRET, sub=str(person), org=org, roles=["member"])
    )
    assert principal.org == org
    assert principal.person_id == person
    assert principal.has_role("member") and not principal.has_role("org_admin")


@pytest.mark.parametrize(
    "token",
    [
        mint_token(
            secret="another-secret-entirely-0123456789", sub="x", org=uuid.uuid4(), roles=["member"]
        ),
        mint_token(secret=DEV_JWT_SECRET, sub="x", org="not-a-uuid", roles=["member"]),
        mint_token(secret=DEV_JWT_SECRET, sub="x", org=uuid.uuid4(), roles=["emperor"]),
        mint_token(secret=DEV_JWT_SECRET, sub="x", org=uuid.uuid4(), roles=["member"], ttl_s=-10),
        "not.a.token",
    ],
)
def test_bad_tokens_are_401(token):
    with pytest.raises(Problem) as caught:
        TokenVerifier(ServiceSettings()).verify(token)
    assert caught.value.status == 401
