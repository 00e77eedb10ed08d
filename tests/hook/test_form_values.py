"""What Airflow's connection form really stores, parsed by the hook.

Found in a real browser (tests/ui): a PEM pasted into the masked one-line field loses its line breaks
(Chromium turns them into spaces), the form stores every field (nulls and defaults included), and the
PAT is stored under the form's name ``personal_access_token``.
"""

from __future__ import annotations

import pytest

from airflow_provider_baas.connection import normalise_pem
from airflow_provider_baas.connection_form import conn_fields

from ._support import JOBS_URL, TOKEN, bearer, decode_jwt, rsa_key_pair


def _one_line(pem: str, sep: str) -> str:
    return sep.join(pem.strip().splitlines())


@pytest.mark.parametrize("sep", [" ", "", "  "], ids=["spaces", "dropped", "double-spaces"])
def test_pem_pasted_into_a_one_line_field_is_restored(sep):
    pem = rsa_key_pair()[0]

    assert normalise_pem(_one_line(pem, sep)) == pem


@pytest.mark.parametrize(
    "text",
    [
        rsa_key_pair()[0],  # already multi-line
        "not a key",
        "-----BEGIN PRIVATE KEY----- abc -----END RSA PRIVATE KEY-----",  # mismatched labels
    ],
)
def test_pem_normalisation_leaves_other_text_alone(text):
    assert normalise_pem(text) == text


def _form_extra(**entered):
    """The extra Airflow 3.3's form saves: every field, untouched ones null or at their default."""
    extra = {name: spec["schema"].get("default") for name, spec in conn_fields().items()}
    extra.update(entered)
    return extra


def test_pat_mode_from_the_form_signs_with_a_pasted_one_line_key(make_hook, requests_mock):
    pem, public_key = rsa_key_pair()
    extra = _form_extra(
        site_id="s1",
        auth_mode="pat",
        personal_access_token="pat-from-the-form-123",
        private_key=_one_line(pem, " "),
        key_id="airflow-key",
        subject="dbc_user",
        org_claim_value="org-42",
    )
    hook = make_hook(password=None, extra=extra, base_extra=False)
    requests_mock.get(JOBS_URL, json=[])

    assert hook.list_jobs() == []

    claims = decode_jwt(bearer(requests_mock.request_history[0]), public_key)
    assert claims["pat"] == "pat-from-the-form-123"
    assert claims["org_key"] == "org-42"
    assert claims["exp"] - claims["iat"] == 3600  # empty lifetime: the default


def test_token_mode_from_the_form_ignores_the_null_pat_fields(make_hook, requests_mock):
    hook = make_hook(extra=_form_extra(site_id="s1"), base_extra=False)
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    assert bearer(requests_mock.request_history[0]) == TOKEN


def test_the_older_pat_key_still_works(make_hook, requests_mock):
    pem, public_key = rsa_key_pair()
    extra = _form_extra(
        site_id="s1",
        auth_mode="pat",
        pat="pat-older-key-456",
        private_key=pem,
        key_id="k",
        subject="u",
        org_claim_value="o",
    )
    del extra["personal_access_token"]
    hook = make_hook(password=None, extra=extra, base_extra=False)
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    assert decode_jwt(bearer(requests_mock.request_history[0]), public_key)["pat"] == "pat-older-key-456"


def test_missing_pat_names_the_form_field(make_hook):
    extra = _form_extra(site_id="s1", auth_mode="pat", private_key=rsa_key_pair()[0], key_id="k", subject="u")
    hook = make_hook(password=None, extra=extra, base_extra=False)

    ok, message = hook.test_connection()

    assert not ok
    assert "personal_access_token" in message and "org_claim_value" in message


@pytest.mark.parametrize("prefix", ["", "extra__baas__"], ids=["airflow-3-form", "airflow-2-form"])
def test_secret_headers_typed_into_the_form_as_json_text_are_sent(make_hook, requests_mock, prefix):
    """The form's masked one-line field stores the JSON object as text (Airflow 2.11 with a prefix)."""
    entered = {f"{prefix}secret_headers": '{"Ocp-Apim-Subscription-Key": "sub-key-from-the-form"}\n'}
    hook = make_hook(extra=_form_extra(site_id="s1", **entered), base_extra=False)
    requests_mock.get(JOBS_URL, json=[])

    hook.list_jobs()

    sent = requests_mock.request_history[0].headers
    assert sent["Ocp-Apim-Subscription-Key"] == "sub-key-from-the-form"
    assert bearer(requests_mock.request_history[0]) == TOKEN
    assert hook.config.secrets.redact("sub-key-from-the-form") == "***"
