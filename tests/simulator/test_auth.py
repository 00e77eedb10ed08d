"""Authentication: static bearer tokens, RS256 JWTs, per-principal site access, required headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import types
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.testing import auth as auth_module
from airflow_provider_baas.testing.auth import Authenticator

from .conftest import SITE, TOKEN

AUD = "td:service:authentication"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def make_jwt(key: Any, *, kid: str | None = "my-key", algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {"aud": [AUD], "iat": now, "exp": now + 3600, "iss": "tests", "sub": "alice", "multi-use": True}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def jobs(sim: BaasSimulator, client: Any, token: str | None, site: str = SITE, **kwargs: Any) -> Any:
    return client.request("GET", f"{sim.base_url}/sites/{site}/jobs", token=token, **kwargs)


def assert_401(answer: Any, word: str) -> None:
    assert answer.status == 401, answer.body
    assert answer.headers["www-authenticate"] == "Bearer"
    body = answer.json()
    assert body["status"] == 401 and word in body["message"]


def test_static_token(sim: BaasSimulator, client: Any) -> None:
    assert jobs(sim, client, TOKEN).status == 200
    assert_401(jobs(sim, client, "wrong-token"), "invalid bearer token")
    assert_401(jobs(sim, client, None), "missing Authorization")
    assert_401(jobs(sim, client, None, headers={"Authorization": f"Basic {TOKEN}"}), "Bearer")
    assert_401(jobs(sim, client, None, headers={"Authorization": "Bearer "}), "Bearer")


def test_auth_comes_before_routing(sim: BaasSimulator, client: Any) -> None:
    assert_401(client.request("GET", f"{sim.url}/nowhere", token=None), "missing")
    assert client.request("GET", f"{sim.url}/nowhere").status == 404


def test_default_token_and_disabled_auth(make_sim: Any, http: Any) -> None:
    from airflow_provider_baas.testing import DEFAULT_TOKEN

    sim = BaasSimulator(time_scale=0)
    assert sim.token == DEFAULT_TOKEN
    open_sim = make_sim(token=None)
    assert jobs(open_sim, http, None).status == 200
    assert jobs(open_sim, http, "anything").status == 200


def test_jwt_accepted(make_sim: Any, client: Any, key: rsa.RSAPrivateKey) -> None:
    sim = make_sim(jwt_public_key=public_pem(key))
    assert jobs(sim, client, make_jwt(key)).status == 200
    assert jobs(sim, client, make_jwt(key, aud=None)).status == 200  # no aud claim: fine
    assert jobs(sim, client, make_jwt(key, aud=AUD)).status == 200  # aud as a string
    assert jobs(sim, client, TOKEN).status == 200  # the static token still works


@pytest.mark.parametrize(
    ("claims", "word"),
    [
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"exp": None}, "exp"),
        ({"aud": ["someone-else"]}, "audience"),
    ],
)
def test_jwt_rejected(make_sim: Any, client: Any, key: rsa.RSAPrivateKey, claims: dict, word: str) -> None:
    sim = make_sim(jwt_public_key=public_pem(key))
    assert_401(jobs(sim, client, make_jwt(key, **claims)), word)


def test_jwt_signed_by_another_key(make_sim: Any, client: Any, key: Any, other_key: Any) -> None:
    sim = make_sim(jwt_public_key=public_pem(key))
    assert_401(jobs(sim, client, make_jwt(other_key)), "invalid JWT")


def test_jwt_hs256_with_public_key_as_secret_is_rejected(make_sim: Any, http: Any, key: Any) -> None:
    sim = make_sim(jwt_public_key=public_pem(key))

    # The classic algorithm confusion: HS256 "signed" with the public key PEM as the secret.
    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps({"sub": "x"}).encode())
    signature = hmac.new(public_pem(key), signing_input, hashlib.sha256).digest()
    forged = (signing_input + b"." + b64(signature)).decode()
    assert_401(jobs(sim, http, forged), "invalid JWT")
    assert_401(jobs(sim, http, "not.a.jwt"), "JWT")


def test_jwt_kid_check(make_sim: Any, http: Any, key: Any) -> None:
    sim = make_sim(jwt_public_key=public_pem(key), jwt_kid="my-key")
    assert jobs(sim, http, make_jwt(key, kid="my-key")).status == 200
    assert_401(jobs(sim, http, make_jwt(key, kid="other-key")), "key id")
    assert_401(jobs(sim, http, make_jwt(key, kid=None)), "key id")


def test_key_formats(make_sim: Any, http: Any, key: Any, tmp_path: Path) -> None:
    pem_file = tmp_path / "key.pub.pem"
    pem_file.write_bytes(public_pem(key))
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for form in (public_pem(key).decode(), pem_file, key, key.public_key(), private_pem):
        sim = make_sim(jwt_public_key=form)
        assert jobs(sim, http, make_jwt(key)).status == 200, type(form)


def test_site_access_403(make_sim: Any, client: Any, key: Any) -> None:
    sim = make_sim(
        jwt_public_key=public_pem(key),
        tokens={"token-of-bob": "bob"},
        site_access={"alice": ["s2"], "bob": [SITE]},
    )
    alice = make_jwt(key, sub="alice")
    answer = jobs(sim, client, alice, site=SITE)
    assert answer.status == 403
    assert answer.json() == {"status": 403, "error": "Forbidden", "message": f"no access to site {SITE}"}
    assert jobs(sim, client, alice, site="s2").status == 200
    assert jobs(sim, client, alice, site="unknown-site").status == 403  # no hint that it does not exist
    assert jobs(sim, client, "token-of-bob", site=SITE).status == 200
    assert jobs(sim, client, "token-of-bob", site="s2").status == 403
    carol = make_jwt(key, sub="carol")  # not listed: every site
    assert jobs(sim, client, carol, site="s2").status == 200
    assert jobs(sim, client, TOKEN, site="s2").status == 200  # principal "default", not listed
    execute = client.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute", token=alice)
    assert execute.status == 403
    assert sim.executions(1)[0]["status"] == "SUCCESSFUL"  # nothing started


def test_site_access_from_scenario(make_sim: Any, http: Any) -> None:
    from .conftest import small_scenario

    scenario = small_scenario()
    scenario.site_access = {"default": ["s2"]}
    sim = make_sim(scenario=scenario)
    assert jobs(sim, http, TOKEN, site=SITE).status == 403
    assert jobs(sim, http, TOKEN, site="s2").status == 200


def test_required_headers(make_sim: Any, client: Any) -> None:
    sim = make_sim(required_headers={"x-api-key": "key-1"})
    assert jobs(sim, client, TOKEN, headers={"x-api-key": "key-1"}).status == 200
    assert_401(jobs(sim, client, TOKEN), "x-api-key")
    assert_401(jobs(sim, client, TOKEN, headers={"x-api-key": "nope"}), "x-api-key")
    header_only = make_sim(token=None, required_headers={"x-api-key": "key-1"})
    assert jobs(header_only, client, None, headers={"x-api-key": "key-1"}).status == 200


def test_verified_jwt_cache_still_honours_exp(monkeypatch: pytest.MonkeyPatch, key: Any) -> None:
    auth = Authenticator(jwt_public_key=key.public_key())
    token = make_jwt(key, exp=int(time.time()) + 60, sub="dave")
    headers = {"Authorization": f"Bearer {token}"}
    assert auth.authenticate(headers) == "dave"
    assert auth.authenticate(headers) == "dave"  # from the cache
    later = time.time() + 120
    monkeypatch.setattr(auth_module, "time", types.SimpleNamespace(time=lambda: later))
    with pytest.raises(auth_module.SimError) as err:
        auth.authenticate(headers)
    assert err.value.status == 401 and "expired" in err.value.message
