"""airflow_provider_baas.secrets: what is secret, every form it can take, and holders that show nothing."""

from __future__ import annotations

import base64
import html
import json
import pickle
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_baas.connection import BaasConnectionConfig
from airflow_provider_baas.errors import BaasApiError
from airflow_provider_baas.secrets import (
    MAX_EPHEMERAL,
    Sealed,
    SecretSet,
    looks_secret,
    secret_field,
    url_credentials,
)

from ._support import JOBS_URL, TOKEN, new_rsa_key_pair, redact

SECRET = "s3cr3t/Value+With=Ümlaut&<tag>\\"


def test_every_form_of_a_secret_is_redacted() -> None:
    secrets = SecretSet([SECRET])
    raw = SECRET.encode()
    forms = {
        "plain": SECRET,
        "json": json.dumps(SECRET)[1:-1],
        "json-slash": json.dumps(SECRET).replace("/", "\\/")[1:-1],
        "json-in-json": json.dumps(json.dumps(SECRET))[1:-1],
        "json-utf8": json.dumps(SECRET, ensure_ascii=False)[1:-1],
        "url": quote(SECRET, safe=""),
        "url-lower-hex": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe="")),
        "url-plus": quote_plus(SECRET),
        "html": html.escape(SECRET),
        "repr": repr(SECRET)[1:-1],
        "repr-bytes": repr(raw)[2:-1],
    }
    for offset in range(3):
        for name, encode in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            text = encode(b"x" * offset + raw + b"y").decode()
            forms[f"{name}-{offset}"] = text
    for name, form in forms.items():
        redacted = secrets.redact(f"<<{form}>>")
        assert "s3cr3t" not in redacted and "czNjcjN0" not in redacted, name
        assert "***" in redacted, name


def test_pem_body_lines_are_secret_but_not_the_begin_and_end_lines() -> None:
    pem, _ = new_rsa_key_pair()
    secrets = SecretSet([pem])
    body_line = pem.splitlines()[3]
    assert secrets.redact(f"line {body_line}") == "line ***"
    assert secrets.redact("-----BEGIN PRIVATE KEY-----") == "-----BEGIN PRIVATE KEY-----"


def test_values_too_short_to_redact_are_ignored() -> None:
    secrets = SecretSet(["d", "dwh", "1234567", None, ""])
    assert len(secrets) == 0
    assert secrets.redact("demo-site dwh 1234567") == "demo-site dwh 1234567"


def test_only_the_last_minted_tokens_are_kept_and_permanent_secrets_stay() -> None:
    secrets = SecretSet(["permanent-secret-1"])
    minted = [f"minted-jwt-number-{i}" for i in range(MAX_EPHEMERAL + 1)]
    for token in minted:
        secrets.add(token, ephemeral=True)
    assert secrets.redact(minted[0]) == minted[0]
    assert [secrets.redact(t) for t in minted[1:]] == ["***"] * MAX_EPHEMERAL
    assert secrets.redact("permanent-secret-1") == "***"


def test_redact_prefix_leaves_no_part_of_a_secret_cut_at_the_limit() -> None:
    secrets = SecretSet([SECRET])
    for offset in range(60, 80):
        cut = secrets.redact_prefix("x" * offset + SECRET + " tail", 80)
        assert len(cut) <= 80 and "s3cr" not in cut


def test_holders_show_nothing_and_refuse_to_be_pickled() -> None:
    secrets = SecretSet([SECRET])
    sealed = Sealed({"Authorization": f"Bearer {SECRET}"}, "auth headers")
    for holder in (secrets, sealed):
        assert "s3cr3t" not in repr(holder) and "s3cr3t" not in str(holder)
        with pytest.raises(TypeError):
            pickle.dumps(holder)
    assert sealed.reveal()["Authorization"].endswith(SECRET)


def test_a_new_credential_is_covered_by_marking_its_field_once() -> None:
    """E.g. the database credentials of a restore: ``secret_field()`` is all it takes."""

    @dataclass(frozen=True)
    class RestoreSettings:
        database_user: str
        database_password: str = secret_field()
        extra_credentials: dict[str, str] = secret_field(default_factory=dict)

    password = "db-password-for-restore-77"
    settings = RestoreSettings("dbc", password, {"x-auth-credentials": "Basic ZGJjOmRiLXBhc3N3b3Jk"})
    secrets = SecretSet.of(settings)
    assert password not in repr(settings)
    assert secrets.redact(f"user dbc password {password}") == "user dbc password ***"
    assert secrets.redact("x-auth-credentials: Basic ZGJjOmRiLXBhc3N3b3Jk") == "x-auth-credentials: ***"
    assert password not in redact(f"logged {password}")  # registered with Airflow's masker


def test_a_secret_added_to_the_connection_is_redacted_everywhere(hook, requests_mock) -> None:
    credential = "restore-db-password-123"
    hook.config.secrets.add(credential)
    requests_mock.get(JOBS_URL, status_code=400, json={"message": f"bad credential {credential}"})
    with pytest.raises(BaasApiError) as info:
        hook.list_jobs()
    assert "bad credential ***" in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and credential not in message


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("x-api-key", True),
        ("x-gateway-key", True),
        ("Ocp-Apim-Subscription-Key", True),
        ("Authorization", True),
        ("X-Auth-Token", True),
        ("Cookie", True),
        ("x-team", False),
        ("Accept", False),
        ("x-request-id", False),
    ],
)
def test_header_names_that_name_a_credential(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_url_credentials() -> None:
    assert url_credentials("http://proxy:3128") == []
    parts = url_credentials("http://alice:p%40ss-word@proxy:3128")
    assert "p@ss-word" in parts and "alice:p%40ss-word" in parts
    malformed = url_credentials("http://alice:pw@proxy:bad")
    assert "http://alice:pw@proxy:bad" in malformed and "alice:pw" in malformed


def test_the_parsed_connection_shows_and_keys_no_secret(make_hook) -> None:
    hook = make_hook(
        extra={
            "secret_headers": {"x-gateway-key": "gateway-key-4242"},
            "proxies": {"https": "http://alice:proxy-pass-4242@proxy:3128"},
        }
    )
    config = hook.config
    shown = repr(config) + config.identity()
    for secret in (TOKEN, "gateway-key-4242", "proxy-pass-4242"):
        assert secret not in shown
        assert config.secrets.redact(secret) == "***"
    assert isinstance(config, BaasConnectionConfig)
