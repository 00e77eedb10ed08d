"""BaasExecutionSensor with a fake task context against the simulator (real HTTP, no metadata DB)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_baas._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferred,
)
from airflow_provider_baas.errors import (
    BaasError,
    BaasExecutionFailed,
    BaasInvalidEvent,
    BaasLookupError,
    BaasValidationError,
)
from airflow_provider_baas.polling import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_NOT_FOUND_GRACE,
    PollingPolicy,
)
from airflow_provider_baas.reattach import STATE_KEY
from airflow_provider_baas.sensors.baas import BaasExecutionSensor
from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.triggers.baas import BaasExecutionTrigger
from tests.airflow_version import AIRFLOW_V_3

from ._support import FakeStateStore, FakeTI, make_context, rebuild_trigger, set_conn, single_event

pytestmark = pytest.mark.usefixtures("close_sessions")

PERM_DETAIL = "does not have DUMP access to HR.PAYROLL"
# What the framework passes to resume_execution when its own deferral timeout fires.
TIMEOUT_OUTCOMES = [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
DEFERRAL_TIMEOUT_ERROR = "Trigger timeout" if AIRFLOW_V_3 else "Trigger/execution timeout"


def sensor(**kwargs: Any) -> BaasExecutionSensor:
    options: dict[str, Any] = {
        "task_id": "wait_for_backup",
        "job_id": 34,
        "poke_interval": 0.2,
        "timeout": 30,
        "mode": "poke",
        "deferrable": False,
    }
    options.update(kwargs)
    return BaasExecutionSensor(**options)


def defer(s: BaasExecutionSensor, context: dict[str, Any]) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        s.execute(context)
    return info.value


def event(status: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "status": status,
        "message": f"BaaS execution 1001 of job 34: {status}",
        "job_id": "34",
        "execution_id": "1001",
        "site_id": "demo-site",
        "execution": {"execution_id": "1001", "status": "SUCCESSFUL"} if status == "success" else None,
        "elapsed_seconds": 1.0,
    }
    payload.update(changes)
    return payload


# ---------------------------------------------------------------------------------------------
# Construction


def test_exactly_one_of_job_id_and_job_name() -> None:
    with pytest.raises(BaasValidationError):
        BaasExecutionSensor(task_id="s", job_id=34, job_name="daily_warehouse_backup")
    with pytest.raises(BaasValidationError):
        BaasExecutionSensor(task_id="s")


def test_construction_sends_nothing(sim: BaasSimulator) -> None:
    sensor(job_id=None, job_name="daily_warehouse_backup", deferrable=True)
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------
# Poke mode


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s: the first poke sees it running, even on a busy machine
def test_poke_mode_returns_the_record(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    s = sensor(execution_id=execution_id)
    assert not s.poke(make_context())  # still running
    record = s.execute(make_context())  # the base sensor loop, with our poke intervals
    assert record["execution_id"] == execution_id and record["status"] == "SUCCESSFUL"
    json.dumps(record)


@pytest.mark.sim(time_scale=36000)
def test_poke_returns_a_poke_return_value_with_the_record(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    sim.advance(7300)
    result = sensor(execution_id=execution_id).poke(make_context())
    assert result.is_done is True
    assert result.xcom_value["execution_id"] == execution_id
    assert result.xcom_value["status"] == "SUCCESSFUL"


@pytest.mark.sim(time_scale=36000)
@pytest.mark.parametrize("soft_fail", [False, True])
def test_failed_execution_fails_even_with_soft_fail(sim: BaasSimulator, soft_fail: bool) -> None:
    execution_id = sim.start_execution(37)
    with pytest.raises(BaasExecutionFailed) as info:
        sensor(job_id=37, execution_id=execution_id, soft_fail=soft_fail).execute(make_context())
    assert PERM_DETAIL in str(info.value)
    assert not isinstance(info.value, AirflowSkipException)


@pytest.mark.sim(time_scale=36000)
def test_never_fail_is_the_explicit_opt_in_to_skip(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(37)
    with pytest.raises(AirflowSkipException):
        sensor(job_id=37, execution_id=execution_id, never_fail=True).execute(make_context())


@pytest.mark.sim(time_scale=3600)
def test_wrong_token_fails_even_with_soft_fail(sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id = set_conn(monkeypatch, sim, "baas_wrong", password="nope-nope")
    s = sensor(execution_id="1001", soft_fail=True, baas_conn_id=conn_id)
    with pytest.raises(BaasError, match="401"):
        s.execute(make_context())
    assert len(sim.requests) == 1


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s
@pytest.mark.parametrize(
    ("soft_fail", "expected"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_poke_mode_timeout(sim: BaasSimulator, soft_fail: bool, expected: type[Exception]) -> None:
    execution_id = sim.start_execution(34)
    with pytest.raises(expected):
        sensor(execution_id=execution_id, timeout=0.5, soft_fail=soft_fail).execute(make_context())


@pytest.mark.sim(time_scale=0)
def test_default_execution_is_the_jobs_latest(sim: BaasSimulator) -> None:
    latest = sim.start_execution(34)
    s = sensor()  # no execution_id
    assert not s.poke(make_context())
    sim.advance(7300)
    result = s.poke(make_context())
    assert result.xcom_value["execution_id"] == latest


@pytest.mark.sim(time_scale=0)
def test_default_execution_by_job_name(sim: BaasSimulator) -> None:
    newest = sim.executions(34)[0]["execution_id"]  # yesterday's run, SUCCESSFUL
    result = sensor(job_id=None, job_name="daily_warehouse_backup").poke(make_context())
    assert result.xcom_value["execution_id"] == newest


@pytest.mark.sim(time_scale=0)
def test_job_that_never_ran_has_nothing_to_wait_for(sim: BaasSimulator) -> None:
    with pytest.raises(BaasLookupError, match="no execution"):
        sensor(job_id=45).poke(make_context())


def test_next_poke_interval_follows_the_polling_policy() -> None:
    s = sensor(poke_interval=60)
    policy = PollingPolicy(poll_interval=60)

    def interval(elapsed: float) -> float:
        return s._get_next_poke_interval(time.monotonic(), lambda: elapsed, 1)

    assert interval(0) == 15  # the documented first interval
    assert interval(100) == pytest.approx(20)
    assert interval(10_000) == 60
    for elapsed in (0, 10, 50, 150, 299, 300, 3600):
        assert interval(elapsed) == policy.next_wait(elapsed)
    waits = [interval(e) for e in range(0, 600, 10)]
    assert waits == sorted(waits)


# ---------------------------------------------------------------------------------------------
# Deferrable


@pytest.mark.sim(time_scale=7200)
async def test_deferrable_success(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    s = sensor(execution_id=execution_id, deferrable=True, timeout=120)
    t0 = time.time()
    deferred = defer(s, make_context())
    trigger = deferred.trigger
    assert isinstance(trigger, BaasExecutionTrigger)
    assert deferred.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    json.dumps(kwargs)
    assert (kwargs["job_id"], kwargs["execution_id"]) == ("34", execution_id)
    assert t0 + 120 <= kwargs["deadline"] <= time.time() + 120  # now + timeout, absolute
    assert deferred.timeout is not None and deferred.timeout.total_seconds() >= 115
    payload = await single_event(rebuild_trigger(trigger))
    record = s.execute_complete(make_context(), payload)
    assert record["execution_id"] == execution_id and record["status"] == "SUCCESSFUL"


@pytest.mark.sim(time_scale=1_000_000)
def test_deferrable_finished_execution_needs_no_trigger(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(46)
    time.sleep(0.01)
    record = sensor(job_id=46, execution_id=execution_id, deferrable=True).execute(make_context())
    assert record["status"] == "SUCCESSFUL"


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s
@pytest.mark.parametrize(
    ("soft_fail", "expected"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
async def test_deferrable_timeout(sim: BaasSimulator, soft_fail: bool, expected: type[Exception]) -> None:
    execution_id = sim.start_execution(34)
    s = sensor(execution_id=execution_id, deferrable=True, timeout=0.5, soft_fail=soft_fail)
    payload = await single_event(rebuild_trigger(defer(s, make_context()).trigger))
    assert payload["status"] == "timeout"
    with pytest.raises(expected):
        s.execute_complete(make_context(), payload)
    with pytest.raises(expected):  # the way the task runner resumes it
        s.resume_execution("execute_complete", {"event": payload}, make_context())


@pytest.mark.sim(time_scale=36000)
async def test_deferrable_failed_event_with_soft_fail_is_a_failure(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(37)
    time.sleep(0.01)
    s = sensor(job_id=37, execution_id=execution_id, deferrable=True, soft_fail=True)
    # Build the trigger directly: the first poke would see the failure before deferring.
    trigger = BaasExecutionTrigger(job_id="37", execution_id=execution_id, poll_interval=0.2)
    payload = await single_event(trigger)
    assert payload["status"] == "failed"
    with pytest.raises(BaasExecutionFailed) as info:
        s.execute_complete(make_context(), payload)
    assert PERM_DETAIL in str(info.value)
    with pytest.raises(BaasExecutionFailed):
        s.resume_execution("execute_complete", {"event": payload}, make_context())


@pytest.mark.parametrize("status", ["failed", "error"])
def test_resume_with_a_failure_and_soft_fail_still_raises(status: str) -> None:
    s = sensor(soft_fail=True)
    with pytest.raises(BaasError) as info:
        s.resume_execution("execute_complete", {"event": event(status)}, make_context())
    assert not isinstance(info.value, AirflowSkipException)
    if status == "failed":
        assert isinstance(info.value, BaasExecutionFailed)


@pytest.mark.parametrize("soft_fail", [False, True])
def test_resume_with_an_invalid_event_is_a_failure(soft_fail: bool) -> None:
    s = sensor(soft_fail=soft_fail)
    with pytest.raises(BaasInvalidEvent):
        s.resume_execution("execute_complete", {"event": {"status": "bogus"}}, make_context())
    with pytest.raises(BaasInvalidEvent):
        s.execute_complete(make_context(), None)


def test_resume_success_returns_the_record() -> None:
    record = sensor(soft_fail=True).resume_execution("execute_complete", {"event": event("success")}, None)
    assert record == {"execution_id": "1001", "status": "SUCCESSFUL"}


@pytest.mark.parametrize(
    ("soft_fail", "expected"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_framework_deferral_timeout_is_a_sensor_timeout(soft_fail: bool, expected: type[Exception]) -> None:
    s = sensor(soft_fail=soft_fail)
    with pytest.raises(expected):
        s.resume_execution("__fail__", {"error": DEFERRAL_TIMEOUT_ERROR}, make_context())


def test_trigger_failure_with_soft_fail_is_not_skipped() -> None:
    s = sensor(soft_fail=True)
    with pytest.raises(Exception) as info:
        s.resume_execution("__fail__", {"error": "Trigger failure"}, make_context())
    assert not isinstance(info.value, AirflowSkipException | AirflowSensorTimeout)


@pytest.mark.sim(time_scale=3600)
async def test_deferrable_execution_timeout_bounds_the_trigger_deadline(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    start = datetime.now(UTC)
    context = make_context(FakeTI(start_date=start))
    s = sensor(
        execution_id=execution_id, deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=1)
    )
    deferred = defer(s, context)
    assert deferred.trigger.serialize()[1]["deadline"] <= start.timestamp() + 1
    payload = await single_event(rebuild_trigger(deferred.trigger))
    with pytest.raises(AirflowTaskTimeout):
        s.execute_complete(context, payload)


# ---------------------------------------------------------------------------------------------
# Reschedule mode: every poke is a new sensor; the task instance's memory carries the wait


def reschedule_poke(store: FakeStateStore, **kwargs: Any) -> Any:
    """One poke as reschedule mode runs it: a fresh sensor, the task instance's store."""
    return sensor(mode="reschedule", **kwargs).poke(make_context(store=store))


@pytest.mark.sim(time_scale=0)
def test_reschedule_keeps_waiting_for_the_execution_it_resolved(sim: BaasSimulator) -> None:
    sim.set_outcome(34, ["FAILED", "SUCCESSFUL"])
    failing = sim.start_execution(34)
    store = FakeStateStore()
    assert not reschedule_poke(store)  # resolves the job's latest: `failing`, still running
    sim.advance(7300)  # it fails, then a newer run succeeds
    newer = sim.start_execution(34)
    sim.advance(7300)
    assert sim.execution(newer)["status"] == "SUCCESSFUL"

    with pytest.raises(BaasExecutionFailed, match=failing):
        reschedule_poke(store)


@pytest.mark.sim(time_scale=0)
def test_reschedule_forgets_the_resolved_execution_when_it_succeeds(sim: BaasSimulator) -> None:
    first = sim.start_execution(34)
    store = FakeStateStore()
    assert not reschedule_poke(store)
    sim.advance(7300)
    assert reschedule_poke(store).xcom_value["execution_id"] == first
    assert store.data == {}
    second = sim.start_execution(34)  # the task is cleared, a new backup ran
    sim.advance(7300)
    assert reschedule_poke(store).xcom_value["execution_id"] == second


@pytest.mark.sim(time_scale=0)
def test_reschedule_ends_the_not_found_grace_of_a_bad_execution_id(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    assert not reschedule_poke(store, execution_id="None")  # a template that rendered None
    watch = store.data[STATE_KEY]["watch"]
    watch["first_poke"] -= DEFAULT_NOT_FOUND_GRACE + 1  # reschedules went on past the grace

    with pytest.raises(BaasError, match="not found"):
        reschedule_poke(store, execution_id="None")


@pytest.mark.sim(time_scale=0, faults=[{"kind": "status", "status": 503, "method": "GET", "count": None}])
def test_reschedule_spends_one_error_budget(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    for _ in range(DEFAULT_MAX_CONSECUTIVE_ERRORS):
        assert not reschedule_poke(store, execution_id="1001")
    with pytest.raises(BaasError, match="giving up after 11 failed polls"):
        reschedule_poke(store, execution_id="1001")


def test_poke_interval_zero_is_refused_at_construction() -> None:
    with pytest.raises(BaasValidationError, match="poke_interval"):
        sensor(poke_interval=0)


@pytest.mark.sim(time_scale=0)
def test_default_execution_is_the_newest_listed_when_the_summary_names_none(sim: BaasSimulator) -> None:
    from airflow_provider_baas.hooks.baas import BaasHook

    sim.summary_details = "none"
    executions = BaasHook().list_job_executions(34)
    newest = max(executions, key=lambda e: e.start_time).execution_id
    assert BaasHook().get_job(34).last_execution is None and len(executions) > 1

    assert sensor().poke(make_context()).xcom_value["execution_id"] == newest


@pytest.mark.sim(time_scale=0)
def test_a_healthy_reschedule_wait_remembers_no_error_streak(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    assert not reschedule_poke(store, execution_id=sim.start_execution(34))

    watch = store.data[STATE_KEY]["watch"]
    assert (watch["errors"], watch.get("errors_since")) == (0, None)
    assert watch["history_read"] is True  # the first poll read the listing: later pokes need not
    assert watch["expected"] > 0 and watch["spread"] >= 0.0  # job 34's usual duration, from its history


@pytest.mark.sim(time_scale=0)
def test_a_reschedule_wait_for_a_job_without_history_remembers_no_usual_duration(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    assert not reschedule_poke(store, job_id=45, execution_id=sim.start_execution(45))  # 45 never ran

    watch = store.data[STATE_KEY]["watch"]
    assert (watch.get("expected"), watch["spread"]) == (None, 0.0)


@pytest.mark.sim(time_scale=0)
def test_a_reschedule_poke_after_the_history_was_read_spends_one_request(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    execution_id = sim.start_execution(34)
    assert not reschedule_poke(store, execution_id=execution_id)
    sent = len(sim.requests)

    assert not reschedule_poke(store, execution_id=execution_id)

    assert len(sim.requests) - sent == 1


@pytest.mark.sim(time_scale=0, faults=[{"kind": "status", "status": 503, "method": "GET", "count": None}])
def test_a_failed_reschedule_poke_remembers_since_when_the_wait_has_had_no_good_poll(
    sim: BaasSimulator,
) -> None:
    """The error budget's time limit counts from the last good poll, or the wait's start: a
    reschedule must not lose it, or a long outage would never end the wait by time."""
    store = FakeStateStore()
    before = time.time()
    assert not reschedule_poke(store, execution_id="1001")

    watch = store.data[STATE_KEY]["watch"]
    assert watch["errors"] == 1
    assert before <= watch["first_poke"] <= watch["errors_since"] <= time.time()


@pytest.mark.sim(time_scale=0)
def test_default_execution_is_the_running_one_when_the_summary_shows_only_finished(
    sim: BaasSimulator,
) -> None:
    from airflow_provider_baas.hooks.baas import BaasHook

    sim.summary_details = "finished"
    finished = sim.executions(34)[0]["execution_id"]  # yesterday's run, SUCCESSFUL
    running = sim.start_execution(34)
    assert BaasHook().get_job(34).last_execution.execution_id == finished
    s = sensor()  # no execution_id
    assert not s.poke(make_context())  # waits for today's run, not yesterday's success
    sim.advance(7300)
    result = s.poke(make_context())
    assert result.xcom_value["execution_id"] == running
