"""Retries of idempotent calls: 429 (Retry-After seconds / HTTP date / none), 5xx, connection errors,
exhausted attempts, the total-wait budget, and statuses that are never retried. Plus unit tests of
RetryPolicy and parse_retry_after."""

from __future__ import annotations

import email.utils
import random
import time

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from airflow_provider_baas.errors import (
    BaasApiError,
    BaasAuthError,
    BaasConflictError,
    BaasNotFoundError,
    BaasRateLimitedError,
    BaasServerError,
    BaasTransportError,
)
from airflow_provider_baas.hooks import transport as transport_module
from airflow_provider_baas.hooks.transport import RetryPolicy, parse_retry_after

from ._support import JOBS_URL, SITE, job_payload, job_url

OK = {"json": [job_payload(1)]}


def refused() -> requests.exceptions.ConnectionError:
    """What requests raises when the TCP connection is refused (nothing was sent)."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, JOBS_URL, reason=reason))


# ------------------------------------------------------------------------------------------------
# 429


def test_429_with_retry_after_seconds_waits_that_long(hook, requests_mock, waits):
    requests_mock.get(JOBS_URL, [{"status_code": 429, "headers": {"Retry-After": "2"}}, OK])

    assert [j.job_id for j in hook.list_jobs()] == ["1"]

    assert waits == [2.0]
    assert len(requests_mock.request_history) == 2


def test_429_with_an_http_date_retry_after(hook, requests_mock, waits, monkeypatch):
    now = 1_900_000_000.0
    monkeypatch.setattr(transport_module.time, "time", lambda: now)
    when = email.utils.formatdate(now + 30, usegmt=True)
    requests_mock.get(JOBS_URL, [{"status_code": 429, "headers": {"Retry-After": when}}, OK])

    hook.list_jobs()

    assert waits == [30.0]
    assert len(requests_mock.request_history) == 2


def test_429_without_retry_after_backs_off_with_jitter(hook, requests_mock, waits):
    requests_mock.get(JOBS_URL, [{"status_code": 429}, {"status_code": 429}, {"status_code": 429}, OK])

    hook.list_jobs()

    assert len(requests_mock.request_history) == 4
    assert len(waits) == 3
    # full jitter: attempt n waits uniform(0, base * 2 ** (n - 1))
    for n, wait in enumerate(waits, start=1):
        assert 0 <= wait <= 2 ** (n - 1)


def test_429_retry_after_beyond_the_budget_fails_at_once(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_retry_wait": 5})
    requests_mock.get(JOBS_URL, status_code=429, headers={"Retry-After": "10"}, json={"message": "slow down"})

    with pytest.raises(BaasRateLimitedError) as info:
        hook.list_jobs()

    assert info.value.retry_after == 10.0
    assert info.value.message == "slow down"
    assert waits == []
    assert len(requests_mock.request_history) == 1


def test_total_wait_budget_bounds_the_retries(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_retry_wait": 5, "max_attempts": 10})
    requests_mock.get(JOBS_URL, status_code=429, headers={"Retry-After": "3"})

    with pytest.raises(BaasRateLimitedError):
        hook.list_jobs()

    assert waits == [3.0]  # a second 3 s wait would exceed the 5 s budget
    assert len(requests_mock.request_history) == 2


# ------------------------------------------------------------------------------------------------
# 5xx and connection errors on idempotent calls


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_then_200_is_retried(hook, requests_mock, waits, status):
    requests_mock.get(JOBS_URL, [{"status_code": status}, OK])

    assert [j.job_id for j in hook.list_jobs()] == ["1"]

    assert len(requests_mock.request_history) == 2
    assert len(waits) == 1
    assert 0 <= waits[0] <= 1.0


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("Connection aborted."),
        refused(),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("truncated"),
    ],
    ids=["connection-error", "refused", "connect-timeout", "read-timeout", "chunked"],
)
def test_transport_error_then_200_is_retried_for_reads(hook, requests_mock, waits, exc):
    requests_mock.get(job_url(34), [{"exc": exc}, {"json": job_payload(34)}])

    assert hook.get_job(34).job_id == "34"

    assert len(requests_mock.request_history) == 2
    assert len(waits) == 1


def test_exhausted_429_raises_rate_limited_with_status_and_message(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_attempts": 3})
    requests_mock.get(
        JOBS_URL, status_code=429, headers={"Retry-After": "1"}, json={"message": "quota exceeded"}
    )

    with pytest.raises(BaasRateLimitedError) as info:
        hook.list_jobs()

    assert info.value.status == 429
    assert info.value.message == "quota exceeded"
    assert info.value.retry_after == 1.0
    assert "quota exceeded" in str(info.value)
    assert len(requests_mock.request_history) == 3
    assert waits == [1.0, 1.0]


def test_exhausted_5xx_raises_server_error_with_status_and_message(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_attempts": 3})
    requests_mock.get(JOBS_URL, status_code=503, json={"message": "maintenance window"})

    with pytest.raises(BaasServerError) as info:
        hook.list_jobs()

    assert info.value.status == 503
    assert info.value.method == "GET"
    assert info.value.path == f"/sites/{SITE}/jobs"
    assert info.value.message == "maintenance window"
    assert "HTTP 503" in str(info.value)
    assert len(requests_mock.request_history) == 3
    assert len(waits) == 2


def test_exhausted_connection_errors_raise_transport_error(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_attempts": 4})
    requests_mock.get(JOBS_URL, exc=requests.exceptions.ConnectionError("Connection reset by peer"))

    with pytest.raises(BaasTransportError) as info:
        hook.list_jobs()

    assert info.value.method == "GET"
    assert info.value.path == f"/sites/{SITE}/jobs"
    assert "ConnectionError" in info.value.reason
    assert "Connection reset by peer" in str(info.value)
    assert len(requests_mock.request_history) == 4
    assert len(waits) == 3


@pytest.mark.parametrize(
    ("response", "error"),
    [
        ({"status_code": 503}, BaasServerError),
        ({"status_code": 429, "headers": {"Retry-After": "1"}}, BaasRateLimitedError),
        ({"exc": requests.exceptions.ReadTimeout("slow")}, BaasTransportError),
    ],
)
def test_max_attempts_1_never_retries(make_hook, requests_mock, waits, response, error):
    hook = make_hook(extra={"max_attempts": 1})
    requests_mock.get(JOBS_URL, [response, OK])

    with pytest.raises(error):
        hook.list_jobs()

    assert len(requests_mock.request_history) == 1
    assert waits == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BaasApiError),
        (403, BaasAuthError),
        (404, BaasNotFoundError),
        (409, BaasConflictError),
        (422, BaasApiError),
        (501, BaasServerError),
    ],
)
def test_client_errors_are_never_retried(hook, requests_mock, waits, status, error):
    requests_mock.get(
        job_url(34), [{"status_code": status, "json": {"message": "no"}}, {"json": job_payload()}]
    )

    with pytest.raises(error) as info:
        hook.get_job(34)

    assert type(info.value) is error
    assert info.value.status == status
    assert len(requests_mock.request_history) == 1
    assert waits == []


def test_a_new_call_gets_a_fresh_attempt_budget(make_hook, requests_mock, waits):
    hook = make_hook(extra={"max_attempts": 2})
    requests_mock.get(JOBS_URL, [{"status_code": 503}, OK, {"status_code": 503}, OK])

    hook.list_jobs()
    hook.list_jobs()

    assert len(requests_mock.request_history) == 4


def test_each_page_of_a_listing_is_retried_on_its_own(hook, requests_mock, waits):
    pages = {
        "1": [{"status_code": 503}, {"json": [job_payload(1), job_payload(2)]}],
        "2": [{"status_code": 429, "headers": {"Retry-After": "1"}}, {"json": [job_payload(3)]}],
    }
    requests_mock.get(JOBS_URL + "?page=1", pages["1"])
    requests_mock.get(JOBS_URL + "?page=2", pages["2"])

    assert [j.job_id for j in hook.list_jobs()] == ["1", "2", "3"]
    assert len(requests_mock.request_history) == 4
    assert waits[1] == 1.0


# ------------------------------------------------------------------------------------------------
# RetryPolicy and parse_retry_after


class UpperBound(random.Random):
    """An rng whose uniform(a, b) is always b: makes the backoff deterministic."""

    def uniform(self, a, b):
        return b


def test_retry_policy_exponential_backoff_is_capped():
    policy = RetryPolicy(max_attempts=10, max_total_wait=10_000, rng=UpperBound())

    assert [policy.wait_before_retry(n, 0.0) for n in range(1, 10)] == [1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_retry_policy_full_jitter_stays_in_bounds():
    policy = RetryPolicy(max_attempts=50, max_total_wait=10_000, rng=random.Random(7))

    for attempt in range(1, 12):
        wait = policy.wait_before_retry(attempt, 0.0)
        assert wait is not None
        assert 0 <= wait <= min(30, 2 ** (attempt - 1))


def test_retry_policy_stops_at_max_attempts():
    policy = RetryPolicy(max_attempts=3, max_total_wait=100, rng=UpperBound())

    assert policy.wait_before_retry(2, 0.0) == 2
    assert policy.wait_before_retry(3, 0.0) is None
    assert policy.wait_before_retry(3, 0.0, retry_after=1) is None
    assert RetryPolicy(max_attempts=1, max_total_wait=100).wait_before_retry(1, 0.0, 0.5) is None


def test_retry_policy_prefers_retry_after_over_backoff():
    policy = RetryPolicy(max_attempts=5, max_total_wait=100, rng=UpperBound())

    assert policy.wait_before_retry(1, 0.0, retry_after=7.5) == 7.5
    assert policy.wait_before_retry(4, 0.0, retry_after=0.0) == 0.0


def test_retry_policy_respects_the_total_wait_budget():
    policy = RetryPolicy(max_attempts=10, max_total_wait=5, rng=UpperBound())

    assert policy.wait_before_retry(1, 3.0, retry_after=2.0) == 2.0  # exactly the budget is fine
    assert policy.wait_before_retry(1, 3.0, retry_after=2.5) is None
    assert policy.wait_before_retry(3, 1.5, None) is None  # 1.5 + 4 > 5
    assert policy.wait_before_retry(3, 1.0, None) == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("soon", None),
        ("Thu, 32 Foo 2024 99:00:00 GMT", None),
    ],
)
def test_parse_retry_after_values(value, expected):
    assert parse_retry_after(value, now=0.0) == expected


def test_parse_retry_after_http_date():
    when = "Wed, 21 Oct 2015 07:28:00 GMT"
    epoch = email.utils.parsedate_to_datetime(when).timestamp()

    assert parse_retry_after(when, now=epoch - 10) == 10.0
    assert parse_retry_after(when, now=epoch + 10) == 0.0  # a date in the past: retry now


def test_parse_retry_after_http_date_uses_the_clock_by_default():
    when = email.utils.formatdate(time.time() + 120, usegmt=True)

    wait = parse_retry_after(when)

    assert wait is not None
    assert 115 <= wait <= 120
