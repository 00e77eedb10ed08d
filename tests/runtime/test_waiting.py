"""Unit tests of the wait's own decisions in ``waiting`` (issue 20): which durations are accepted,
which deadline binds a wait, what a trigger event means, and how a final decision ends the task.

The paths that need the hook (start or reattach, poll, defer) are tested against the simulator in
test_operator.py and test_sensor.py.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_baas._compat import AirflowTaskTimeout
from airflow_provider_baas.errors import (
    BaasError,
    BaasExecutionFailed,
    BaasInvalidEvent,
    BaasValidationError,
    BaasWaitTimeout,
)
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.polling import (
    ERROR,
    FAILED,
    FRESH,
    SUCCESS,
    TIMEOUT,
    WAIT,
    DeadlineKind,
    Decision,
    ExecutionWatch,
    LookupChoice,
    PollingPolicy,
)
from airflow_provider_baas.status import StatusPolicy
from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.waiting import (
    check_one_job_reference,
    conclude,
    decision_from_event,
    defer_timeout,
    make_trigger,
    poll_once,
    running_test,
    seconds,
    task_deadline,
    wait_deadline,
)

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOW = START.timestamp() + 100  # 100 s into the try


class _TI:
    def __init__(self, start_date: object = START) -> None:
        self.start_date = start_date


def context(start_date: object = START) -> dict:
    return {"ti": _TI(start_date)}


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, fmt, *args):
        self.lines.append(("info", fmt % args))

    def warning(self, fmt, *args):
        self.lines.append(("warning", fmt % args))

    def error(self, fmt, *args):
        self.lines.append(("error", fmt % args))


# --- seconds ---------------------------------------------------------------------------------


def test_a_duration_in_seconds_or_as_a_timedelta_becomes_float_seconds():
    assert seconds(None, "timeout") is None
    assert seconds(timedelta(minutes=2), "timeout") == 120.0
    assert seconds(5, "timeout") == 5.0 and isinstance(seconds(5, "timeout"), float)
    assert seconds(0.001, "timeout") == 0.001  # any positive duration, however short


@pytest.mark.parametrize(
    "value", [0, 0.0, -1, timedelta(0), timedelta(seconds=-5), True, False, "5", math.nan, math.inf]
)
def test_a_duration_that_is_not_positive_finite_seconds_is_refused(value):
    with pytest.raises(BaasValidationError, match=r"^poll_interval must be a positive, finite number"):
        seconds(value, "poll_interval")


# --- check_one_job_reference -----------------------------------------------------------------


@pytest.mark.parametrize(("job_id", "job_name"), [(None, None), (34, "nightly")])
def test_a_job_is_named_by_exactly_one_of_id_and_name(job_id, job_name):
    with pytest.raises(BaasValidationError, match="exactly one of job_id or job_name"):
        check_one_job_reference(job_id, job_name)


@pytest.mark.parametrize(("job_id", "job_name"), [(34, None), (None, "nightly"), (0, None), (None, "")])
def test_one_job_reference_is_enough(job_id, job_name):
    check_one_job_reference(job_id, job_name)  # a falsy id or name still counts as given


# --- running_test ----------------------------------------------------------------------------


def test_only_a_running_status_keeps_the_hook_polling():
    running = running_test(StatusPolicy.build())

    assert running("RUNNING") is True
    assert running("SUCCESSFUL") is False
    assert running("FAILED") is False


# --- poll_once ---------------------------------------------------------------------------------


def test_no_poll_is_sent_once_the_deadline_has_passed(sim: BaasSimulator):
    """A poll after the deadline could turn a timed-out wait into a success or failure."""
    watch = ExecutionWatch(job_id="34", execution_id="121", deadline=time.time() - 1)

    decision = poll_once(BaasHook(), watch, "demo-site", _Log())

    assert decision.state == TIMEOUT
    assert sim.requests == []


def test_a_failed_poll_the_wait_rides_out_is_logged_as_a_warning(sim: BaasSimulator):
    sim.add_fault(kind="status", status=503, method="GET", count=1)
    watch = ExecutionWatch(job_id="34", execution_id="121")
    log = _Log()

    decision = poll_once(BaasHook(), watch, "demo-site", log)

    assert decision.state == WAIT
    assert len(log.lines) == 1 and log.lines[0][0] == "warning"
    assert log.lines[0][1].startswith("Poll of BaaS execution 121 of job 34 failed (")
    assert "503" in log.lines[0][1] and log.lines[0][1].endswith("; retrying in 15.0s")


def test_a_failed_poll_without_a_log_is_still_ridden_out(sim: BaasSimulator):
    sim.add_fault(kind="status", status=503, method="GET", count=1)
    watch = ExecutionWatch(job_id="34", execution_id="121")

    assert poll_once(BaasHook(), watch, "demo-site").state == WAIT


def test_a_failed_poll_that_ends_the_wait_is_not_logged_as_retried(sim: BaasSimulator):
    sim.add_fault(kind="status", status=403, method="GET", count=1)
    watch = ExecutionWatch(job_id="34", execution_id="121")
    log = _Log()

    decision = poll_once(BaasHook(), watch, "demo-site", log)

    assert decision.state == ERROR
    assert log.lines == []


def test_a_poll_that_reads_the_listing_learns_the_jobs_usual_duration(sim: BaasSimulator):
    """The listing holds the job's history at no extra request: the schedule uses it from then on."""
    execution_id = sim.start_execution(34)
    watch = ExecutionWatch(job_id="34", execution_id=execution_id, lookup=LookupChoice.listing_once())

    decision = poll_once(BaasHook(), watch, "demo-site", _Log())

    assert decision.state == WAIT
    assert watch.history_read and watch.expected_duration is not None
    assert len(sim.requests) == 1


# --- make_trigger ----------------------------------------------------------------------------


def test_a_trigger_after_the_tasks_own_poll_waits_before_its_first():
    """The task has just polled: polling again at once would spend a request on the same answer."""
    watch = ExecutionWatch(job_id="34", execution_id="121", expected_duration=3600.0)
    before = time.time()

    kwargs = make_trigger(watch, "demo-site", "baas_default", PollingPolicy(), first_wait=30.0).serialize()[1]

    assert before + 30.0 <= kwargs["next_poll_at"] <= time.time() + 30.0
    assert (kwargs["expected_duration"], kwargs["duration_spread"]) == (3600.0, 0.0)


def test_a_trigger_without_a_first_wait_polls_at_once():
    watch = ExecutionWatch(job_id="34", execution_id="121")

    kwargs = make_trigger(watch, None, "baas_default", PollingPolicy()).serialize()[1]

    assert kwargs["next_poll_at"] is None
    assert (kwargs["expected_duration"], kwargs["duration_spread"]) == (None, 0.0)


# --- task_deadline and wait_deadline ---------------------------------------------------------


def test_the_task_deadline_is_the_try_start_plus_execution_timeout():
    assert task_deadline(context(), timedelta(minutes=30)) == START.timestamp() + 1800


@pytest.mark.parametrize(
    ("ctx", "execution_timeout"),
    [
        (context(), None),  # no execution_timeout
        (context(None), timedelta(minutes=30)),  # a try not started
        (context("2026-01-01T12:00:00+00:00"), timedelta(minutes=30)),  # not a datetime
        ({}, timedelta(minutes=30)),  # no task instance
        (object(), timedelta(minutes=30)),  # not a mapping
    ],
)
def test_without_a_start_and_an_execution_timeout_there_is_no_task_deadline(ctx, execution_timeout):
    assert task_deadline(ctx, execution_timeout) is None


def test_the_waits_own_timeout_binds_when_it_ends_first():
    deadline = wait_deadline(context(), 60, timedelta(minutes=30), now=NOW)

    assert deadline == (NOW + 60, DeadlineKind.TIMEOUT)


def test_execution_timeout_binds_when_it_ends_first():
    # The try started 100 s ago: 30 min of execution_timeout end before 1 h of wait.
    deadline = wait_deadline(context(), 3600, timedelta(minutes=30), now=NOW)

    assert deadline == (START.timestamp() + 1800, DeadlineKind.EXECUTION_TIMEOUT)


def test_when_both_end_at_once_the_waits_own_timeout_is_named():
    """The wait's timeout is the limit set on this wait; execution_timeout binds only when earlier."""
    deadline = wait_deadline(context(), 1700, timedelta(minutes=30), now=NOW)

    assert deadline == (START.timestamp() + 1800, DeadlineKind.TIMEOUT)


def test_execution_timeout_alone_is_the_deadline():
    assert wait_deadline(context(), None, timedelta(minutes=30), now=NOW) == (
        START.timestamp() + 1800,
        DeadlineKind.EXECUTION_TIMEOUT,
    )


def test_the_waits_own_timeout_alone_is_the_deadline():
    assert wait_deadline(context(), 60, None, now=NOW) == (NOW + 60, DeadlineKind.TIMEOUT)


def test_without_any_limit_a_wait_has_no_deadline():
    assert wait_deadline(context(), None, None, now=NOW) == (None, DeadlineKind.TIMEOUT)


def test_the_wait_deadline_counts_from_now_by_default():
    before = time.time()
    deadline, _ = wait_deadline({}, 60, None)

    assert before + 60 <= deadline <= time.time() + 60


# --- defer_timeout ---------------------------------------------------------------------------


def test_no_deadline_means_no_framework_timeout():
    assert defer_timeout(None) is None


def test_the_framework_timeout_is_the_time_left_plus_a_backstop():
    base = time.time()
    future = defer_timeout(base + 1000)
    past = defer_timeout(base - 50)  # a deadline already passed leaves only the backstop

    assert future is not None and past is not None
    assert past > timedelta(0)
    assert 999.5 < (future - past).total_seconds() <= 1000


# --- decision_from_event ---------------------------------------------------------------------


def event(**fields) -> dict:
    return {
        "status": SUCCESS,
        "execution_id": "121",
        "job_id": "34",
        "execution": {"status": "SUCCESSFUL"},
    } | fields


def test_a_success_event_carries_its_execution_record():
    decision = decision_from_event(event(message="execution 121 ended SUCCESSFUL"))

    assert decision == Decision(SUCCESS, "execution 121 ended SUCCESSFUL", execution={"status": "SUCCESSFUL"})


@pytest.mark.parametrize("state", [FAILED, TIMEOUT, ERROR])
def test_an_unsuccessful_event_needs_no_execution_record(state):
    decision = decision_from_event(event(status=state, execution=None, message=f"it is {state}"))

    assert (decision.state, decision.message, decision.execution) == (state, f"it is {state}", None)


def test_an_event_without_a_message_is_described_by_its_state():
    assert decision_from_event(event(status=FAILED)).message == FAILED


@pytest.mark.parametrize(
    "bad",
    [
        None,
        ["success"],
        event(status=WAIT),  # not final
        event(status=FRESH),  # the freshness trigger's event, not an execution's
        event(status="SUCCESSFUL"),  # a BaaS status, not a wait state
        event(execution_id=None),
        event(execution_id=""),
        event(execution=None),  # success without its record
        event(execution="121"),
    ],
)
def test_an_event_that_is_missing_or_unknown_is_never_a_success(bad):
    with pytest.raises(BaasInvalidEvent):
        decision_from_event(bad)


# --- conclude --------------------------------------------------------------------------------


def end(decision: Decision, kind: str = DeadlineKind.TIMEOUT, on_timeout=None) -> tuple[object, _Log]:
    log = _Log()
    return conclude(decision, "34", "121", kind, log, on_timeout), log


def test_success_returns_a_copy_of_the_record_and_logs_it():
    record = {"execution_id": "121", "status": "SUCCESSFUL"}

    result, log = end(Decision(SUCCESS, "execution 121 ended SUCCESSFUL", execution=record))

    assert result == record and result is not record
    assert log.lines == [("info", "execution 121 ended SUCCESSFUL")]


def test_success_without_a_record_returns_an_empty_one():
    assert end(Decision(SUCCESS, "done"))[0] == {}


def test_a_failure_raises_with_the_servers_detail():
    with pytest.raises(BaasExecutionFailed, match=r"^execution 121 ended FAILED: no DUMP access$"):
        end(Decision(FAILED, "execution 121 ended FAILED: no DUMP access"))


def test_an_error_raises_a_plain_provider_error():
    with pytest.raises(BaasError, match=r"^too many errors$") as raised:
        end(Decision(ERROR, "too many errors"))

    assert type(raised.value) is BaasError


def test_the_waits_timeout_raises_a_wait_timeout_and_says_the_backup_goes_on():
    log = _Log()

    with pytest.raises(BaasWaitTimeout, match=r"^gave up after 60 s$"):
        conclude(Decision(TIMEOUT, "gave up after 60 s"), "34", "121", DeadlineKind.TIMEOUT, log)

    assert len(log.lines) == 1 and log.lines[0][0] == "error"
    assert log.lines[0][1].startswith("gave up after 60 s ")
    assert "no cancel endpoint: execution 121 of job 34 goes on" in log.lines[0][1]


def test_the_waits_timeout_goes_to_the_sensors_handler_first():
    told = []

    def on_timeout(message: str) -> None:
        told.append(message)
        raise RuntimeError("the sensor's own exception")

    with pytest.raises(RuntimeError, match="the sensor's own exception"):
        end(Decision(TIMEOUT, "gave up after 60 s"), on_timeout=on_timeout)
    assert told == ["gave up after 60 s"]


def test_a_handler_that_returns_still_ends_in_a_wait_timeout():
    with pytest.raises(BaasWaitTimeout):
        end(Decision(TIMEOUT, "gave up"), on_timeout=lambda message: None)


def test_execution_timeout_raises_the_frameworks_task_timeout_not_the_handlers():
    handled = []

    with pytest.raises(AirflowTaskTimeout, match=r"^execution_timeout reached: gave up$"):
        end(Decision(TIMEOUT, "gave up"), kind=DeadlineKind.EXECUTION_TIMEOUT, on_timeout=handled.append)
    assert handled == []


@pytest.mark.parametrize("state", [WAIT, FRESH, "bogus"])
def test_a_decision_that_is_not_an_executions_end_is_refused(state):
    with pytest.raises(BaasInvalidEvent, match="Not a final decision"):
        end(Decision(state, "still RUNNING", wait=15))
