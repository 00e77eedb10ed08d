"""Unit tests of the decision rules that a one-spot mutation used to slip past (issue 20).

Each test pins one rule that changes a real decision: which backup is fresh, which execution an
earlier try started, which errors are worth waiting out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_baas import polling
from airflow_provider_baas.errors import (
    BaasExecuteOutcomeUnknown,
    BaasExecutionNotFound,
    BaasServerError,
    BaasTransportSetupError,
    BaasValidationError,
)
from airflow_provider_baas.freshness import (
    FRESH_CHOICE,
    JOIN,
    STALE,
    START,
    FreshnessWatch,
    execution_to_join_after_conflict,
    judge_freshness,
)
from airflow_provider_baas.models import (
    Execution,
    executions_a_request_may_have_started,
    executions_started_since,
)
from airflow_provider_baas.polling import (
    ERROR,
    FRESH,
    TIMEOUT,
    WAIT,
    Decision,
    ExecutionWatch,
    PollingPolicy,
    is_transient,
    log_wait,
)
from airflow_provider_baas.reattach import (
    EarlierStart,
    ExecutionLedger,
    pick_earlier_execution,
    variable_name,
)
from airflow_provider_baas.status import Outcome, StatusPolicy

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = StatusPolicy.build()


def execution(
    execution_id: str,
    status: str,
    started: float | None = None,
    ended: float | None = None,
    run_type: str | None = None,
) -> Execution:
    """An execution of job 7, its times given in seconds before NOW (None: not yet)."""
    return Execution.from_dict(
        {
            "execution_id": execution_id,
            "job_id": 7,
            "status": status,
            "start_time": None if started is None else (NOW - timedelta(seconds=started)).isoformat(),
            "end_time": None if ended is None else (NOW - timedelta(seconds=ended)).isoformat(),
            "run_type": run_type,
        }
    )


# --- judge_freshness -------------------------------------------------------------------------


def judge(executions: list[Execution], max_age: float = 600, trigger: bool = True, owned=None):
    return judge_freshness(executions, POLICY, max_age, NOW, trigger, owned)


def test_a_failed_execution_with_an_end_time_is_not_a_good_backup():
    verdict = judge([execution("f", "FAILED", started=100, ended=50)], trigger=False)

    assert verdict.kind is STALE
    assert verdict.reason == "newest execution f ended FAILED"


def test_the_newest_ending_good_backup_is_the_one_judged():
    old = execution("old", "SUCCESSFUL", started=5000, ended=4000)
    recent = execution("recent", "SUCCESSFUL", started=400, ended=300)

    verdict = judge([old, recent], trigger=False)

    assert verdict.kind is FRESH_CHOICE
    assert verdict.execution == recent


def test_a_good_backup_exactly_max_age_old_is_fresh():
    verdict = judge([execution("s", "SUCCESSFUL", started=700, ended=600)], max_age=600)

    assert verdict.kind is FRESH_CHOICE


def test_a_good_backup_older_than_max_age_is_stale():
    verdict = judge([execution("s", "SUCCESSFUL", started=700, ended=601)], max_age=600, trigger=False)

    assert verdict.kind is STALE
    assert "more than max_age" in verdict.reason


def test_without_any_good_backup_the_gate_starts_one():
    verdict = judge([])

    assert verdict.kind is START
    assert verdict.reason == "no successful backup on record; starting a backup"


def test_without_any_good_backup_and_no_trigger_the_gate_waits():
    verdict = judge([execution("q", "QUEUED")], trigger=False)

    assert verdict == type(verdict)(STALE, "no successful backup on record")


def test_a_running_backup_is_joined_not_duplicated():
    running = execution("r", "RUNNING", started=30)

    verdict = judge([execution("s", "SUCCESSFUL", started=9000, ended=8000), running])

    assert verdict.kind is JOIN
    assert verdict.execution == running


def test_the_owned_running_execution_is_joined_before_a_newer_one():
    owned = execution("mine", "RUNNING", started=300)
    newer = execution("theirs", "RUNNING", started=10)

    assert judge([owned, newer], owned="mine").execution == owned
    assert judge([owned, newer]).execution == newer


def test_a_fresh_backup_is_not_trusted_when_the_newest_run_failed_and_may_trigger():
    good = execution("s", "SUCCESSFUL", started=200, ended=100)
    failed = execution("f", "FAILED", started=50, ended=40)

    assert judge([good, failed]).kind is START
    assert judge([good, failed], trigger=False).kind is FRESH_CHOICE


# --- pick_earlier_execution ------------------------------------------------------------------


def earlier(**kwargs) -> EarlierStart:
    fields = {"execution_id": None, "not_before": NOW - timedelta(seconds=120), "source": "test"}
    return EarlierStart(**{**fields, **kwargs})


def test_a_known_execution_id_is_followed_even_when_others_started_later():
    ours = execution("ours", "RUNNING", started=100)
    later = execution("later", "RUNNING", started=10)

    assert pick_earlier_execution(earlier(execution_id="ours"), [later, ours]) == ours


def test_a_known_execution_id_that_is_not_listed_picks_nothing():
    assert (
        pick_earlier_execution(earlier(execution_id="gone"), [execution("x", "RUNNING", started=10)]) is None
    )


def test_two_queued_new_executions_cannot_be_told_apart():
    queued = [execution("q1", "QUEUED"), execution("q2", "QUEUED")]

    with pytest.raises(BaasExecuteOutcomeUnknown, match="q1, q2"):
        pick_earlier_execution(earlier(known_before=()), queued)


def test_a_queued_execution_of_unknown_age_is_not_adopted():
    with pytest.raises(BaasExecuteOutcomeUnknown, match="queued executions q1"):
        pick_earlier_execution(earlier(), [execution("q1", "QUEUED")])


def test_one_queued_new_execution_is_the_earlier_tries():
    queued = execution("q1", "QUEUED")

    assert (
        pick_earlier_execution(earlier(known_before=("old",)), [execution("old", "QUEUED"), queued]) == queued
    )


def test_without_known_before_the_newest_start_is_the_last_tries():
    first = execution("first", "FAILED", started=100, ended=90)
    last = execution("last", "RUNNING", started=20)

    assert pick_earlier_execution(earlier(), [last, first]) == last
    assert pick_earlier_execution(earlier(), [first, last]) == last


def test_an_execution_started_before_the_earlier_post_is_never_picked():
    assert pick_earlier_execution(earlier(), [execution("old", "RUNNING", started=121)]) is None
    assert pick_earlier_execution(earlier(), [execution("edge", "RUNNING", started=120)]) is not None


class _Store:
    """The task state store's get/set, in memory."""

    def __init__(self) -> None:
        self.values: dict = {}

    def get(self, key):
        return self.values.get(key)

    def set(self, key, value):
        self.values[key] = value


def test_the_clock_skew_widens_the_send_time_backwards():
    store = _Store()
    ledger = ExecutionLedger({"task_state_store": store}, "7", "s")
    ledger.remember_sending(NOW)

    remembered = ledger.earlier_start()

    assert remembered is not None
    assert remembered.not_before == NOW - timedelta(seconds=60)  # a literal: fails if the skew changes


# --- is_transient, status words, budget, "since" edge ----------------------------------------


def test_a_transport_setup_error_is_not_transient():
    assert not is_transient(BaasTransportSetupError("GET", "/sites/s/jobs/7", "certificate verify failed"))


@pytest.mark.parametrize("word", ["CANCELED", "CANCELLED", "canceled"])
def test_both_spellings_of_cancelled_are_failures(word):
    assert POLICY.classify(word) is Outcome.FAILED


def test_the_default_error_budget_is_ten_consecutive_errors():
    assert polling.DEFAULT_MAX_CONSECUTIVE_ERRORS == 10
    assert ExecutionWatch.__dataclass_fields__["max_consecutive_errors"].default == 10


def test_an_execution_started_exactly_at_since_counts():
    at = execution("at", "RUNNING", started=60)
    before = execution("before", "RUNNING", started=61)

    assert executions_started_since([at, before], NOW - timedelta(seconds=60)) == [at]


def test_queued_executions_count_as_started_since():
    queued = execution("q", "QUEUED")

    assert executions_started_since([queued], NOW) == [queued]


def test_a_request_may_have_started_only_what_started_since_and_was_not_listed_before():
    since = NOW - timedelta(seconds=60)
    old = execution("old", "SUCCESSFUL", started=61, ended=30)
    edge = execution("edge", "RUNNING", started=60)
    listed = execution("listed", "RUNNING", started=10)
    queued = execution("q", "QUEUED")

    assert executions_a_request_may_have_started([old, edge, listed, queued], since) == [edge, listed]
    assert executions_a_request_may_have_started(
        [old, edge, listed, queued], since, None, known_before=["listed"]
    ) == [edge, queued]


def test_a_request_never_started_an_execution_of_another_run_type():
    since = NOW - timedelta(seconds=60)
    full = execution("full", "RUNNING", started=10, run_type=" full ")
    delta = execution("delta", "RUNNING", started=10, run_type="DELTA")
    untyped = execution("untyped", "RUNNING", started=10)

    assert executions_a_request_may_have_started([full, delta, untyped], since, "FULL") == [full, untyped]
    assert executions_a_request_may_have_started([full, delta, untyped], since, " ") == [full, delta, untyped]


def test_a_status_policy_is_immutable():
    """Trigger kwargs and the gate share one policy object; nobody may change it under them."""
    policy = StatusPolicy.build()

    with pytest.raises(AttributeError):
        policy.success = frozenset({"FAILED"})  # type: ignore[misc]


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _default_watch(clock: _Clock) -> ExecutionWatch:
    return ExecutionWatch(job_id="7", execution_id="1", started_at=clock(), clock=clock)


def test_the_default_error_window_is_fifteen_minutes_since_the_last_good_poll():
    error = BaasServerError(503, "GET", "/sites/s/jobs/7", "Service Unavailable")
    clock = _Clock()
    watch = _default_watch(clock)

    clock.now += 900
    assert watch.observe_error(error).state == WAIT
    clock.now += 1
    assert watch.observe_error(error).state == ERROR


def test_the_default_not_found_grace_is_five_minutes_after_the_start():
    not_found = BaasExecutionNotFound(404, "GET", "/sites/s/jobs/7/executions", "execution 1 not found")
    clock = _Clock()
    watch = _default_watch(clock)

    clock.now += 299
    assert watch.observe_error(not_found).state == WAIT
    clock.now += 1
    assert watch.observe_error(not_found).state == ERROR


def test_stale_and_start_verdicts_name_no_execution():
    """Only FRESH and JOIN are about an execution; a caller must not wait for one otherwise."""
    assert judge([], trigger=False).execution is None
    assert judge([]).execution is None


# --- after a 409 on execute, the gate's wait ------------------------------------------------


def test_after_a_conflict_the_running_execution_is_joined():
    running = execution("r", "RUNNING", started=30)

    assert execution_to_join_after_conflict([running], POLICY, NOW) == running


def test_after_a_conflict_the_latest_success_that_ended_since_the_refusal_is_joined():
    """Within the clock skew before the refusal counts (it was running then); before, it does not."""
    early = execution("early", "SUCCESSFUL", started=300, ended=60)
    late = execution("late", "SUCCESSFUL", started=200, ended=10)
    too_old = execution("old", "SUCCESSFUL", started=300, ended=61)

    assert execution_to_join_after_conflict([late, early], POLICY, NOW) == late
    assert execution_to_join_after_conflict([early, late], POLICY, NOW) == late
    assert execution_to_join_after_conflict([early], POLICY, NOW) == early
    assert execution_to_join_after_conflict([too_old], POLICY, NOW) is None


def test_after_a_conflict_a_failed_execution_is_never_joined():
    assert (
        execution_to_join_after_conflict([execution("f", "FAILED", started=30, ended=5)], POLICY, NOW) is None
    )


def test_a_freshness_watch_passes_on_a_fresh_backup_and_waits_otherwise():
    clock = _Clock()
    clock.now = NOW.timestamp()
    watch = FreshnessWatch(job_id="7", execution_id="", started_at=clock(), clock=clock, max_age=600)

    assert watch.observe_listing([execution("old", "SUCCESSFUL", started=900, ended=700)]).state == WAIT
    decision = watch.observe_listing([execution("new", "SUCCESSFUL", started=200, ended=100)])
    assert decision.state == FRESH
    assert decision.execution is not None and decision.execution["execution_id"] == "new"


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, fmt, *args):
        self.lines.append(("info", fmt % args))

    def debug(self, fmt, *args):
        self.lines.append(("debug", fmt % args))


def test_a_wait_worth_reporting_is_logged_at_info_and_the_others_at_debug():
    log = _Log()

    log_wait(log, Decision(WAIT, "still RUNNING", wait=15, report=True))
    log_wait(log, Decision(WAIT, "still RUNNING", wait=15, report=False))

    assert log.lines == [("info", "still RUNNING"), ("debug", "still RUNNING")]


def test_a_good_listing_resets_the_freshness_watchs_error_streak():
    error = BaasServerError(503, "GET", "/sites/s/jobs/7/executions", "Service Unavailable")
    clock = _Clock()
    clock.now = NOW.timestamp()
    watch = FreshnessWatch(
        job_id="7", execution_id="", started_at=clock(), clock=clock, max_age=60, max_consecutive_errors=1
    )

    assert watch.observe_error(error).state == WAIT
    assert watch.observe_listing([]).state == WAIT
    assert watch.observe_error(error).state == WAIT


def test_a_verdict_is_immutable():
    verdict = judge([])

    with pytest.raises(AttributeError):
        verdict.kind = FRESH_CHOICE  # type: ignore[misc]


def test_a_timeout_before_any_poll_claims_no_last_status():
    clock = _Clock()
    watch = ExecutionWatch(job_id="7", execution_id="1", started_at=clock(), clock=clock, deadline=clock())

    decision = watch.check_deadline()

    assert decision is not None and decision.state == TIMEOUT
    assert "last status" not in decision.message


def test_a_freshness_watch_passes_on_a_fresh_backup_even_after_a_newer_failure():
    """It cannot start a backup, so a later failed run does not make the good one unusable."""
    clock = _Clock()
    clock.now = NOW.timestamp()
    watch = FreshnessWatch(job_id="7", execution_id="", started_at=clock(), clock=clock, max_age=600)
    good = execution("good", "SUCCESSFUL", started=200, ended=100)
    failed = execution("failed", "FAILED", started=50, ended=40)

    assert watch.observe_listing([good, failed]).state == FRESH


def test_after_a_conflict_an_execution_without_an_end_time_that_no_longer_runs_is_skipped():
    aborted = execution("a", "ABORTED", started=30)

    assert execution_to_join_after_conflict([aborted], POLICY, NOW) is None


def test_a_long_variable_name_is_cut_to_airflows_250_character_key_limit():
    name = variable_name("d" * 200, "t" * 100, "r", 0)

    assert len(name) == 250
    assert name != variable_name("d" * 200, "t" * 100, "r", 1)


def test_a_ledger_without_a_task_instance_remembers_nothing_and_does_not_fail():
    ledger = ExecutionLedger({}, "7", "s")

    ledger.remember_sending(NOW)

    assert ledger.earlier_start() is None


def test_a_variable_name_of_exactly_250_characters_is_kept_readable():
    prefix = len(variable_name("", "t", "r", 0))  # the name with an empty dag id
    name = variable_name("d" * (250 - prefix), "t", "r", 0)

    assert len(name) == 250
    assert name.endswith(".t.r.0")


@pytest.mark.parametrize(
    ("frozen", "field"),
    [
        (PollingPolicy(), "poll_interval"),
        (Decision(WAIT, "still RUNNING"), "wait"),
        (polling.ExpectedDuration(3600.0), "typical"),
    ],
)
def test_polling_policies_and_decisions_are_immutable(frozen, field):
    """Shared by every wait of a trigger, and passed between layers: nobody may change them."""
    with pytest.raises(AttributeError):
        setattr(frozen, field, 1.0)


def test_the_default_max_poll_gap_is_eight_poll_intervals():
    """README: 8 poll intervals, 10 min with the default 75 s (literals: changing the factor fails)."""
    assert PollingPolicy().max_poll_gap == 600
    assert PollingPolicy(poll_interval=30).max_poll_gap == 240


def test_a_bare_expected_duration_has_no_spread():
    """Trigger kwargs and callers may pass a number: the job is then expected to end at that time."""
    expected = polling.as_expected(3600)

    assert expected is not None
    assert (expected.earliest, expected.latest) == (3600.0, 3600.0)


def _history_watch(clock: _Clock) -> ExecutionWatch:
    """A wait that begins now for a job whose successful runs all took an hour."""
    expected = polling.ExpectedDuration(3600.0)
    return ExecutionWatch(
        job_id="7", execution_id="1", started_at=clock(), clock=clock, expected_duration=expected
    )


def test_with_a_history_the_schedule_counts_from_the_executions_start():
    """A wait that joins a backup running for 55 min polls 5 min later, when it usually ends."""
    clock = _Clock()
    started = datetime.fromtimestamp(clock() - 3300, UTC).isoformat()
    running = Execution.from_dict(
        {"execution_id": "1", "job_id": 7, "status": "RUNNING", "start_time": started}
    )

    assert _history_watch(clock).observe(running).wait == 300


def test_with_a_history_and_no_start_time_yet_the_schedule_counts_from_the_wait():
    """Queued: the hour is still ahead, so the wait polls at most every max_poll_gap (10 min)."""
    clock = _Clock()
    queued = Execution.from_dict({"execution_id": "1", "job_id": 7, "status": "QUEUED"})

    assert _history_watch(clock).observe(queued).wait == 600


def test_a_wait_on_the_listing_reads_the_summary_again_every_recheck_every_polls():
    choice = polling.LookupChoice(polling.Lookup.LISTING, recheck_every=3)
    chosen = []
    for _ in range(4):
        chosen.append(choice.next())
        choice.learn(None if chosen[-1] is polling.Lookup.LISTING else False)

    assert chosen == [
        polling.Lookup.LISTING,
        polling.Lookup.LISTING,
        polling.Lookup.SUMMARY,
        polling.Lookup.LISTING,
    ]


def test_a_history_of_no_particular_run_type_counts_every_successful_run():
    runs = [
        execution("a", "SUCCESSFUL", started=1000, ended=900, run_type="FULL"),
        execution("b", "SUCCESSFUL", started=2000, ended=1800, run_type="DELTA"),
        execution("c", "SUCCESSFUL", started=3000, ended=2700, run_type="FULL"),
        execution("d", "FAILED", started=4000, ended=3000, run_type="FULL"),
    ]

    assert polling.ExpectedDuration.from_history(runs, POLICY) == polling.ExpectedDuration(200.0, 100.0)


@pytest.mark.parametrize("unknown", [0, -5, None])
def test_an_expected_duration_of_zero_or_less_is_unknown(unknown):
    """Not "ends at once": the schedule without a history applies."""
    assert polling.as_expected(unknown) is None


def test_a_jobs_history_is_searched_once_per_wait_even_when_too_short():
    """A job with too few successful runs is not searched for a history on every poll."""
    clock = _Clock()
    watch = ExecutionWatch(job_id="7", execution_id="1", started_at=clock(), clock=clock)
    assert watch.wants_history

    watch.learn_history([execution("1", "RUNNING", started=10), execution("0", "SUCCESSFUL", 5000, 1400)])

    assert watch.expected_duration is None
    assert not watch.wants_history


def test_with_a_history_the_waits_land_on_the_usual_end_even_when_it_is_under_a_second_away():
    policy = PollingPolicy(poll_interval=10, first_interval=0.1)

    assert policy.next_wait(99.5, polling.ExpectedDuration(100.0)) == pytest.approx(0.5)


def test_two_waiting_triggers_already_share_a_wake_up_grid():
    assert polling.wake_grid(0.1, 2) == 0.25  # 8 x 0.1 s / 2 waits, rounded down to a power of two
    assert polling.wake_grid(0.1, 1) == 0.0


def _learned(own: Execution | None, others: list[Execution]) -> polling.ExpectedDuration | None:
    clock = _Clock()
    watch = ExecutionWatch(job_id="7", execution_id="1", started_at=clock(), clock=clock)
    watch.learn_history([own, *others] if own is not None else others)
    return watch.expected_duration


def test_a_listing_poll_learns_from_runs_of_its_own_run_type_only():
    full = [
        execution(f"f{i}", "SUCCESSFUL", started=9000 - i, ended=8900 - i, run_type="FULL") for i in range(3)
    ]
    delta = [execution(f"d{i}", "SUCCESSFUL", started=5000, ended=4000, run_type="DELTA") for i in range(4)]

    assert _learned(execution("1", "RUNNING", started=10, run_type="FULL"), delta + full) == (
        polling.ExpectedDuration(100.0)
    )
    assert _learned(None, full + delta) == polling.ExpectedDuration(1000.0, 900.0)  # ours not listed: all


def test_a_start_time_ahead_of_the_workers_clock_counts_as_just_started():
    """The server's clock may run ahead: the schedule never counts negative time."""
    clock = _Clock()
    ahead = datetime.fromtimestamp(clock() + 30, UTC).isoformat()
    running = Execution.from_dict(
        {"execution_id": "1", "job_id": 7, "status": "RUNNING", "start_time": ahead}
    )

    assert _history_watch(clock).observe(running).wait == 600


def test_with_a_history_the_waits_before_the_usual_end_are_equal_steps_that_land_on_it():
    """15 min before the usual end, with at most 10 min between polls: two steps of 7.5 min."""
    assert PollingPolicy().next_wait(2700, polling.ExpectedDuration(3600.0)) == 450


def test_a_max_poll_gap_under_a_second_is_valid_and_zero_is_refused():
    assert PollingPolicy(poll_interval=0.2, max_poll_gap=0.5).max_poll_gap == 0.5
    with pytest.raises(BaasValidationError, match="max_poll_gap must be positive"):
        PollingPolicy(max_poll_gap=0)


def test_without_a_history_the_schedule_counts_from_the_wait_not_the_execution():
    """The plain schedule: a wait that joins a long-running backup starts with short polls."""
    clock = _Clock()
    started = datetime.fromtimestamp(clock() - 3300, UTC).isoformat()
    running = Execution.from_dict(
        {"execution_id": "1", "job_id": 7, "status": "RUNNING", "start_time": started}
    )

    assert _default_watch(clock).observe(running).wait == 15


def test_a_wait_never_sleeps_past_its_deadline():
    clock = _Clock()
    watch = ExecutionWatch(
        job_id="7", execution_id="1", started_at=clock(), clock=clock, deadline=clock() + 0.5
    )

    assert watch.observe(execution("1", "RUNNING", started=10)).wait == 0.5


def test_a_timeout_after_a_failed_poll_carries_no_record():
    error = BaasServerError(503, "GET", "/sites/s/jobs/7", "Service Unavailable")
    clock = _Clock()
    watch = ExecutionWatch(job_id="7", execution_id="1", started_at=clock(), clock=clock, deadline=clock())

    decision = watch.observe_error(error)

    assert decision.state == TIMEOUT and decision.execution is None


def test_a_history_counts_only_runs_with_both_a_start_and_an_end():
    done = [execution(f"s{i}", "SUCCESSFUL", started=1000, ended=900) for i in range(3)]
    no_start = execution("x", "SUCCESSFUL", ended=100)
    no_end = execution("y", "SUCCESSFUL", started=5000)

    assert polling.ExpectedDuration.from_history(
        [no_start, no_end, *done], POLICY
    ) == polling.ExpectedDuration(100.0)


def test_sub_second_durations_are_usable_and_the_earliest_end_is_never_before_the_start():
    assert polling.as_expected(0.5) == polling.ExpectedDuration(0.5)
    assert polling.ExpectedDuration.from_durations([0.5, 0.5, 0.5]) == polling.ExpectedDuration(0.5)
    assert polling.ExpectedDuration(10.0, 30.0).earliest == 0.0
