"""Bad input and bad connections fail before any HTTP request, with messages that say what to fix;
error bodies are reported verbatim (truncated, secrets redacted); unusable bodies are BaasResponseError."""

from __future__ import annotations

import pytest

from airflow_provider_baas._compat import AirflowNotFoundException
from airflow_provider_baas.errors import (
    BaasApiError,
    BaasConfigurationError,
    BaasError,
    BaasNotFoundError,
    BaasResponseError,
    BaasValidationError,
)
from airflow_provider_baas.hooks.baas import BaasHook

from ._support import (
    EXECUTIONS_URL,
    JOBS_URL,
    SITE,
    TOKEN,
    execute_url,
    job_executions_url,
    job_payload,
    job_url,
)

BAD_JOB_IDS = [
    None,
    "",
    " ",
    -1,
    0,
    "0",
    "-3",
    "abc",
    "../x",
    "a/b",
    "%2F",
    "1 2",
    "1\n",
    " 1",
    True,
    False,
    1.5,
]

JOB_CALLS = {
    "get_job": lambda h, job_id: h.get_job(job_id),
    "execute_job": lambda h, job_id: h.execute_job(job_id),
    "list_job_executions": lambda h, job_id: h.list_job_executions(job_id),
    "get_execution": lambda h, job_id: h.get_execution(job_id, "e1"),
}


@pytest.mark.parametrize("call", sorted(JOB_CALLS))
@pytest.mark.parametrize("job_id", BAD_JOB_IDS, ids=repr)
def test_bad_job_ids_fail_before_any_request(hook, requests_mock, call, job_id):
    with pytest.raises(BaasValidationError) as info:
        JOB_CALLS[call](hook, job_id)

    assert "job_id" in str(info.value)
    assert requests_mock.request_history == []


@pytest.mark.parametrize("job_id", ["²", "3²"])
def test_unicode_digit_job_ids_are_validation_errors(hook, requests_mock, job_id):
    with pytest.raises(BaasValidationError):
        hook.get_job(job_id)
    assert requests_mock.request_history == []


@pytest.mark.parametrize(
    "execution_id", [None, "", "  ", "a/b", "/", "..", "..%2F", "a\\b", "e 1", "e1\t", True], ids=repr
)
def test_bad_execution_ids_fail_before_any_request(hook, requests_mock, execution_id):
    with pytest.raises(BaasValidationError) as info:
        hook.get_execution(34, execution_id)

    assert "execution_id" in str(info.value)
    assert requests_mock.request_history == []


@pytest.mark.parametrize("run_type", ["weekly", "", None, "FULLL", "incremental"])
def test_bad_run_type_fails_before_any_request(hook, requests_mock, run_type):
    with pytest.raises(BaasValidationError) as info:
        hook.execute_job(34, run_type=run_type)

    assert "run_type" in str(info.value)
    assert "FULL" in str(info.value)
    assert "DELTA" in str(info.value)
    assert requests_mock.request_history == []


@pytest.mark.parametrize("site_id", ["a/b", "..", "s 1", "%2F"])
def test_bad_site_ids_fail_before_any_request(hook, requests_mock, site_id):
    with pytest.raises(BaasValidationError, match="site_id"):
        hook.list_jobs(site_id=site_id)
    assert requests_mock.request_history == []


ALL_CALLS = {
    "list_jobs": lambda h: h.list_jobs(),
    "get_job": lambda h: h.get_job(34),
    "execute_job": lambda h: h.execute_job(34),
    "list_executions": lambda h: h.list_executions(),
    "list_job_executions": lambda h: h.list_job_executions(34),
    "get_execution": lambda h: h.get_execution(34, "e1"),
    "find_job_by_name": lambda h: h.find_job_by_name("nightly"),
}


@pytest.mark.parametrize("call", sorted(ALL_CALLS))
def test_missing_site_id_everywhere_says_to_set_it_in_the_extra(make_hook, requests_mock, call):
    hook = make_hook("baas_nosite", drop=["site_id"])

    with pytest.raises(BaasConfigurationError) as info:
        ALL_CALLS[call](hook)

    message = str(info.value)
    assert "'site_id'" in message
    assert "extra" in message
    assert "'baas_nosite'" in message
    assert requests_mock.request_history == []


def test_missing_site_id_in_test_connection(make_hook, requests_mock):
    hook = make_hook(drop=["site_id"])

    ok, message = hook.test_connection()

    assert ok is False
    assert "'site_id'" in message
    assert requests_mock.request_history == []


def test_execution_url_resolves_the_connection_site_on_a_fresh_hook(hook):
    url = hook.execution_url("34", "e1")

    assert url == f"{job_executions_url(34)}#e1"


def test_blank_site_id_in_the_extra_counts_as_missing(make_hook, requests_mock):
    hook = make_hook(extra={"site_id": "   "})

    with pytest.raises(BaasConfigurationError, match="'site_id'"):
        hook.list_jobs()
    assert requests_mock.request_history == []


# ------------------------------------------------------------------------------------------------
# Connection problems


@pytest.mark.parametrize("host", [None, "", "   "])
def test_missing_host(make_hook, requests_mock, host):
    hook = make_hook(host=host)

    with pytest.raises(BaasConfigurationError, match="no host"):
        hook.list_jobs()
    assert requests_mock.request_history == []


@pytest.mark.parametrize("host", ["ftp://api.example.com", "https://", "https://bad host"])
def test_invalid_host(make_hook, requests_mock, host):
    hook = make_hook(host=host)

    with pytest.raises(BaasConfigurationError):
        hook.list_jobs()
    assert requests_mock.request_history == []


def test_bad_auth_mode(make_hook, requests_mock):
    hook = make_hook(extra={"auth_mode": "oauth"})

    with pytest.raises(BaasConfigurationError) as info:
        hook.list_jobs()

    assert "auth_mode" in str(info.value)
    assert "'oauth'" in str(info.value)
    assert requests_mock.request_history == []


def test_token_mode_without_any_credential(make_hook, requests_mock):
    hook = make_hook(password=None)

    with pytest.raises(BaasConfigurationError, match="Password"):
        hook.list_jobs()
    assert requests_mock.request_history == []


@pytest.mark.parametrize(
    "extra",
    [
        {"page_size": 0},
        {"page_size": "ten"},
        {"max_attempts": 0},
        {"max_retry_wait": -1},
        {"token_lifetime": 10, "auth_mode": "token"},
        {"timeout": [0, 5]},
        {"timeout": "soon"},
        {"headers": ["x"]},
        {"headers": "{not json"},
    ],
    ids=repr,
)
def test_bad_numbers_and_mappings_in_the_extra(make_hook, requests_mock, extra):
    hook = make_hook(extra=extra)

    with pytest.raises(BaasConfigurationError):
        hook.list_jobs()
    assert requests_mock.request_history == []


def test_missing_connection_raises_airflows_not_found(requests_mock):
    hook = BaasHook("baas_does_not_exist")

    with pytest.raises(AirflowNotFoundException, match="baas_does_not_exist"):
        hook.list_jobs()
    assert requests_mock.request_history == []


@pytest.mark.parametrize("conn_id", ["", "   ", None])
def test_blank_connection_id(conn_id):
    with pytest.raises(BaasValidationError):
        BaasHook(conn_id)


def test_airflow2_prefixed_extra_keys_are_accepted(make_hook, requests_mock):
    hook = make_hook(base_extra=False, extra={"extra__baas__site_id": "s9", "extra__baas__page_size": "5"})
    requests_mock.get(job_url(34, site="s9").rsplit("/", 1)[0], json=[])

    hook.list_jobs()

    assert requests_mock.request_history[0].qs["page-size"] == ["5"]


def test_every_error_is_a_baas_error():
    for cls in (BaasValidationError, BaasConfigurationError, BaasApiError, BaasResponseError):
        assert issubclass(cls, BaasError)
    assert issubclass(BaasValidationError, ValueError)


# ------------------------------------------------------------------------------------------------
# Error messages


def test_api_error_carries_status_method_path_and_server_message(hook, requests_mock):
    requests_mock.get(job_url(34), status_code=400, json={"message": "job 34 belongs to another site"})

    with pytest.raises(BaasApiError) as info:
        hook.get_job(34)

    error = info.value
    assert (error.status, error.method, error.path) == (400, "GET", f"/sites/{SITE}/jobs/34")
    assert error.message == "job 34 belongs to another site"
    assert (
        str(error) == f"BaaS API GET /sites/{SITE}/jobs/34 returned HTTP 400: job 34 belongs to another site"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"detail": "detail text"}, "detail text"),
        ({"error": "error text"}, "error text"),
        ({"message": "", "error": "fallback"}, "fallback"),
    ],
)
def test_api_error_uses_other_message_keys(hook, requests_mock, body, expected):
    requests_mock.get(job_url(34), status_code=400, json=body)

    with pytest.raises(BaasApiError) as info:
        hook.get_job(34)

    assert info.value.message == expected


def test_api_error_with_a_raw_text_body_is_truncated_to_500_chars(hook, requests_mock):
    body = "<html>" + "x" * 2000 + "</html>"
    requests_mock.get(job_url(34), status_code=404, text=body)

    with pytest.raises(BaasNotFoundError) as info:
        hook.get_job(34)

    assert len(info.value.message) == 500
    assert info.value.message.startswith("<html>xxx")
    assert info.value.message.endswith("…")
    assert len(str(info.value)) < 600


def test_api_error_with_an_empty_body(hook, requests_mock):
    requests_mock.get(job_url(34), status_code=400, text="")

    with pytest.raises(BaasApiError) as info:
        hook.get_job(34)

    assert info.value.message == "(empty body)"


@pytest.mark.parametrize(
    "response",
    [
        {"json": {"message": f"invalid token {TOKEN}"}},
        {"text": f"<html>Authorization: Bearer {TOKEN}</html>"},
        {"json": {"message": ("padding " * 80) + TOKEN}},
    ],
    ids=["json", "text", "beyond-truncation"],
)
def test_token_never_appears_in_api_errors_even_when_echoed(hook, requests_mock, response):
    requests_mock.get(job_url(34), status_code=403, **response)

    with pytest.raises(BaasApiError) as info:
        hook.get_job(34)

    assert TOKEN not in str(info.value)
    assert TOKEN not in info.value.message
    assert TOKEN[:12] not in str(info.value)


def test_token_never_appears_in_transport_errors(make_hook, requests_mock):
    import requests

    hook = make_hook(extra={"max_attempts": 1})
    requests_mock.get(JOBS_URL, exc=requests.exceptions.ConnectionError(f"proxy said Bearer {TOKEN}"))

    with pytest.raises(BaasError) as info:
        hook.list_jobs()

    assert TOKEN not in str(info.value)


def test_token_never_appears_in_response_errors_even_when_echoed(hook, requests_mock):
    requests_mock.get(job_url(34), status_code=200, text=f"Bearer {TOKEN}")

    with pytest.raises(BaasResponseError) as info:
        hook.get_job(34)

    assert TOKEN not in str(info.value)


def test_non_json_success_body_is_a_response_error(hook, requests_mock):
    requests_mock.get(JOBS_URL, status_code=200, text="<html>login page</html>")

    with pytest.raises(BaasResponseError) as info:
        hook.list_jobs()

    assert info.value.status == 200
    assert info.value.path == f"/sites/{SITE}/jobs"
    assert "not JSON" in str(info.value)
    assert "login page" in str(info.value)


@pytest.mark.parametrize(
    ("url", "call", "body", "fragment"),
    [
        (JOBS_URL, lambda h: h.list_jobs(), {"jobs": []}, "expected a JSON array"),
        (EXECUTIONS_URL, lambda h: h.list_executions(), {"items": []}, "expected a JSON array"),
        (JOBS_URL, lambda h: h.list_jobs(), [{"name": "no id"}], "job_id"),
        (JOBS_URL, lambda h: h.list_jobs(), ["34"], "expected a JSON object"),
        (job_url(34), lambda h: h.get_job(34), [job_payload(34)], "expected a JSON object"),
        (job_url(34), lambda h: h.get_job(34), {"job_id": None}, "job_id"),
        (
            job_executions_url(34),
            lambda h: h.list_job_executions(34),
            [{"status": "RUNNING"}],
            "execution_id",
        ),
        (job_executions_url(34), lambda h: h.list_job_executions(34), "not a list", "expected a JSON array"),
    ],
    ids=[
        "jobs-object",
        "executions-object",
        "job-without-id",
        "job-not-object",
        "get-job-array",
        "get-job-null-id",
        "execution-without-id",
        "executions-string",
    ],
)
def test_json_of_the_wrong_shape_is_a_response_error(hook, requests_mock, url, call, body, fragment):
    requests_mock.get(url, json=body)

    with pytest.raises(BaasResponseError) as info:
        call(hook)

    assert info.value.status == 200
    assert fragment in str(info.value)


def test_execute_202_body_is_not_parsed_as_json(hook, requests_mock):
    requests_mock.post(execute_url(34), status_code=202, text="accepted", headers={"x-resource-id": "e1"})

    assert hook.execute_job(34) == "e1"
