"""The poll plan's two lookups against requests-mock: what each sends, and what it reports back.

``poll_execution_by`` answers from the job summary while it names the running execution (one
request); when the summary shows another execution (an API whose summary shows only finished
runs) it reads the listing too and says so, and ``lookup="listing"`` reads the listing alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_baas.errors import BaasValidationError
from airflow_provider_baas.polling import Lookup, LookupChoice

from ._support import execution_payload, job_executions_url, job_payload, job_url, paged, path


def running(status: str | None) -> bool:
    return status in ("RUNNING", "QUEUED")


def summary_of(execution_id: int, status: str) -> dict[str, Any]:
    return job_payload(
        last_execution_details={
            "end_time": None,
            "start_time": "2022-12-07T11:31:00.000000Z",
            "status": status,
            "backup_set_size": 10,
            "backup_job_id": 34,
            "backup_job_execution_id": execution_id,
            "restore_execution_id": execution_id,
        }
    )


LISTING_PAGE = [
    execution_payload(200, status="RUNNING", end_time=None, status_detail=None),
    execution_payload(199, end_time="2022-12-07T12:31:00.000000Z"),
]


def test_summary_naming_the_running_execution_is_one_request(requests_mock: Any, hook: Any) -> None:
    requests_mock.get(job_url(), json=summary_of(200, "RUNNING"))
    polled = hook.poll_execution_by(34, "200", is_running=running)
    assert (polled.execution.execution_id, polled.execution.status) == ("200", "RUNNING")
    assert polled.summary_answered is True and polled.rows == ()
    assert [path(r) for r in requests_mock.request_history] == ["/data-protection/v2/sites/s1/jobs/34"]


def test_summary_showing_a_finished_run_reads_the_listing_and_says_so(requests_mock: Any, hook: Any) -> None:
    # The summary of an API that shows only finished executions: the previous run, not ours.
    requests_mock.get(job_url(), json=summary_of(199, "SUCCESSFUL"))
    requests_mock.get(job_executions_url(), json=paged([LISTING_PAGE]))
    polled = hook.poll_execution_by(34, "200", is_running=running)
    assert polled.execution.status == "RUNNING" and polled.summary_answered is False
    assert [e.execution_id for e in polled.listed] == ["200", "199"]
    assert len(requests_mock.request_history) == 2


def test_summary_naming_our_finished_execution_still_reads_the_full_record(
    requests_mock: Any, hook: Any
) -> None:
    requests_mock.get(job_url(), json=summary_of(200, "FAILED"))
    requests_mock.get(
        job_executions_url(),
        json=paged([[execution_payload(200, status="FAILED", status_detail="disk full"), LISTING_PAGE[1]]]),
    )
    polled = hook.poll_execution_by(34, "200", is_running=running)
    assert polled.execution.status_detail == "disk full"  # only the listing carries it
    assert polled.summary_answered is True  # the summary did name ours


def test_listing_lookup_is_one_request_without_the_summary(requests_mock: Any, hook: Any) -> None:
    summary = requests_mock.get(job_url(), json=summary_of(199, "SUCCESSFUL"))
    requests_mock.get(job_executions_url(), json=paged([LISTING_PAGE]))
    polled = hook.poll_execution_by(34, "200", is_running=running, lookup=Lookup.LISTING)
    assert polled.execution.status == "RUNNING" and polled.summary_answered is None
    assert summary.call_count == 0 and len(requests_mock.request_history) == 1


def test_poll_execution_keeps_its_old_answer(requests_mock: Any, hook: Any) -> None:
    requests_mock.get(job_url(), json=summary_of(200, "RUNNING"))
    execution = hook.poll_execution(34, "200", is_running=running)
    assert execution.execution_id == "200" and execution.status == "RUNNING"


@pytest.mark.parametrize("bad", ["", "both", "LISTING ", None])
def test_unknown_lookup_fails_before_any_request(requests_mock: Any, hook: Any, bad: Any) -> None:
    with pytest.raises(BaasValidationError, match="lookup"):
        hook.poll_execution_by(34, "200", is_running=running, lookup=bad)
    assert requests_mock.request_history == []


def test_a_wait_on_a_finished_only_summary_settles_on_one_request_per_poll(
    requests_mock: Any, hook: Any
) -> None:
    """Plan and lookup choice together: 2 requests on the first poll, then 1 per poll, plus the
    summary once every ``recheck_every`` polls."""
    summary = requests_mock.get(job_url(), json=summary_of(199, "SUCCESSFUL"))
    listing = requests_mock.get(job_executions_url(), json=paged([LISTING_PAGE]))
    choice = LookupChoice(recheck_every=5)
    for _ in range(11):
        polled = hook.poll_execution_by(34, "200", is_running=running, lookup=choice.next())
        choice.learn(polled.summary_answered)
    # Polls 1, 6 and 11 read the summary (the first, then every fifth); every poll reads the listing.
    assert (summary.call_count, listing.call_count) == (3, 11)
