"""Auth modes (static token, static headers, PAT -> RS256 JWT), JWT renewal, 401 handling, and the
secrets masker: every credential and minted JWT must be registered with Airflow's masker."""

from __future__ import annotations

import logging
import time
import uuid

import jwt
import pytest
import requests

from airflow_provider_baas.errors import BaasAuthError, BaasConfigurationError
from airflow_provider_baas.hooks import baas as baas_module
from airflow_provider_baas.hooks.auth import Authenticator, PatJwtAuthenticator

from ._support import (
    EXECUTIONS_URL,
    JOBS_URL,
    TOKEN,
    bearer,
    decode_jwt,
    execute_url,
    execution_payload,
    job_executions_url,
    job_payload,
    new_rsa_key_pair,
    paged,
    redact,
    rsa_key_pair,
)

_DEFAULT_KEY = object()


def pat_extra(private_key=_DEFAULT_KEY, **overrides):
    """A complete PAT-mode extra; pass ``name=None`` to leave a field out."""
    extra = {
        "auth_mode": "pat",
        "pat": "pat-value-0123456789",
        "private_key": rsa_key_pair()[0] if private_key is _DEFAULT_KEY else private_key,
        "key_id": "airflow-key-1",
        "subject": "dbc_user",
        "org_claim_name": "org_id",
        "org_claim_value": "org-42",
        "token_lifetime": 600,
    }
    extra.update(overrides)
    return {k: v for k, v in extra.items() if v is not None}


class FakeClock:
    def __init__(self, now: float = 1_000_000.0, step: float = 0.0) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


@pytest.fixture
def clocked(monkeypatch):
    """Make the hook build its PAT authenticator with a fake clock; returns the clock."""
    clock = FakeClock()
    real = baas_module.authenticator_for

    def authenticator_for(config):
        auth = real(config)
        return PatJwtAuthenticator(config, clock=clock) if isinstance(auth, PatJwtAuthenticator) else auth

    monkeypatch.setattr(baas_module, "authenticator_for", authenticator_for)
    return clock


# ------------------------------------------------------------------------------------------------
# Static token and headers


def test_token_mode_sends_the_bearer_token_on_every_request(hook, requests_mock):
    requests_mock.get(JOBS_URL, json=paged([[job_payload(1), job_payload(2)], [job_payload(3)]]))

    hook.list_jobs()

    assert len(requests_mock.request_history) == 2
    assert [r.headers["Authorization"] for r in requests_mock.request_history] == [f"Bearer {TOKEN}"] * 2


def test_static_extra_headers_are_added(make_hook, requests_mock):
    hook = make_hook(extra={"headers": {"x-gateway-key": "gw-key-abcdef", "x-team": "dwh"}})
    requests_mock.post(execute_url(34), status_code=202, headers={"x-resource-id": "e1"})

    hook.execute_job(34)

    sent = requests_mock.request_history[0].headers
    assert sent["x-gateway-key"] == "gw-key-abcdef"
    assert sent["x-team"] == "dwh"
    assert sent["Authorization"] == f"Bearer {TOKEN}"


def test_static_headers_given_as_a_json_string(make_hook, requests_mock):
    hook = make_hook(extra={"headers": '{"x-gateway-key": "gw-key-abcdef"}'})
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    assert requests_mock.request_history[0].headers["x-gateway-key"] == "gw-key-abcdef"


def test_headers_only_token_mode_sends_no_authorization(make_hook, requests_mock):
    hook = make_hook(password=None, extra={"headers": {"x-api-key": "api-key-abcdef"}})
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    sent = requests_mock.request_history[0].headers
    assert sent["x-api-key"] == "api-key-abcdef"
    assert "Authorization" not in sent


def test_token_mode_401_is_not_retried(hook, requests_mock):
    requests_mock.get(JOBS_URL, status_code=401, json={"message": "token expired"})

    with pytest.raises(BaasAuthError) as info:
        hook.list_jobs()

    assert info.value.status == 401
    assert info.value.message == "token expired"
    assert len(requests_mock.request_history) == 1


# ------------------------------------------------------------------------------------------------
# PAT mode: minted RS256 JWTs


def test_pat_mode_sends_an_rs256_jwt_with_the_documented_claims(make_hook, requests_mock):
    pem, public_key = rsa_key_pair()
    hook = make_hook(password=None, extra=pat_extra(pem))
    requests_mock.get(JOBS_URL, json=[])

    before = int(time.time())
    hook.list_jobs()
    after = int(time.time())

    token = bearer(requests_mock.request_history[0])
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == "airflow-key-1"
    assert header["typ"] == "JWT"
    claims = decode_jwt(token, public_key)
    assert claims["aud"] == ["td:service:authentication"]
    assert before <= claims["iat"] <= after
    assert claims["exp"] == claims["iat"] + 600
    assert claims["iss"] == "airflow-provider-baas"
    assert claims["org_id"] == "org-42"
    assert "org_key" not in claims
    assert claims["multi-use"] is True
    assert claims["pat"] == "pat-value-0123456789"
    assert claims["sub"] == "dbc_user"


def test_pat_mode_signature_fails_with_another_key(make_hook, requests_mock):
    hook = make_hook(password=None, extra=pat_extra())
    requests_mock.get(JOBS_URL, json=[])
    hook.list_jobs()
    _, other_public = new_rsa_key_pair()

    with pytest.raises(jwt.InvalidSignatureError):
        decode_jwt(bearer(requests_mock.request_history[0]), other_public)


def test_pat_mode_defaults_and_overrides_of_optional_claims(make_hook, requests_mock):
    _, public_key = rsa_key_pair()
    extra = pat_extra(org_claim_name=None, subject=None, issuer="my-airflow", token_lifetime=None)
    hook = make_hook(password=None, login="db_login_user", extra=extra)
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    claims = decode_jwt(bearer(requests_mock.request_history[0]), public_key)
    assert claims["org_key"] == "org-42"  # default claim name
    assert claims["sub"] == "db_login_user"  # falls back to the Login field
    assert claims["iss"] == "my-airflow"
    assert claims["exp"] - claims["iat"] == 3600  # default lifetime


def test_pat_mode_private_key_from_a_file(make_hook, requests_mock, tmp_path):
    pem, public_key = rsa_key_pair()
    key_file = tmp_path / "airflow-key-1.pem"
    key_file.write_text(pem)
    hook = make_hook(password=None, extra=pat_extra(private_key=None, private_key_path=str(key_file)))
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    claims = decode_jwt(bearer(requests_mock.request_history[0]), public_key)
    assert claims["pat"] == "pat-value-0123456789"


def test_pat_mode_private_key_with_escaped_newlines(make_hook, requests_mock):
    pem, public_key = rsa_key_pair()
    hook = make_hook(password=None, extra=pat_extra(private_key=pem.replace("\n", "\\n")))
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    assert decode_jwt(bearer(requests_mock.request_history[0]), public_key)["sub"] == "dbc_user"


@pytest.mark.parametrize("missing", ["pat", "private_key", "key_id", "subject", "org_claim_value"])
def test_pat_mode_missing_fields_fail_before_any_request(make_hook, requests_mock, missing):
    hook = make_hook(password=None, extra=pat_extra(**{missing: None}))
    requests_mock.get(JOBS_URL, json=[])

    with pytest.raises(BaasConfigurationError) as info:
        hook.list_jobs()

    assert missing in str(info.value)
    assert requests_mock.request_history == []


def test_pat_mode_unreadable_key_file_fails_before_any_request(make_hook, requests_mock, tmp_path):
    missing_file = tmp_path / "nope.pem"
    hook = make_hook(password=None, extra=pat_extra(private_key=None, private_key_path=str(missing_file)))

    with pytest.raises(BaasConfigurationError, match="private_key_path"):
        hook.list_jobs()
    assert requests_mock.request_history == []


def test_pat_mode_garbage_key_fails_before_any_request_without_echoing_it(make_hook, requests_mock):
    garbage = "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LXNlY3JldA==\n-----END PRIVATE KEY-----"
    hook = make_hook(password=None, extra=pat_extra(private_key=garbage))

    with pytest.raises(BaasConfigurationError, match="Cannot sign a JWT") as info:
        hook.list_jobs()

    assert "bm90LWEta2V5LXNlY3JldA" not in str(info.value)
    assert requests_mock.request_history == []


# ------------------------------------------------------------------------------------------------
# JWT lifetime: reuse while fresh, re-mint before expiry (margin = max(60 s, 20% of lifetime))


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [(600, 120.0), (3600, 720.0), (100, 60.0), (60, 60.0)],
)
def test_jwt_is_reused_while_fresh_and_reminted_before_expiry(make_hook, lifetime, margin):
    _, public_key = rsa_key_pair()
    config = make_hook(password=None, extra=pat_extra(token_lifetime=lifetime)).config
    clock = FakeClock(now=1_000_000.0)
    auth = PatJwtAuthenticator(config, clock=clock)

    first = auth.token()
    claims = decode_jwt(first, public_key, verify_time=False)
    assert (claims["iat"], claims["exp"]) == (1_000_000, 1_000_000 + lifetime)

    renew_at = 1_000_000.0 + lifetime - margin
    if renew_at > 1_000_000.0:
        clock.now = renew_at - 1
        assert auth.token() == first
    else:  # the margin covers the whole lifetime: every later call mints
        renew_at = 1_000_000.0 + 1

    clock.now = renew_at
    second = auth.token()
    assert second != first
    claims = decode_jwt(second, public_key, verify_time=False)
    assert (claims["iat"], claims["exp"]) == (int(renew_at), int(renew_at) + lifetime)


def test_hook_reuses_a_fresh_jwt_across_calls_and_renews_it_near_expiry(make_hook, requests_mock, clocked):
    _, public_key = rsa_key_pair()
    hook = make_hook(password=None, extra=pat_extra(token_lifetime=600))
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()
    clocked.now += 400
    hook.list_jobs()
    clocked.now += 100  # 500 s after minting: inside the 120 s renewal margin
    hook.list_jobs()

    tokens = [bearer(r) for r in requests_mock.request_history]
    assert tokens[0] == tokens[1]
    assert tokens[2] != tokens[1]
    iats = [decode_jwt(t, public_key, verify_time=False)["iat"] for t in tokens]
    assert iats[2] - iats[0] == 500


def test_pat_401_mints_a_new_jwt_once_and_retries(make_hook, requests_mock, clocked, waits, caplog):
    _, public_key = rsa_key_pair()
    clocked.step = 1.0  # time moves on between mints, so a re-minted JWT differs
    hook = make_hook(password=None, extra=pat_extra())
    requests_mock.get(
        JOBS_URL,
        [{"status_code": 401, "json": {"message": "jwt rejected"}}, {"json": [job_payload(34)]}],
    )
    caplog.set_level(logging.INFO, logger="airflow_provider_baas")

    jobs = hook.list_jobs()

    assert [j.job_id for j in jobs] == ["34"]
    first, second = (bearer(r) for r in requests_mock.request_history)
    assert first != second
    assert decode_jwt(second, public_key, verify_time=False)["pat"] == "pat-value-0123456789"
    assert waits == [0.0]  # the re-mint retry does not back off
    assert "minting a new token" in caplog.text


def test_pat_401_twice_raises_auth_error(make_hook, requests_mock, clocked):
    clocked.step = 1.0
    hook = make_hook(password=None, extra=pat_extra())
    requests_mock.get(JOBS_URL, status_code=401, json={"message": "PAT revoked"})

    with pytest.raises(BaasAuthError) as info:
        hook.list_jobs()

    assert info.value.status == 401
    assert info.value.message == "PAT revoked"
    assert len(requests_mock.request_history) == 2


def test_pat_401_renewal_is_once_per_request_not_once_per_hook(make_hook, requests_mock, clocked):
    clocked.step = 1.0
    hook = make_hook(password=None, extra=pat_extra())
    requests_mock.get(
        JOBS_URL,
        [
            {"status_code": 401},
            {"json": []},
            {"status_code": 401},
            {"json": [job_payload(1)]},
        ],
    )

    assert hook.list_jobs() == []
    assert [j.job_id for j in hook.list_jobs()] == ["1"]
    assert len(requests_mock.request_history) == 4


def test_pat_403_is_not_renewed(make_hook, requests_mock):
    hook = make_hook(password=None, extra=pat_extra())
    requests_mock.get(JOBS_URL, status_code=403, json={"message": "no access to site"})

    with pytest.raises(BaasAuthError) as info:
        hook.list_jobs()

    assert info.value.status == 403
    assert len(requests_mock.request_history) == 1


def test_pat_401_on_execute_resends_the_refused_post_with_a_new_jwt(make_hook, requests_mock, clocked):
    # A 401 is an explicit refusal: nothing started, so re-sending the execute is safe.
    clocked.step = 1.0
    hook = make_hook(password=None, extra=pat_extra())
    requests_mock.post(
        execute_url(34),
        [{"status_code": 401}, {"status_code": 202, "headers": {"x-resource-id": "e77"}}],
    )

    assert hook.execute_job(34) == "e77"
    posts = requests_mock.request_history
    assert [r.method for r in posts] == ["POST", "POST"]
    assert bearer(posts[0]) != bearer(posts[1])


def test_authenticator_for_token_mode_is_not_renewable(hook):
    auth = Authenticator(hook.config)
    assert auth.renewable is False
    assert auth.headers().reveal() == {"Authorization": f"Bearer {TOKEN}"}
    auth.invalidate()
    assert auth.headers().reveal() == {"Authorization": f"Bearer {TOKEN}"}


# ------------------------------------------------------------------------------------------------
# Masking: every secret is registered with Airflow's secrets masker, and never logged


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def test_token_and_header_values_are_registered_with_the_masker(make_hook, requests_mock):
    token, header_value = _unique("tok"), _unique("hdr")
    assert redact(f"x {token} y") == f"x {token} y"  # not known before the hook sees it
    hook = make_hook(password=token, extra={"headers": {"x-gateway-key": header_value}})
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    assert token not in redact(f"x {token} y")
    assert header_value not in redact(f"value={header_value}")
    assert "***" in redact(f"x {token} y")


def test_pat_private_key_and_every_minted_jwt_are_registered_with_the_masker(
    make_hook, requests_mock, clocked
):
    pem, _ = new_rsa_key_pair()
    pat = _unique("pat")
    assert redact(pem) == pem
    clocked.step = 1.0
    hook = make_hook(password=None, extra=pat_extra(pem, pat=pat, token_lifetime=60))
    requests_mock.get(JOBS_URL, [{"status_code": 401}, {"json": []}, {"json": []}])

    hook.list_jobs()
    hook.list_jobs()

    jwts = {bearer(r) for r in requests_mock.request_history}
    assert len(jwts) == 3  # 60 s lifetime: every request minted a new one
    for secret in [pat, pem, *jwts]:
        assert secret not in redact(f"before {secret} after"), secret[:20]
    # One line of the PEM body alone is not the registered secret, but the whole key is.
    assert "BEGIN PRIVATE KEY" not in redact(f"key: {pem}")


def test_hook_logs_never_contain_the_token_or_jwt(make_hook, requests_mock, clocked, caplog):
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("airflow_provider_baas.hooks.baas")
    token = _unique("tok")
    # Sanity: caplog sees raw values (nothing masks them on the way), so the checks below can fail.
    logger.debug("control %s", token)
    assert token in caplog.text
    caplog.clear()

    # Token mode: retries, an error body echoing the token, an execute whose answer is lost.
    hook = make_hook(password=token)
    requests_mock.get(
        JOBS_URL,
        [
            {"status_code": 503, "json": {"message": f"overloaded, your token {token}"}},
            {"exc": requests.exceptions.ConnectionError(f"reset while sending Bearer {token}")},
            {"json": []},
        ],
    )
    requests_mock.post(execute_url(34), status_code=502, text=f"bad gateway for Bearer {token}")
    requests_mock.get(job_executions_url(34), json=[execution_payload("e1", start_time=None)])
    hook.list_jobs()
    assert hook.execute_job(34, known_before=[]) == "e1"

    # PAT mode: a 401 re-mint.
    clocked.step = 1.0
    pat_hook = make_hook("baas_pat", password=None, extra=pat_extra())
    requests_mock.get(EXECUTIONS_URL, [{"status_code": 401, "text": "nope"}, {"json": []}])
    pat_hook.list_executions()
    jwts = [bearer(r) for r in requests_mock.request_history if r.url.startswith(EXECUTIONS_URL)]

    assert len(caplog.records) >= 4  # retries, recovery and re-mint were all logged
    for record in caplog.records:
        text = record.getMessage()
        for secret in [token, *jwts]:
            assert secret not in text, record.name
