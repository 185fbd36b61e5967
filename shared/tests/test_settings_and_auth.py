"""Settings refuse placeholders in production; tokens carry tenant and roles."""

import time
import uuid

import jwt
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


def test_rs256_tokens_verify_with_the_public_key_only():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = ServiceSettings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    org = uuid.uuid4()
    signed = mint_token(
        secret=private_pem, sub="client-1", org=org, roles=["partner"], algorithm="RS256"
    )
    assert TokenVerifier(settings).verify(signed).org == org

    # An HS256 token signed with the public key as secret (the classic confusion attack) fails.
    forged = jwt.encode(
        {"sub": "x", "org": str(org), "roles": ["org_admin"], "exp": 9999999999}, "k", "HS256"
    )
    with pytest.raises(Problem):
        TokenVerifier(settings).verify(forged)


def test_a_verified_token_is_remembered_only_until_it_expires(monkeypatch):
    verifier = TokenVerifier(ServiceSettings())
    org = uuid.uuid4()
    token = mint_token(secret=DEV_JWT_SECRET, sub="ada", org=org, roles=["member"], ttl_s=1)
    first = verifier.verify(token)
    checked = []
    original = verifier._verify
    monkeypatch.setattr(verifier, "_verify", lambda t: checked.append(t) or original(t))
    assert verifier.verify(token) is first
    assert checked == []  # the signature is not checked again while the token is valid

    time.sleep(2.1)  # past `exp` (whole seconds)
    with pytest.raises(Problem) as refused:
        verifier.verify(token)
    assert refused.value.status == 401
    assert checked == [token]
