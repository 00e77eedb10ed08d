"""PollingPolicy and ExecutionWatch: every branch of the sans-IO wait, on an injected fake clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_baas import polling
from airflow_provider_baas.errors import (
    BaasApiError,
    BaasAuthError,
    BaasConflictError,
    BaasError,
    BaasExecutionNotFound,
    BaasNotFoundError,
    BaasRateLimitedError,
    BaasResponseError,
    BaasServerError,
    BaasTransportError,
    BaasValidationError,
)
from airflow_provider_baas.models import Execution
from airflow_provider_baas.polling import (
    ERROR,
    FAILED,
    FINAL_STATES,
    HISTORY_SIZE,
    LOOKUP_RECHECK_EVERY,
    SUCCESS,
    TIMEOUT,
    WAIT,
    WINDOW_POLLS,
    ExecutionWatch,
    ExpectedDuration,
    Lookup,
    LookupChoice,
    PollingPolicy,
)
from airflow_provider_baas.status import StatusPolicy

T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_watch(clock: FakeClock, **kwargs: object) -> ExecutionWatch:
    options: dict[str, object] = {
        "job_id": "34",
        "execution_id": "1001",
        "started_at": clock(),
        "clock": clock,
    }
    options.update(kwargs)
    return ExecutionWatch(**options)  # type: ignore[arg-type]


def execution(status: str | None, detail: str | None = None, execution_id: str = "1001") -> Execution:
    return Execution.from_dict(
        {
            "execution_id": execution_id,
            "job_id": 34,
            "job_name": "daily_warehouse_backup",
            "status": status,
            "status_detail": detail,
            "start_time": "2026-01-01T00:00:00.000000Z",
            "end_time": "2026-01-01T02:00:00.000000Z" if status in ("SUCCESSFUL", "FAILED") else None,
        }
    )


# ---------------------------------------------------------------------------------------------
# PollingPolicy


class TestPollingPolicy:
    def test_starts_at_first_interval(self) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        assert policy.next_wait(0) == 5
        assert policy.next_wait(10) == 5  # 10 * 0.2 = 2 < first_interval

    def test_grows_with_elapsed_and_is_capped_at_poll_interval(self) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        waits = [policy.next_wait(e) for e in (0, 30, 60, 120, 200, 299, 300, 3600, 86400)]
        assert waits == sorted(waits), waits  # never shrinks while waiting longer
        assert waits[2] == pytest.approx(12.0)  # 20% of the time waited so far
        assert waits[3] == pytest.approx(24.0)
        assert max(waits) == 60
        assert policy.next_wait(10**9) == 60

    def test_defaults(self) -> None:
        # The documented schedule (tuned with bench/poll_efficiency.py): 15 s until 75 s waited,
        # then 20% of the time waited, at most 75 s.
        policy = PollingPolicy()
        assert (policy.poll_interval, policy.first_interval, policy.ramp) == (75.0, 15.0, 0.2)
        assert policy.next_wait(0) == 15.0
        assert policy.next_wait(75) == 15.0  # the flat start ends where 20% reaches 15 s
        assert policy.next_wait(150) == 30.0  # "30 s at 2.5 min"
        assert policy.next_wait(375) == 75.0  # the cap is reached at 6.25 min
        assert policy.next_wait(6 * 3600) == 75.0

    def test_first_interval_never_above_poll_interval(self) -> None:
        policy = PollingPolicy(poll_interval=0.2)  # first_interval defaults to 15 s
        assert policy.first_interval == 0.2
        assert policy.next_wait(0) == 0.2
        assert policy.next_wait(1000) == 0.2
        assert policy.error_wait(1) == 0.2

    @pytest.mark.parametrize("bad", [0, -1, float("nan")])
    def test_poll_interval_must_be_positive(self, bad: float) -> None:
        with pytest.raises(BaasValidationError, match="poll_interval"):
            PollingPolicy(poll_interval=bad)

    def test_with_a_history_sparse_until_the_shortest_recent_run_then_dense(self) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5, max_poll_gap=600)
        expected = ExpectedDuration(typical=7200, spread=200)  # recent runs: 7000 s to 7400 s
        # Far from the end: equal steps of at most max_poll_gap that land on 7000 s.
        t, polls = 0.0, []
        while t < 7000:
            wait = policy.next_wait(t, expected)
            assert wait <= 600
            t += wait
            polls.append(t)
        assert t == pytest.approx(7000) and len(polls) == 12  # ceil(7000 / 600)
        # Across the span of the recent runs: about WINDOW_POLLS polls, each at most poll_interval.
        assert policy.next_wait(7000, expected) == pytest.approx(400 / WINDOW_POLLS)
        assert policy.next_wait(7399, expected) == pytest.approx(400 / WINDOW_POLLS)
        # Later than any recent run: dense again, growing back to poll_interval.
        after = [policy.next_wait(7400 + over, expected) for over in (0, 100, 200, 10000)]
        assert after == [5, 20, 40, 60]

    def test_window_steps_are_bounded_by_first_and_poll_interval(self) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        assert policy.next_wait(100, ExpectedDuration(100, 0)) == 5  # no spread: as dense as at first
        assert policy.next_wait(1000, ExpectedDuration(3000, 2500)) == 60  # a wide spread: capped

    def test_a_bare_number_is_an_expected_duration_without_spread(self) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        for elapsed in (0, 3000, 7199, 7200, 7300):
            assert policy.next_wait(elapsed, 7200.0) == policy.next_wait(elapsed, ExpectedDuration(7200.0))

    def test_max_poll_gap_defaults_to_eight_poll_intervals_and_never_below_one(self) -> None:
        assert PollingPolicy().max_poll_gap == 600.0
        assert PollingPolicy(poll_interval=10).max_poll_gap == 80.0
        assert PollingPolicy(poll_interval=60, max_poll_gap=30).max_poll_gap == 60
        with pytest.raises(BaasValidationError, match="max_poll_gap"):
            PollingPolicy(max_poll_gap=0)

    @pytest.mark.parametrize("expected", [None, 0, -5])
    def test_unknown_expected_duration_is_the_plain_schedule(self, expected: float | None) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        for elapsed in (0, 100, 1000):
            assert policy.next_wait(elapsed, expected) == policy.next_wait(elapsed)

    def test_error_wait_backs_off_and_is_capped(self) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        assert [policy.error_wait(n) for n in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]
        assert policy.error_wait(100) == 60


# ---------------------------------------------------------------------------------------------
# ExpectedDuration: the job's usual duration from its recent successful runs


def listed(execution_id: str, minutes: float | None, status: str = "SUCCESSFUL", **fields: Any) -> Execution:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=int(execution_id))
    end = start + timedelta(minutes=minutes) if minutes is not None else None
    raw = {"execution_id": execution_id, "status": status, "start_time": start.isoformat(), **fields}
    if end is not None:
        raw["end_time"] = end.isoformat()
    return Execution.from_dict(raw)


class TestExpectedDuration:
    def test_median_and_farthest_run(self) -> None:
        expected = ExpectedDuration.from_durations([100, 90, 130, 110])
        assert (expected.typical, expected.spread) == (105, 25)
        assert (expected.earliest, expected.latest) == (80, 130)

    def test_too_few_runs_is_no_history(self) -> None:
        assert ExpectedDuration.from_durations([100, 90]) is None
        assert ExpectedDuration.from_durations([100, 90, 0, -1, float("nan")]) is None

    def test_only_the_newest_history_size_runs_count(self) -> None:
        newest = [100.0] * HISTORY_SIZE
        assert ExpectedDuration.from_durations([*newest, 5000, 9000]) == ExpectedDuration(100.0, 0.0)

    def test_from_history_takes_recent_successful_runs_of_the_run_type(self) -> None:
        policy = StatusPolicy()
        history = [
            listed("1", 60, run_type="FULL"),
            listed("2", 62, run_type="FULL"),
            listed("3", 5, run_type="DELTA"),  # another run type: not this job's FULL duration
            listed("4", 1, status="FAILED", run_type="FULL"),  # failed runs say nothing
            listed("5", None, status="RUNNING", run_type="FULL"),  # no end yet
            listed("6", 58),  # no run type given: counts
        ]
        expected = ExpectedDuration.from_history(history, policy, "FULL")
        assert expected == ExpectedDuration(3600.0, 120.0)
        assert ExpectedDuration.from_history(history, policy, "DELTA") is None  # 1 DELTA + 1 untyped

    def test_from_history_prefers_the_newest_runs(self) -> None:
        old = [listed(str(i), 600) for i in range(1, 4)]
        new = [listed(str(i), 60) for i in range(10, 10 + HISTORY_SIZE)]
        assert ExpectedDuration.from_history(old + new, StatusPolicy()) == ExpectedDuration(3600.0, 0.0)


# ---------------------------------------------------------------------------------------------
# LookupChoice: one request per poll, whatever the summary shows


class TestLookupChoice:
    def test_summary_while_it_answers(self) -> None:
        choice = LookupChoice()
        for _ in range(30):
            assert choice.next() is Lookup.SUMMARY
            choice.learn(True)

    def test_listing_once_the_summary_did_not_name_the_execution_with_bounded_rechecks(self) -> None:
        choice = LookupChoice(recheck_every=4)
        assert choice.next() is Lookup.SUMMARY
        choice.learn(False)
        used = []
        for _ in range(12):
            lookup = choice.next()
            used.append(lookup)
            choice.learn(False if lookup is Lookup.SUMMARY else None)
        assert used == [Lookup.LISTING] * 3 + [Lookup.SUMMARY] + [Lookup.LISTING] * 3 + [Lookup.SUMMARY] + [
            Lookup.LISTING
        ] * 3 + [Lookup.SUMMARY]

    def test_back_to_the_summary_when_a_recheck_finds_the_execution_there(self) -> None:
        choice = LookupChoice(preferred=Lookup.LISTING, polls_since_check=LOOKUP_RECHECK_EVERY - 1)
        assert choice.next() is Lookup.SUMMARY
        choice.learn(True)
        assert (choice.next(), choice.polls_since_check) == (Lookup.SUMMARY, 0)

    def test_listing_once_then_the_preferred_lookup(self) -> None:
        choice = LookupChoice.listing_once()
        assert choice.next() is Lookup.LISTING
        choice.learn(None)
        assert choice.next() is Lookup.SUMMARY
        remembered = LookupChoice.listing_once(Lookup.LISTING)
        remembered.learn(None)
        assert remembered.next() is Lookup.LISTING


# ---------------------------------------------------------------------------------------------
# ExecutionWatch: successful polls


class TestObserve:
    def test_success(self, clock: FakeClock) -> None:
        watch = make_watch(clock)
        decision = watch.observe(execution("SUCCESSFUL", "Job completed successfully."))
        assert decision.state == SUCCESS and decision.final
        assert decision.execution is not None
        assert decision.execution["execution_id"] == "1001"
        assert decision.execution["status"] == "SUCCESSFUL"
        json.dumps(decision.execution)
        assert "1001" in decision.message and "34" in decision.message

    def test_success_status_is_case_insensitive(self, clock: FakeClock) -> None:
        assert make_watch(clock).observe(execution("successful")).state == SUCCESS

    @pytest.mark.parametrize("status", ["FAILED", "ABORTED", "ERROR", "CANCELLED", "WARNING"])
    def test_failure_statuses(self, clock: FakeClock, status: str) -> None:
        detail = "DSA job failed: [3523] The user BAR_ADMIN does not have DUMP access to HR.PAYROLL."
        decision = make_watch(clock).observe(execution(status, detail))
        assert decision.state == FAILED and decision.final
        assert detail in decision.message
        assert status in decision.message
        assert decision.execution is not None and decision.execution["status_detail"] == detail

    def test_failure_without_detail_says_so(self, clock: FakeClock) -> None:
        decision = make_watch(clock).observe(execution("FAILED", None))
        assert decision.state == FAILED
        assert "no detail" in decision.message

    def test_custom_success_statuses(self, clock: FakeClock) -> None:
        policy = StatusPolicy.build(success_statuses={"SUCCESSFUL", "warning"})
        assert make_watch(clock, status_policy=policy).observe(execution("WARNING")).state == SUCCESS

    @pytest.mark.parametrize("status", ["QUEUED", "RUNNING", "EXECUTING", "ABORTING"])
    def test_running_waits_by_the_polling_policy(self, clock: FakeClock, status: str) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        watch = make_watch(clock, polling=policy)
        clock.advance(300)
        decision = watch.observe(execution(status))
        assert decision.state == WAIT and not decision.final
        assert decision.wait == policy.next_wait(300) == 60
        assert status in decision.message
        # A WAIT carries no record: nothing reads it, and a waiting trigger keeps nothing between polls.
        assert decision.execution is None

    @pytest.mark.parametrize("status", ["VERIFYING", "PARTIAL", "COMPLETED_WITH_ERRORS", "", None, "success"])
    def test_unknown_status_waits_and_is_never_success(self, clock: FakeClock, status: str | None) -> None:
        watch = make_watch(clock, deadline=T0 + 100)
        for _ in range(5):
            decision = watch.observe(execution(status))
            assert decision.state == WAIT, decision
            clock.advance(decision.wait)
        clock.advance(100)
        decision = watch.observe(execution(status))
        assert decision.state == TIMEOUT  # the deadline bounds an unknown status

    def test_wait_never_passes_the_deadline(self, clock: FakeClock) -> None:
        watch = make_watch(clock, polling=PollingPolicy(poll_interval=60), deadline=T0 + 1000)
        clock.advance(997)
        decision = watch.observe(execution("RUNNING"))
        assert decision.state == WAIT
        assert decision.wait == pytest.approx(3.0)

    def test_good_poll_records_progress(self, clock: FakeClock) -> None:
        watch = make_watch(clock)
        clock.advance(42)
        watch.observe(execution("RUNNING"))
        assert watch.last_status == "RUNNING"
        assert watch.last_good_poll == T0 + 42
        assert watch.elapsed() == 42


class TestCoalesced:
    """Waits end on a shared grid, so one wake-up of the triggerer serves a batch of polls."""

    @pytest.mark.parametrize("now", [0.0, 3.03, 1234.5678, 1e6 + 0.05])
    @pytest.mark.parametrize("wait", [0.1, 0.25, 15.0, 75.0])
    def test_ends_on_the_grid_and_is_never_longer(self, now: float, wait: float) -> None:
        got = polling.coalesced(wait, now, waiting=1000, grid=0.1)
        assert wait - 0.1 < got <= wait
        assert (now + got) / 0.1 == pytest.approx(round((now + got) / 0.1), abs=1e-6)

    def test_waits_shorter_than_the_grid_and_no_grid_are_left_alone(self) -> None:
        assert polling.coalesced(0.05, 3.03, waiting=1000, grid=0.1) == 0.05
        assert polling.coalesced(7.0, 3.03, waiting=1000, grid=0) == 7.0
        assert polling.coalesced(7.0, 3.03, waiting=1) == 7.0  # a lone wait has nobody to wait for

    def test_two_waits_started_apart_end_together(self) -> None:
        a, b = 100.001, 100.05  # within one 1/16 s slot of each other
        assert a + polling.coalesced(15.0, a, 1000) == pytest.approx(b + polling.coalesced(15.0, b, 1000))

    @pytest.mark.parametrize(
        ("wait", "waiting", "grid"),
        [
            (10.0, 1000, 1 / 16),  # 8 * 10 / 1000 = 0.08 -> 0.0625: ~6 polls per wake-up
            (10.0, 5000, 1 / 64),  # 0.016 -> 0.015625
            (75.0, 1000, 0.5),  # 0.6 -> 0.5
            (75.0, 100, 1.0),  # capped: sparse triggerers still wake at most once a second
            (10.0, 100_000, 0.0),  # dense: the loop is busy anyway
            (15.0, 1, 0.0),
        ],
    )
    def test_the_grid_holds_a_small_batch_and_is_a_power_of_two(
        self, wait: float, waiting: int, grid: float
    ) -> None:
        assert polling.wake_grid(wait, waiting) == grid

    def test_grids_of_different_waits_nest(self) -> None:
        """A wait on a coarser grid wakes on a point of every finer grid: batches still meet."""
        coarse, fine = polling.wake_grid(75.0, 1000), polling.wake_grid(15.0, 1000)
        assert coarse > fine and (coarse / fine).is_integer()


class TestReportCadence:
    """Which WAIT decisions are worth an INFO line: a status change, else one per ``report_every``."""

    def test_first_poll_status_changes_and_every_report_every_are_reported(self, clock: FakeClock) -> None:
        watch = make_watch(clock, polling=PollingPolicy(poll_interval=60, first_interval=60))
        seen = []
        for status in ["QUEUED", "QUEUED", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "RUNNING"]:
            decision = watch.observe(execution(status))
            assert decision.state == WAIT
            seen.append((status, decision.report))
            clock.advance(60)
        # t=0 first poll; 60 same; 120 change; 180, 240, 300, 360 quiet; 420 = 300 s after the change
        assert seen == [
            ("QUEUED", True),
            ("QUEUED", False),
            ("RUNNING", True),
            ("RUNNING", False),
            ("RUNNING", False),
            ("RUNNING", False),
            ("RUNNING", False),
            ("RUNNING", True),
        ]

    def test_report_every_is_configurable(self, clock: FakeClock) -> None:
        watch = make_watch(clock, report_every=0)
        assert all(watch.observe(execution("RUNNING")).report for _ in range(3))

    def test_an_unknown_status_change_is_reported(self, clock: FakeClock) -> None:
        watch = make_watch(clock)
        assert watch.observe(execution("RUNNING")).report
        assert watch.observe(execution("VERIFYING")).report
        assert not watch.observe(execution("VERIFYING")).report

    def test_failed_polls_are_always_reported_and_do_not_reset_the_cadence(self, clock: FakeClock) -> None:
        watch = make_watch(clock)
        assert watch.observe(execution("RUNNING")).report
        error = BaasServerError(503, "GET", "/sites/s/jobs/34", "busy")
        assert watch.observe_error(error).report
        assert watch.observe_error(error).report
        assert not watch.observe(execution("RUNNING")).report  # same status, well within report_every

    def test_final_decisions_report(self, clock: FakeClock) -> None:
        watch = make_watch(clock)
        watch.observe(execution("RUNNING"))
        assert watch.observe(execution("SUCCESSFUL")).report


# ---------------------------------------------------------------------------------------------
# ExecutionWatch: the deadline


class TestDeadline:
    def test_no_deadline_never_times_out(self, clock: FakeClock) -> None:
        watch = make_watch(clock)
        clock.advance(10**8)
        assert watch.check_deadline() is None
        assert watch.observe(execution("RUNNING")).state == WAIT

    def test_check_deadline_before_and_after(self, clock: FakeClock) -> None:
        watch = make_watch(clock, deadline=T0 + 60)
        clock.advance(59.9)
        assert watch.check_deadline() is None
        clock.advance(0.1)
        decision = watch.check_deadline()
        assert decision is not None and decision.state == TIMEOUT and decision.final

    def test_timeout_message(self, clock: FakeClock) -> None:
        watch = make_watch(clock, deadline=T0 + 60)
        watch.observe(execution("RUNNING"))
        clock.advance(61)
        decision = watch.observe(execution("RUNNING"))
        assert decision.state == TIMEOUT
        assert "goes on on the server" in decision.message
        assert "1001" in decision.message and "RUNNING" in decision.message
        assert decision.execution is not None and decision.execution["status"] == "RUNNING"

    def test_final_status_seen_after_the_deadline_is_still_reported(self, clock: FakeClock) -> None:
        watch = make_watch(clock, deadline=T0 + 60)
        clock.advance(120)
        assert watch.observe(execution("SUCCESSFUL")).state == SUCCESS
        assert watch.observe(execution("FAILED", "boom")).state == FAILED

    def test_transient_error_after_the_deadline_is_a_timeout(self, clock: FakeClock) -> None:
        watch = make_watch(clock, deadline=T0 + 60)
        clock.advance(61)
        decision = watch.observe_error(BaasServerError(503, "GET", "/p", "unavailable"))
        assert decision.state == TIMEOUT


# ---------------------------------------------------------------------------------------------
# ExecutionWatch: failed polls


TRANSIENT = [
    BaasTransportError("GET", "/sites/s/jobs/34", "ServerDisconnectedError: Server disconnected"),
    BaasServerError(503, "GET", "/sites/s/jobs/34", "Service Unavailable"),
    BaasServerError(500, "GET", "/sites/s/jobs/34", "Internal Server Error"),
    BaasRateLimitedError(429, "GET", "/sites/s/jobs/34", "Too Many Requests", None),
    BaasResponseError(200, "GET", "/sites/s/jobs/34", "body is not JSON: '[{'"),
]


class TestObserveError:
    @pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
    def test_transient_error_within_budget_waits(self, clock: FakeClock, exc: Exception) -> None:
        policy = PollingPolicy(poll_interval=60, first_interval=5)
        watch = make_watch(clock, polling=policy, max_consecutive_errors=4)
        waits = []
        for n in range(1, 5):
            decision = watch.observe_error(exc)
            assert decision.state == WAIT, decision
            assert decision.wait == policy.error_wait(n)
            waits.append(decision.wait)
            clock.advance(decision.wait)
        assert waits == [5, 10, 20, 40]
        assert watch.consecutive_errors == 4

    @pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
    def test_beyond_max_consecutive_errors_is_an_error(self, clock: FakeClock, exc: Exception) -> None:
        watch = make_watch(clock, max_consecutive_errors=3)
        for _ in range(3):
            assert watch.observe_error(exc).state == WAIT
        decision = watch.observe_error(exc)
        assert decision.state == ERROR and decision.final
        assert "giving up after 4 failed polls" in decision.message
        assert str(exc) in decision.message

    def test_default_budget(self, clock: FakeClock) -> None:
        watch = make_watch(clock, polling=PollingPolicy(poll_interval=1))
        exc = TRANSIENT[1]
        # A literal, not the constant: the test must fail when the default budget changes.
        states = [watch.observe_error(exc).state for _ in range(11)]
        assert states == [WAIT] * 10 + [ERROR]

    def test_good_poll_resets_the_budget(self, clock: FakeClock) -> None:
        watch = make_watch(clock, max_consecutive_errors=2)
        exc = TRANSIENT[0]
        for _ in range(5):
            assert watch.observe_error(exc).state == WAIT
            assert watch.observe_error(exc).state == WAIT
            assert watch.observe(execution("RUNNING")).state == WAIT
            assert watch.consecutive_errors == 0
        # After a good poll, the backoff starts again from the first interval.
        assert watch.observe_error(exc).wait == watch.polling.error_wait(1)

    def test_error_window_without_a_good_poll_is_an_error(self, clock: FakeClock) -> None:
        watch = make_watch(clock, max_consecutive_errors=100, error_window=900)
        watch.observe(execution("RUNNING"))
        clock.advance(899)
        assert watch.observe_error(TRANSIENT[1]).state == WAIT
        clock.advance(2)
        decision = watch.observe_error(TRANSIENT[1])
        assert decision.state == ERROR
        assert "giving up" in decision.message and "15m01.0s" in decision.message

    def test_error_window_counts_from_the_last_good_poll(self, clock: FakeClock) -> None:
        watch = make_watch(clock, max_consecutive_errors=100, error_window=900)
        clock.advance(5000)
        watch.observe(execution("RUNNING"))
        clock.advance(800)
        assert watch.observe_error(TRANSIENT[0]).state == WAIT

    @pytest.mark.parametrize("status", [401, 403])
    def test_auth_error_is_an_error_at_once(self, clock: FakeClock, status: int) -> None:
        watch = make_watch(clock, max_consecutive_errors=100)
        decision = watch.observe_error(BaasAuthError(status, "GET", "/p", "invalid token"))
        assert decision.state == ERROR
        assert "BaasAuthError" in decision.message and f"HTTP {status}" in decision.message

    def test_not_found_during_grace_waits(self, clock: FakeClock) -> None:
        watch = make_watch(clock, not_found_grace=300)
        exc = BaasExecutionNotFound(404, "GET", "/sites/s/jobs/34/executions", "execution 1001 not found")
        clock.advance(299)
        decision = watch.observe_error(exc)
        assert decision.state == WAIT

    def test_not_found_after_grace_is_an_error(self, clock: FakeClock) -> None:
        watch = make_watch(clock, not_found_grace=300)
        exc = BaasExecutionNotFound(404, "GET", "/sites/s/jobs/34/executions", "execution 1001 not found")
        clock.advance(301)
        decision = watch.observe_error(exc)
        assert decision.state == ERROR
        assert "BaasExecutionNotFound" in decision.message

    def test_not_found_job_is_an_error_even_during_grace(self, clock: FakeClock) -> None:
        watch = make_watch(clock, not_found_grace=300)
        exc = BaasNotFoundError(404, "GET", "/sites/s/jobs/34", "job 34 not found in site s")
        assert watch.observe_error(exc).state == ERROR

    @pytest.mark.parametrize(
        "exc",
        [
            ValueError("boom"),
            KeyError("status"),
            RuntimeError("You cannot use AsyncToSync in the same thread as an async event loop"),
            BaasValidationError("bad input"),
            BaasConflictError(409, "GET", "/p", "conflict"),
            BaasApiError(400, "GET", "/p", "bad request"),
            BaasError("something else"),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_non_transient_errors_end_the_wait_at_once(self, clock: FakeClock, exc: Exception) -> None:
        watch = make_watch(clock, max_consecutive_errors=100)
        decision = watch.observe_error(exc)
        assert decision.state == ERROR
        assert str(exc) in decision.message or repr(exc) in decision.message
        if not isinstance(exc, BaasError):
            assert f"unexpected {type(exc).__name__}" in decision.message

    def test_rate_limit_honours_retry_after(self, clock: FakeClock) -> None:
        watch = make_watch(clock, polling=PollingPolicy(poll_interval=60, first_interval=5))
        exc = BaasRateLimitedError(429, "GET", "/p", "Too Many Requests", retry_after=30.0)
        decision = watch.observe_error(exc)
        assert decision.state == WAIT
        assert decision.wait >= 30.0

    def test_first_transient_error_of_a_resumed_wait_is_retried(self, clock: FakeClock) -> None:
        # A triggerer restart re-creates the trigger with the original started_at (2 h ago).
        watch = make_watch(clock, started_at=T0 - 7200)
        decision = watch.observe_error(BaasServerError(503, "GET", "/p", "Service Unavailable"))
        assert decision.state == WAIT, decision.message


def test_final_states_are_exactly_the_documented_ones() -> None:
    assert set(FINAL_STATES) == {SUCCESS, FAILED, TIMEOUT, ERROR}
    assert WAIT not in FINAL_STATES


# ---------------------------------------------------------------------------------------------
# ExecutionWatch: the schedule counts from the execution's start once a history is known


def test_a_watch_joining_a_running_backup_counts_from_its_start() -> None:
    now = [T0]
    started = listed("1", None, status="RUNNING")
    assert started.start_time is not None
    now[0] = started.start_time.timestamp() + 3000  # joined 50 minutes into the run
    watch = ExecutionWatch(
        job_id="34",
        execution_id="1",
        polling=PollingPolicy(poll_interval=60, first_interval=5, max_poll_gap=600),
        expected_duration=ExpectedDuration(3600, 0),
        clock=lambda: now[0],
    )
    decision = watch.observe(started)
    assert decision.wait == 600  # 600 s to the usual end, not the 3600 s of a fresh wait


def test_without_a_history_the_schedule_counts_from_the_wait() -> None:
    now = [T0]
    started = listed("1", None, status="RUNNING")
    assert started.start_time is not None
    now[0] = started.start_time.timestamp() + 3000
    watch = ExecutionWatch(
        job_id="34",
        execution_id="1",
        polling=PollingPolicy(poll_interval=60, first_interval=5),
        clock=lambda: now[0],
    )
    assert watch.observe(started).wait == 5  # the plain schedule, as before


def test_a_watch_learns_the_history_once_from_a_listing_it_read() -> None:
    rows = [listed("9", None, status="RUNNING", run_type="FULL")] + [
        listed(str(i), 60, run_type="FULL") for i in range(1, 4)
    ]
    watch = ExecutionWatch(job_id="34", execution_id="9")
    watch.learn_history(rows)
    assert watch.expected_duration == ExpectedDuration(3600.0, 0.0)
    watch.learn_history([listed(str(i), 10) for i in range(1, 4)])  # already known: kept
    assert watch.expected_duration == ExpectedDuration(3600.0, 0.0)
    short = ExecutionWatch(job_id="34", execution_id="9")
    short.learn_history(rows[:2])  # too few runs: none, and not looked for again
    short.learn_history(rows)
    assert short.expected_duration is None and short.history_read
