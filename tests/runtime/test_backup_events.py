"""Unit and property tests of the backup-event watermark (``backup_events``): which executions an
asset watcher reports, so that none is reported twice and none that ends after its first start is
missed, whatever order the listings show them in and however many end at the same instant.

The trigger tests (``test_event_trigger.py``) drive the same functions against the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_baas.backup_events import (
    BEGINNING,
    Watermark,
    event_payload,
    event_statuses,
    initial_watermark,
    new_events,
)
from airflow_provider_baas.models import Execution
from airflow_provider_baas.status import StatusPolicy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def execution(execution_id: str, ended: float | None, status: str | None = "SUCCESSFUL") -> Execution:
    """An execution that ended ``ended`` seconds after T0 (None: still running)."""
    end = None if ended is None else (T0 + timedelta(seconds=ended)).isoformat()
    return Execution.from_dict(
        {
            "execution_id": execution_id,
            "job_id": "34",
            "status": status,
            "start_time": T0.isoformat(),
            "end_time": end,
        }
    )


# --- the statuses a watcher reports -----------------------------------------------------------


def test_statuses_are_upper_cased_deduplicated_and_sorted() -> None:
    assert event_statuses(" successful ") == ("SUCCESSFUL",)
    assert event_statuses(["failed", "SUCCESSFUL", "Failed", " "]) == ("FAILED", "SUCCESSFUL")


@pytest.mark.parametrize("statuses", [[], [" "], ""])
def test_no_status_is_refused(statuses) -> None:
    with pytest.raises(ValueError, match="at least one final execution status"):
        event_statuses(statuses)


@pytest.mark.parametrize("status", ["RUNNING", "queued"])
def test_a_running_status_is_refused(status: str) -> None:
    with pytest.raises(ValueError, match="still running"):
        event_statuses(["SUCCESSFUL", status])


# --- the watermark ----------------------------------------------------------------------------


def test_an_execution_still_running_is_never_new() -> None:
    assert not Watermark(BEGINNING).is_new(execution("1", None))


def test_an_execution_ended_after_the_watermark_is_new_and_one_ended_before_is_not() -> None:
    mark = Watermark(T0 + timedelta(seconds=10), frozenset({"5"}))

    assert mark.is_new(execution("6", 11))
    assert not mark.is_new(execution("4", 9))


def test_at_the_watermarks_instant_only_ids_not_yet_reported_are_new() -> None:
    mark = Watermark(T0 + timedelta(seconds=10), frozenset({"5"}))

    assert not mark.is_new(execution("5", 10))
    assert mark.is_new(execution("6", 10))


def test_reporting_a_later_execution_moves_the_watermark_and_forgets_the_older_ids() -> None:
    mark = Watermark(T0, frozenset({"1"})).after(execution("2", 5))

    assert mark == Watermark(T0 + timedelta(seconds=5), frozenset({"2"}))


def test_reporting_one_at_the_same_instant_adds_its_id() -> None:
    mark = Watermark(T0, frozenset({"1"})).after(execution("2", 0))

    assert mark == Watermark(T0, frozenset({"1", "2"}))


def test_reporting_an_older_execution_leaves_the_watermark() -> None:
    mark = Watermark(T0 + timedelta(seconds=5), frozenset({"2"}))

    assert mark.after(execution("1", 1)) is mark


def test_the_first_start_counts_everything_ended_by_then_as_reported() -> None:
    listing = [execution("1", 1), execution("2", 3), execution("3", 3), execution("4", None)]

    mark = initial_watermark(listing)

    assert mark == Watermark(T0 + timedelta(seconds=3), frozenset({"2", "3"}))
    assert new_events(listing, ("SUCCESSFUL",), mark) == []


def test_the_first_start_of_a_job_that_never_ended_a_run_reports_every_later_end() -> None:
    assert initial_watermark([execution("1", None)]) == Watermark(BEGINNING)
    assert initial_watermark([]) == Watermark(BEGINNING)


def test_new_events_are_those_in_the_statuses_ended_after_the_watermark_oldest_first() -> None:
    listing = [
        execution("9", 30),
        execution("7", 20, "FAILED"),
        execution("8", 20),
        execution("3", 20),
        execution("2", 5),
        execution("10", None, "RUNNING"),
        execution("11", 40, None),
    ]
    mark = Watermark(T0 + timedelta(seconds=5), frozenset({"2"}))

    assert [e.execution_id for e in new_events(listing, ("SUCCESSFUL",), mark)] == ["3", "8", "9"]
    assert [e.execution_id for e in new_events(listing, ("FAILED",), mark)] == ["7"]


def test_a_status_is_compared_trimmed_and_upper_cased() -> None:
    listing = [execution("1", 5, " successful ")]

    assert new_events(listing, ("SUCCESSFUL",), Watermark(BEGINNING)) == listing


def test_a_watermark_survives_its_json_form() -> None:
    mark = Watermark(T0, frozenset({"2", "10"}))

    assert mark.to_json() == {"end_time": T0.isoformat(), "ids": ["10", "2"]}
    assert Watermark.from_json(mark.to_json()) == mark


@pytest.mark.parametrize("stored", [None, "2026-03-01", [], {"ids": ["1"]}, {"end_time": "not a time"}])
def test_a_stored_watermark_that_is_not_usable_is_none(stored) -> None:
    assert Watermark.from_json(stored) is None


def test_a_stored_watermark_without_ids_or_with_numbers_and_nulls_reads_as_strings() -> None:
    assert Watermark.from_json({"end_time": T0.isoformat()}) == Watermark(T0)
    assert Watermark.from_json({"end_time": T0.isoformat(), "ids": [5, None, "6"]}) == Watermark(
        T0, frozenset({"5", "6"})
    )


def test_the_payload_says_failed_for_any_status_that_is_not_a_success() -> None:
    policy = StatusPolicy()
    ok, odd = execution("1", 5), execution("2", 6, "PARTIALLY_DONE")

    assert event_payload(ok, "site", policy)["outcome"] == "success"
    assert event_payload(odd, "site", policy)["outcome"] == "failed"
    assert event_payload(ok, "site", policy)["end_time"] == (T0 + timedelta(seconds=5)).isoformat()
    assert event_payload(execution("3", None), "site", policy)["end_time"] is None
    unstarted = Execution.from_dict({"execution_id": "4", "status": "SUCCESSFUL"})
    assert event_payload(unstarted, "site", policy)["start_time"] is None
    assert event_payload(ok, "site", policy)["start_time"] == T0.isoformat()
    assert event_payload(ok, "site", policy)["backup_started"] is False


# --- a watcher over any history: every execution ended after its start, once, in end order -----

# An execution: (id, second it ends, status). Ends fall on few instants, so ties are common.
_runs = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from(["SUCCESSFUL", "FAILED", "successful"])),
    min_size=0,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(runs=_runs, started_at=st.integers(-1, 8), reads=st.lists(st.integers(0, 9), min_size=1, max_size=6))
def test_a_watcher_reports_each_execution_ended_after_its_start_exactly_once(
    runs: list[tuple[int, str]], started_at: int, reads: list[int]
) -> None:
    """The watcher first reads the job at ``started_at`` and then at each of ``reads`` (any order of
    listing, any clock): what it reports, over all reads, is every SUCCESSFUL execution that had not
    ended by its first read, each once, oldest end first."""
    history = [(str(i), end, status) for i, (end, status) in enumerate(runs)]

    def listing_at(second: int) -> list[Execution]:
        seen = [execution(i, end if end <= second else None, s) for i, end, s in history]
        return seen[::-1] if second % 2 else seen  # the API's order is not a promise

    mark = initial_watermark(listing_at(started_at))
    reported: list[Execution] = []
    for second in sorted(reads):
        for event in new_events(listing_at(second), event_statuses("SUCCESSFUL"), mark):
            reported.append(event)
            mark = mark.after(event)
            mark = Watermark.from_json(mark.to_json())  # a restart between two events loses nothing

    expected = sorted(
        (i for i, end, s in history if s.upper() == "SUCCESSFUL" and started_at < end <= max(reads)),
        key=lambda i: (history[int(i)][1], i),
    )
    ids = [e.execution_id for e in reported]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    assert [e.end_time for e in reported] == sorted(e.end_time for e in reported)


def test_a_watermark_cannot_be_changed_once_made() -> None:
    """A watermark is a value: reporting an event makes a new one (``after``), so one already stored
    or handed on never changes under its holder."""
    mark = Watermark(T0)

    with pytest.raises(AttributeError):
        mark.end_time = T0 + timedelta(seconds=1)  # type: ignore[misc]
