"""At-most-once execute: a POST that may have reached the server is never re-sent. Instead the hook
looks for the execution it may have started; a POST that certainly did not arrive (connection
refused) or that the server explicitly refused (429) is re-sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from airflow_provider_baas.errors import (
    BaasApiError,
    BaasConflictError,
    BaasExecuteOutcomeUnknown,
    BaasRateLimitedError,
    BaasValidationError,
)
from airflow_provider_baas.hooks import baas as baas_module

from ._support import SITE, TOKEN, execute_url, execution_payload, job_executions_url, paged, path

EXECUTE = execute_url(34)
EXECUTIONS = job_executions_url(34)
API = "/data-protection/v2"


def refused() -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, EXECUTE, reason=reason))


def now() -> datetime:
    return datetime.now(UTC)


def old_and_new(new_id: str = "e-new") -> list[dict]:
    """The job's executions after our POST: two old ones and the one our POST started."""
    return [
        execution_payload("e-2022", start_time="2022-12-07T11:31:00.000000Z"),
        execution_payload("e-10min", start_time=now() - timedelta(minutes=10)),
        execution_payload(new_id, start_time=now() + timedelta(seconds=1), status="RUNNING"),
    ]


def methods(requests_mock) -> list[str]:
    return [r.method for r in requests_mock.request_history]


def posts(requests_mock) -> int:
    return sum(1 for r in requests_mock.request_history if r.method == "POST")


@pytest.fixture
def hook(make_hook):
    """One page holds every listing here (paging is covered in test_hook_endpoints)."""
    return make_hook(extra={"page_size": 50})


LOST_ANSWERS = {
    "read-timeout": {"exc": requests.exceptions.ReadTimeout("read timed out")},
    "connection-reset": {
        "exc": requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")
    },
    "chunked": {"exc": requests.exceptions.ChunkedEncodingError("incomplete read")},
    "http-500": {"status_code": 500, "json": {"message": "internal error"}},
    "http-502": {"status_code": 502, "text": "<html>bad gateway</html>"},
    "http-503": {"status_code": 503, "json": {"message": "unavailable"}},
    "http-504": {"status_code": 504, "text": "gateway timeout"},
    "202-without-x-resource-id": {"status_code": 202},
    "202-with-blank-x-resource-id": {"status_code": 202, "headers": {"x-resource-id": "  "}},
}


# ------------------------------------------------------------------------------------------------
# The answer was lost: exactly one POST, then a lookup


def test_read_timeout_sends_one_post_and_recovers_the_new_execution(make_hook, requests_mock, waits):
    hook = make_hook(extra={"page_size": 2})
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, json=paged([old_and_new()[:2], old_and_new()[2:]]))

    assert hook.execute_job(34) == "e-new"

    assert posts(requests_mock) == 1
    # Two pages of the job's executions, twice: a candidate counts once a second look shows it
    # alone again (a lagging listing may show another caller's run before ours).
    assert methods(requests_mock) == ["POST", "GET", "GET", "GET", "GET"]
    assert path(requests_mock.request_history[1]) == f"{API}/sites/{SITE}/jobs/34/executions"
    assert waits == [baas_module.EXECUTE_LOOKUP_INTERVAL]


@pytest.mark.parametrize("answer", sorted(LOST_ANSWERS))
def test_every_lost_answer_leads_to_a_lookup_never_to_a_second_post(hook, requests_mock, waits, answer):
    requests_mock.post(
        EXECUTE, [LOST_ANSWERS[answer], {"status_code": 202, "headers": {"x-resource-id": "2nd"}}]
    )
    requests_mock.get(EXECUTIONS, json=old_and_new())

    assert hook.execute_job(34) == "e-new"

    assert posts(requests_mock) == 1
    assert methods(requests_mock)[0] == "POST"
    assert set(methods(requests_mock)[1:]) == {"GET"}
    # No retry wait before the lookup (a 5xx on execute is not retried), one before its confirming look.
    assert waits == [baas_module.EXECUTE_LOOKUP_INTERVAL]


def test_no_new_execution_raises_outcome_unknown_naming_the_job(hook, requests_mock, waits):
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, json=old_and_new()[:2])

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        hook.execute_job(34)

    error = info.value
    assert (error.job_id, error.site_id) == ("34", SITE)
    assert "job 34" in str(error)
    assert f"site {SITE}" in str(error)
    assert "NOT re-sent" in str(error)
    assert "ReadTimeout" in error.reason or "read timed out" in error.reason
    assert posts(requests_mock) == 1
    attempts = baas_module.EXECUTE_LOOKUP_ATTEMPTS
    assert attempts > 1
    assert methods(requests_mock) == ["POST"] + ["GET"] * attempts
    assert waits == [baas_module.EXECUTE_LOOKUP_INTERVAL] * (attempts - 1)


def test_execution_appearing_on_a_later_lookup_is_recovered(hook, requests_mock, waits):
    requests_mock.post(EXECUTE, status_code=503)
    requests_mock.get(EXECUTIONS, [{"json": old_and_new()[:2]}, {"json": old_and_new("late")}])

    assert hook.execute_job(34) == "late"

    assert posts(requests_mock) == 1
    assert methods(requests_mock) == ["POST", "GET", "GET", "GET"]  # nothing, "late", "late" again
    assert waits == [baas_module.EXECUTE_LOOKUP_INTERVAL] * 2


def test_two_candidates_raise_outcome_unknown_naming_both(hook, requests_mock):
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    candidates = [
        execution_payload("cand-1", start_time=now()),
        execution_payload("cand-2", start_time=now() + timedelta(seconds=2)),
    ]
    requests_mock.get(EXECUTIONS, json=candidates)

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        hook.execute_job(34)

    assert "cand-1" in str(info.value)
    assert "cand-2" in str(info.value)
    assert posts(requests_mock) == 1


def test_another_callers_run_seen_before_ours_by_a_lagging_listing_is_not_adopted(hook, requests_mock, waits):
    """Created just before our POST, missing from the listing taken before it, started since: only
    the second look, which shows our own execution too, tells the two apart."""
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    theirs = execution_payload("theirs", start_time=now() + timedelta(seconds=1), status="RUNNING")
    ours = execution_payload("ours", start_time=now() + timedelta(seconds=2), status="QUEUED")
    requests_mock.get(
        EXECUTIONS, [{"json": [*old_and_new()[:2], theirs]}, {"json": [*old_and_new()[:2], theirs, ours]}]
    )

    with pytest.raises(BaasExecuteOutcomeUnknown, match="theirs, ours"):
        hook.execute_job(34, known_before=["e-2022", "e-10min"])
    assert posts(requests_mock) == 1


def test_a_queued_execution_without_start_time_counts_as_the_new_one(hook, requests_mock):
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, json=[*old_and_new()[:2], execution_payload("queued", start_time="")])

    assert hook.execute_job(34, known_before=["e-2022", "e-10min"]) == "queued"
    assert posts(requests_mock) == 1


def test_a_queued_execution_listed_before_the_post_is_not_ours(hook, requests_mock, waits):
    """Another caller's older QUEUED execution has no start time either: it must not be adopted."""
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    theirs = execution_payload("theirs", start_time=None, status="QUEUED")
    requests_mock.get(EXECUTIONS, json=[*old_and_new()[:2], theirs])

    with pytest.raises(BaasExecuteOutcomeUnknown, match="NOT re-sent"):
        hook.execute_job(34, known_before=["e-2022", "e-10min", "theirs"])
    assert posts(requests_mock) == 1


def test_a_queued_execution_of_unknown_age_is_not_adopted(hook, requests_mock, waits):
    """Without the list of what existed before the POST, a queued execution may be anybody's."""
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, json=[*old_and_new()[:2], execution_payload("queued", start_time=None)])

    with pytest.raises(BaasExecuteOutcomeUnknown):
        hook.execute_job(34)
    assert posts(requests_mock) == 1


def test_another_callers_run_of_another_type_is_not_ours(hook, requests_mock, waits):
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    delta = execution_payload("delta", start_time=now() + timedelta(seconds=1), run_type="DELTA")
    requests_mock.get(EXECUTIONS, json=[*old_and_new()[:2], delta])

    with pytest.raises(BaasExecuteOutcomeUnknown):
        hook.execute_job(34, "FULL")
    assert posts(requests_mock) == 1


def test_an_execution_listed_before_the_post_is_not_ours_even_if_it_started_since(hook, requests_mock, waits):
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, json=old_and_new())

    with pytest.raises(BaasExecuteOutcomeUnknown):
        hook.execute_job(34, known_before=["e-2022", "e-10min", "e-new"])
    assert posts(requests_mock) == 1


def test_5xx_reason_is_kept_in_outcome_unknown(hook, requests_mock):
    requests_mock.post(EXECUTE, status_code=502, json={"message": "upstream reset"})
    requests_mock.get(EXECUTIONS, json=[])

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        hook.execute_job(34)

    assert "502" in str(info.value)
    assert "upstream reset" in str(info.value)
    assert posts(requests_mock) == 1


def test_lost_answer_is_logged_as_a_warning(hook, requests_mock, caplog):
    caplog.set_level(logging.INFO, logger="airflow_provider_baas")
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, json=old_and_new())

    hook.execute_job(34)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("instead of re-sending" in m for m in warnings)
    assert any("Recovered execution e-new" in m for m in warnings)


def test_lookup_with_an_unusable_listing_raises_outcome_unknown(hook, requests_mock):
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, text="<html>maintenance</html>")

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        hook.execute_job(34)

    assert "listing executions failed" in str(info.value)
    assert posts(requests_mock) == 1


@pytest.mark.parametrize(
    "listing",
    [
        {"status_code": 503, "json": {"message": "down"}},
        {"status_code": 404, "json": {"message": "no such job"}},
        {"exc": requests.exceptions.ConnectionError("Connection reset by peer")},
    ],
    ids=["503", "404", "connection-error"],
)
def test_lookup_failing_over_http_raises_outcome_unknown(make_hook, requests_mock, listing):
    hook = make_hook(extra={"max_attempts": 2})
    requests_mock.post(EXECUTE, exc=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.get(EXECUTIONS, **listing)

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        hook.execute_job(34)

    assert "listing executions failed" in str(info.value)
    assert info.value.job_id == "34"
    assert posts(requests_mock) == 1


# ------------------------------------------------------------------------------------------------
# The request certainly did not start anything: re-sent


@pytest.mark.parametrize(
    "not_sent",
    [refused(), requests.exceptions.ConnectTimeout("connect timed out")],
    ids=["connection-refused", "connect-timeout"],
)
def test_post_that_never_left_is_retried(hook, requests_mock, waits, not_sent):
    requests_mock.post(EXECUTE, [{"exc": not_sent}, {"status_code": 202, "headers": {"x-resource-id": "e5"}}])

    assert hook.execute_job(34) == "e5"

    assert methods(requests_mock) == ["POST", "POST"]
    assert [r.json() for r in requests_mock.request_history] == [{"run_type": "FULL"}] * 2
    assert len(waits) == 1


def test_post_refused_on_every_attempt_raises_transport_error(make_hook, requests_mock, waits):
    from airflow_provider_baas.errors import BaasTransportError

    hook = make_hook(extra={"max_attempts": 3})
    requests_mock.post(EXECUTE, exc=refused())

    with pytest.raises(BaasTransportError):
        hook.execute_job(34)

    assert methods(requests_mock) == ["POST"] * 3


def test_429_on_execute_is_retried(hook, requests_mock, waits):
    requests_mock.post(
        EXECUTE,
        [
            {"status_code": 429, "headers": {"Retry-After": "1"}},
            {"status_code": 202, "headers": {"x-resource-id": "e6"}},
        ],
    )

    assert hook.execute_job(34, run_type="delta") == "e6"

    assert methods(requests_mock) == ["POST", "POST"]
    assert [r.json() for r in requests_mock.request_history] == [{"run_type": "DELTA"}] * 2
    assert waits == [1.0]


def test_429_exhausted_on_execute_raises_rate_limited(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_attempts": 2})
    requests_mock.post(EXECUTE, status_code=429, headers={"Retry-After": "1"}, json={"message": "busy"})

    with pytest.raises(BaasRateLimitedError) as info:
        hook.execute_job(34)

    assert info.value.message == "busy"
    assert methods(requests_mock) == ["POST", "POST"]


def test_409_raises_conflict_without_retry_or_lookup(hook, requests_mock, waits):
    requests_mock.post(EXECUTE, status_code=409, json={"message": "job 34 is already running"})

    with pytest.raises(BaasConflictError) as info:
        hook.execute_job(34)

    assert info.value.status == 409
    assert info.value.method == "POST"
    assert info.value.path == f"/sites/{SITE}/jobs/34/execute"
    assert info.value.message == "job 34 is already running"
    assert methods(requests_mock) == ["POST"]
    assert waits == []


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_on_execute_raise_without_retry_or_lookup(hook, requests_mock, status):
    requests_mock.post(EXECUTE, status_code=status, json={"message": f"refused {status}"})

    with pytest.raises(BaasApiError) as info:
        hook.execute_job(34)

    assert info.value.status == status
    assert methods(requests_mock) == ["POST"]


def test_execute_validation_happens_before_the_post(hook, requests_mock):
    with pytest.raises(BaasValidationError):
        hook.execute_job(34, run_type="weekly")
    assert requests_mock.request_history == []


def test_outcome_unknown_never_contains_the_token(hook, requests_mock):
    requests_mock.post(EXECUTE, status_code=503, text=f"upstream saw Authorization: Bearer {TOKEN}")
    requests_mock.get(EXECUTIONS, json=[])

    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        hook.execute_job(34)

    assert TOKEN not in str(info.value)
    assert "***" in str(info.value)
