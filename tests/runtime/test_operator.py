"""BaasExecuteJobOperator with a fake task context against the simulator (real HTTP, no metadata DB)."""

from __future__ import annotations

import json
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import airflow_provider_baas.operators.baas as operator_module
from airflow_provider_baas._compat import AirflowTaskTimeout, TaskDeferred
from airflow_provider_baas.errors import (
    BaasConflictError,
    BaasError,
    BaasExecuteOutcomeUnknown,
    BaasExecutionFailed,
    BaasInvalidEvent,
    BaasLookupError,
    BaasValidationError,
    BaasWaitTimeout,
)
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator, BaasExecutionLink
from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

from ._support import (
    FakeStateStore,
    FakeTI,
    executes,
    job_gets,
    make_context,
    rebuild_trigger,
    record_log,
    single_event,
)

pytestmark = pytest.mark.usefixtures("close_sessions")

STATE_KEY = "baas_execution"
SITE = "demo-site"
PERM_DETAIL = "DSA job failed: [3523] The user BAR_ADMIN does not have DUMP access to HR.PAYROLL."


def operator(**kwargs: Any) -> BaasExecuteJobOperator:
    # A short wait timeout: a regression fails the test instead of hanging it (frozen simulators).
    options: dict[str, Any] = {"task_id": "backup", "job_id": 34, "poll_interval": 0.2, "timeout": 20}
    options["deferrable"] = False
    options.update(kwargs)
    return BaasExecuteJobOperator(**options)


def memory(
    sim: BaasSimulator,
    sent_at: datetime,
    execution_id: str | None = None,
    job_id: int = 34,
    known_before: list[str] | None = None,
) -> dict:
    value: dict[str, Any] = {"job_id": str(job_id), "site_id": SITE, "sent_at": sent_at.isoformat()}
    if execution_id is not None:
        value["execution_id"] = execution_id
    if known_before is not None:
        value["known_before"] = known_before
    return {STATE_KEY: value}


def defer(op: BaasExecuteJobOperator, context: dict[str, Any]) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    return info.value


# ---------------------------------------------------------------------------------------------
# Parameters: validated early, nothing sent while the DAG is parsed


def test_exactly_one_of_job_id_and_job_name() -> None:
    with pytest.raises(BaasValidationError, match="exactly one of job_id or job_name"):
        BaasExecuteJobOperator(task_id="t", job_id=34, job_name="daily_warehouse_backup")
    with pytest.raises(BaasValidationError, match="exactly one of job_id or job_name"):
        BaasExecuteJobOperator(task_id="t")


@pytest.mark.parametrize(
    "kwargs",
    [{"poll_interval": 0}, {"poll_interval": -5}, {"timeout": 0}, {"timeout": timedelta(seconds=-1)}],
)
def test_bad_durations_fail_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(BaasValidationError):
        operator(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": math.inf}, {"timeout": math.nan}, {"poll_interval": math.inf}, {"timeout": -math.inf}],
)
def test_non_finite_durations_fail_at_construction(kwargs: dict[str, Any], sim: BaasSimulator) -> None:
    """Not after the POST, on every retry (an infinite deadline overflowed the deferral timeout)."""
    with pytest.raises(BaasValidationError, match="finite"):
        operator(**kwargs)
    assert sim.requests == []


def test_durations_accept_timedelta(sim: BaasSimulator) -> None:
    op = operator(poll_interval=timedelta(seconds=30), timeout=timedelta(hours=2))
    assert (op.poll_interval, op.timeout) == (30.0, 7200.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"run_type": "INCREMENTAL"},
        {"run_type": ""},
        {"job_id": "abc"},
        {"job_id": 0},
        {"job_id": -3},
        {"job_id": "34/../35"},
        {"job_id": True},
    ],
)
def test_bad_input_fails_before_any_request(sim: BaasSimulator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(BaasValidationError):
        operator(**kwargs).execute(make_context())
    assert sim.requests == []


def test_construction_sends_nothing(sim: BaasSimulator) -> None:
    op = operator(job_id=None, job_name="daily_warehouse_backup", deferrable=True)
    assert op.job_name == "daily_warehouse_backup"
    assert sim.requests == []


@pytest.mark.sim(time_scale=3600)
def test_job_name_is_resolved_in_execute(sim: BaasSimulator) -> None:
    op = operator(job_id=None, job_name="daily_warehouse_backup", wait_for_completion=False)
    assert sim.requests == []
    execution_id = op.execute(make_context())
    assert sim.requests_matching("GET", r"/sites/demo-site/jobs$")  # the listing, at run time
    assert [r.path for r in executes(sim)] == ["/data-protection/v2/sites/demo-site/jobs/34/execute"]
    assert sim.execution(execution_id)["job_id"] == 34


def test_unknown_job_name_fails_without_starting_anything(sim: BaasSimulator) -> None:
    with pytest.raises(BaasLookupError, match="daily_warehouse_backupp"):
        operator(job_id=None, job_name="daily_warehouse_backupp").execute(make_context())
    assert executes(sim) == []


def test_defaults(sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    op = BaasExecuteJobOperator(task_id="t", job_id=34)
    assert op.wait_for_completion is True and op.reattach is True
    assert op.timeout == 24 * 3600.0
    assert op.deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert BaasExecuteJobOperator(task_id="t2", job_id=34).deferrable is True
    assert set(op.template_fields) >= {"job_id", "job_name", "site_id", "run_type"}


# ---------------------------------------------------------------------------------------------
# Starting and waiting (blocking)


@pytest.mark.sim(time_scale=3600)
def test_without_waiting_returns_the_execution_id(sim: BaasSimulator) -> None:
    ti = FakeTI()
    execution_id = operator(wait_for_completion=False, run_type="delta").execute(make_context(ti))
    assert isinstance(execution_id, str) and execution_id
    assert len(executes(sim)) == 1
    started = sim.execution(execution_id)
    assert started["status"] in ("QUEUED", "RUNNING") and started["run_type"] == "DELTA"
    assert ti.xcom("execution_id") == execution_id


@pytest.mark.sim(time_scale=36000)  # job 34 takes 0.2 s
def test_blocking_wait_returns_the_final_record(sim: BaasSimulator) -> None:
    ti = FakeTI()
    record = operator().execute(make_context(ti))
    assert isinstance(record, dict)
    assert json.loads(json.dumps(record)) == record
    assert record["status"] == "SUCCESSFUL"
    assert record["execution_id"] == ti.xcom("execution_id")
    assert str(record["job_id"]) == "34"
    assert len(executes(sim)) == 1
    assert len(job_gets(sim)) >= 2  # polled until the end


@pytest.mark.sim(time_scale=36000)
def test_xcom_is_pushed_before_waiting_even_when_the_wait_fails(sim: BaasSimulator) -> None:
    ti = FakeTI()
    with pytest.raises(BaasExecutionFailed) as info:
        operator(job_id=37).execute(make_context(ti))
    assert PERM_DETAIL in str(info.value)
    execution_id = ti.xcom("execution_id")
    url = ti.xcom("execution_url")
    assert execution_id == sim.executions(37)[0]["execution_id"]
    assert url.startswith(sim.base_url) and "/sites/demo-site/jobs/37/" in url and execution_id in url
    assert [k for k, _ in ti.xcoms] == ["execution_id", "execution_url"]  # no console_url: no link


CONSOLE = "https://console.example.com/sites/{site_id}/jobs/{job_id}/executions/{execution_id}"


@pytest.mark.sim(time_scale=36000, conn_extra={"console_url": CONSOLE})
def test_console_url_is_pushed_before_waiting_when_the_connection_has_one(sim: BaasSimulator) -> None:
    ti = FakeTI()
    operator(job_id=34, wait_for_completion=False).execute(make_context(ti))
    execution_id = ti.xcom("execution_id")
    expected = f"https://console.example.com/sites/demo-site/jobs/34/executions/{execution_id}"
    assert ti.xcom("console_url") == expected
    assert [k for k, _ in ti.xcoms] == ["execution_id", "execution_url", "console_url"]


@pytest.mark.sim(time_scale=36000)
@pytest.mark.parametrize(
    ("job_id", "detail"), [(37, PERM_DETAIL), (41, "Job aborted: exceeded the auto abort limit")]
)
def test_failing_job_raises_with_the_status_detail(sim: BaasSimulator, job_id: int, detail: str) -> None:
    with pytest.raises(BaasExecutionFailed, match=r"status (FAILED|ABORTED)") as info:
        operator(job_id=job_id).execute(make_context())
    assert detail in str(info.value)


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s
def test_blocking_wait_timeout(sim: BaasSimulator) -> None:
    op = operator(timeout=0.6)
    log = record_log(op)
    ti = FakeTI()
    started = time.monotonic()
    with pytest.raises(BaasWaitTimeout):
        op.execute(make_context(ti))
    assert time.monotonic() - started < 1.5
    execution_id = ti.xcom("execution_id")
    assert "goes on on the server" in log.text("error") and execution_id in log.text("error")
    assert sim.execution(execution_id)["status"] == "RUNNING"


@pytest.mark.sim(time_scale=3600)
def test_blocking_wait_execution_timeout(sim: BaasSimulator) -> None:
    op = operator(timeout=3600, execution_timeout=timedelta(seconds=1))
    ti = FakeTI(start_date=datetime.now(UTC) - timedelta(seconds=0.3))
    started = time.monotonic()
    with pytest.raises(AirflowTaskTimeout):
        op.execute(make_context(ti))
    assert 0.4 < time.monotonic() - started < 1.5


@pytest.mark.sim(time_scale=3600)
def test_lost_execute_answer_is_recovered_without_a_second_post(sim: BaasSimulator) -> None:
    sim.add_fault(kind="lost_answer", method="POST", path="*/execute", count=1)
    ti = FakeTI()
    execution_id = operator(wait_for_completion=False).execute(make_context(ti))
    assert len(executes(sim)) == 1
    assert ti.xcom("execution_id") == execution_id == sim.executions(34)[0]["execution_id"]


@pytest.mark.sim(time_scale=3600)
def test_execute_answered_503_is_never_resent(sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_baas.hooks import baas as hook_module

    monkeypatch.setattr(hook_module, "EXECUTE_LOOKUP_INTERVAL", 0.01)
    sim.add_fault(kind="status", status=503, method="POST", path="*/execute", count=None)
    ti = FakeTI()
    with pytest.raises(BaasExecuteOutcomeUnknown, match="NOT re-sent"):
        operator().execute(make_context(ti))
    assert len(executes(sim)) == 1
    assert ti.xcoms == []


@pytest.mark.sim(time_scale=0)
def test_a_transient_error_listing_the_history_does_not_stop_a_first_start(sim: BaasSimulator) -> None:
    """A first try has no earlier start to tell apart: the history only helps match a lost answer."""
    sim.add_fault(kind="status", status=503, method="GET", path="*/jobs/34/executions", count=1)
    op = operator(wait_for_completion=False)
    log = record_log(op)

    execution_id = op.execute(make_context(FakeTI()))

    assert len(executes(sim)) == 1 and execution_id == sim.executions(34)[0]["execution_id"]
    assert "Could not list BaaS job 34's executions before starting it" in log.text("warning")


@pytest.mark.sim(time_scale=0)
def test_a_refused_history_listing_fails_before_any_post(sim: BaasSimulator) -> None:
    sim.add_fault(kind="status", status=403, method="GET", path="*/jobs/34/executions", count=1)

    with pytest.raises(BaasError, match="403"):
        operator(wait_for_completion=False).execute(make_context(FakeTI()))
    assert executes(sim) == []


@pytest.mark.sim(time_scale=0)
def test_a_retry_that_cannot_list_the_history_does_not_start_another_backup(sim: BaasSimulator) -> None:
    """An earlier try sent a POST: without the listing, its execution cannot be told from none."""
    store = FakeStateStore(memory(sim, sim.now()))
    sim.add_fault(kind="status", status=503, method="GET", path="*/jobs/34/executions", count=1)

    with pytest.raises(BaasError, match="503"):
        operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert executes(sim) == []


@pytest.mark.sim(time_scale=0)
def test_the_jobs_history_gives_the_trigger_its_usual_duration(sim: BaasSimulator) -> None:
    """Job 34's past runs took about 2 h each: the trigger polls sparsely until near the median of
    the last ten."""
    past = [e for e in sim.executions(34) if e["status"] == "SUCCESSFUL"][:10]
    usual = statistics.median(
        (datetime.fromisoformat(e["end_time"]) - datetime.fromisoformat(e["start_time"])).total_seconds()
        for e in past
    )

    deferred = defer(operator(deferrable=True), make_context(FakeTI()))

    assert 6000 < usual < 8000
    assert deferred.trigger.serialize()[1]["expected_duration"] == pytest.approx(usual)


@pytest.mark.sim(time_scale=0, on_concurrent_execute="allow")
def test_a_lost_answer_is_not_matched_to_a_queued_execution_listed_before_the_post(
    sim: BaasSimulator,
) -> None:
    """The first try's own lost answer: what the history listed before its POST was not started by it."""
    theirs = sim.start_execution(34, run_type="DELTA")
    sim.add_fault(kind="lost_answer", method="POST", path="*/execute", count=1)

    ours = operator(wait_for_completion=False).execute(make_context(FakeTI()))

    assert ours != theirs
    assert len(executes(sim)) == 1 and sim.executions(34)[0]["execution_id"] == ours


@pytest.mark.sim(time_scale=0)
def test_a_job_already_running_is_refused_not_joined(sim: BaasSimulator) -> None:
    """The operator starts a backup; joining someone else's run is the gate's choice, not its."""
    theirs = sim.start_execution(34)
    store = FakeStateStore()
    with pytest.raises(BaasConflictError):
        operator().execute(make_context(FakeTI(), store))
    assert len(executes(sim)) == 1 and sim.executions(34)[0]["execution_id"] == theirs
    assert STATE_KEY not in store.data  # refused: nothing of this task instance runs


# ---------------------------------------------------------------------------------------------
# Deferrable


@pytest.mark.sim(time_scale=1_000_000)  # job 46 (1 min) ends 60 µs after it starts
def test_polls_once_before_deferring(sim: BaasSimulator) -> None:
    ti = FakeTI()
    record = operator(job_id=46, deferrable=True).execute(make_context(ti))  # no TaskDeferred
    assert record["status"] == "SUCCESSFUL"
    assert record["execution_id"] == ti.xcom("execution_id")


@pytest.mark.sim(time_scale=7200)
async def test_deferrable_success(sim: BaasSimulator) -> None:
    ti = FakeTI()
    context = make_context(ti)
    op = operator(deferrable=True, timeout=600)
    t0 = time.time()
    deferred = defer(op, context)
    execution_id = ti.xcom("execution_id")  # pushed before deferring
    assert ti.xcom("execution_url").endswith(execution_id)
    trigger = deferred.trigger
    assert isinstance(trigger, BaasExecutionTrigger)
    assert deferred.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    json.dumps(kwargs)
    assert (kwargs["job_id"], kwargs["execution_id"], kwargs["site_id"]) == ("34", execution_id, SITE)
    assert kwargs["baas_conn_id"] == "baas_default" and kwargs["poll_interval"] == 0.2
    assert t0 + 600 <= kwargs["deadline"] <= time.time() + 600  # absolute: now + timeout
    assert deferred.timeout is not None
    assert deferred.timeout.total_seconds() >= 600 - 5  # the framework timeout is only a backstop
    event = await single_event(rebuild_trigger(trigger))
    record = op.execute_complete(context, event)
    assert record["status"] == "SUCCESSFUL" and record["execution_id"] == execution_id
    json.dumps(record)
    assert len(executes(sim)) == 1


@pytest.mark.sim(time_scale=3600)
async def test_deferrable_failure_raises_with_the_status_detail(sim: BaasSimulator) -> None:
    context = make_context()
    op = operator(job_id=37, deferrable=True)
    deferred = defer(op, context)
    event = await single_event(rebuild_trigger(deferred.trigger))
    assert event["status"] == "failed"
    with pytest.raises(BaasExecutionFailed) as info:
        op.execute_complete(context, event)
    assert PERM_DETAIL in str(info.value)


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s
async def test_deferrable_timeout_says_the_backup_goes_on(sim: BaasSimulator) -> None:
    ti = FakeTI()
    context = make_context(ti)
    op = operator(deferrable=True, timeout=0.6)
    log = record_log(op)
    deferred = defer(op, context)
    event = await single_event(rebuild_trigger(deferred.trigger))
    assert event["status"] == "timeout"
    with pytest.raises(BaasWaitTimeout):
        op.execute_complete(context, event)
    execution_id = ti.xcom("execution_id")
    errors = log.text("error")
    assert "goes on on the server" in errors and execution_id in errors


@pytest.mark.sim(time_scale=3600)
async def test_execution_timeout_bounds_the_trigger_deadline(sim: BaasSimulator) -> None:
    start = datetime.now(UTC) - timedelta(seconds=0.2)
    ti = FakeTI(start_date=start)
    context = make_context(ti)
    op = operator(deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=1))
    deferred = defer(op, context)
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["deadline"] == pytest.approx(start.timestamp() + 1, abs=0.01)
    event = await single_event(rebuild_trigger(deferred.trigger))
    assert event["status"] == "timeout"
    with pytest.raises(AirflowTaskTimeout):
        op.execute_complete(context, event)


@pytest.mark.sim(time_scale=3600)
def test_timeout_shorter_than_execution_timeout_is_the_deadline(sim: BaasSimulator) -> None:
    ti = FakeTI(start_date=datetime.now(UTC))
    op = operator(deferrable=True, timeout=60, execution_timeout=timedelta(hours=1))
    t0 = time.time()
    deferred = defer(op, make_context(ti))
    assert t0 + 60 <= deferred.trigger.serialize()[1]["deadline"] <= time.time() + 60


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "status": "success",
        "message": "done",
        "job_id": "34",
        "execution_id": "1001",
        "site_id": SITE,
        "execution": {"execution_id": "1001", "status": "SUCCESSFUL"},
        "elapsed_seconds": 1.0,
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {},
        _event(status="wait"),
        _event(status="SUCCESS"),
        _event(status="done"),
        _event(execution_id=None),
        _event(execution_id=""),
        _event(execution=None),
    ],
    ids=[
        "missing",
        "not-a-dict",
        "empty",
        "wait",
        "upper",
        "unknown",
        "no-execution-id",
        "empty-id",
        "success-no-record",
    ],
)
def test_execute_complete_rejects_invalid_events(event: Any) -> None:
    with pytest.raises(BaasInvalidEvent):
        operator().execute_complete(make_context(), event)


def test_execute_complete_error_event_fails() -> None:
    with pytest.raises(BaasError, match="giving up"):
        operator().execute_complete(
            make_context(), _event(status="error", message="giving up", execution=None)
        )


@pytest.mark.parametrize(
    ("deadline_kind", "raised"),
    [("execution_timeout", AirflowTaskTimeout), ("timeout", BaasWaitTimeout), (None, BaasWaitTimeout)],
)
def test_execute_complete_timeout_event_raises_what_its_deadline_was(deadline_kind, raised) -> None:
    """The trigger echoes which limit its deadline was; an event without it is the wait's own timeout."""
    event = _event(status="timeout", message="timed out", execution=None, deadline_kind=deadline_kind)

    with pytest.raises(raised, match="timed out"):
        operator().execute_complete(make_context(), event)


def test_execute_complete_success_event_returns_the_record() -> None:
    record = operator().execute_complete(make_context(), _event())
    assert record["execution_id"] == "1001" and record["status"] == "SUCCESSFUL"


# ---------------------------------------------------------------------------------------------
# Reattach: a retry of this task instance finds what an earlier try started


@pytest.mark.sim(time_scale=0)  # frozen: executions stay where sim.advance puts them
def test_reattaches_to_the_running_execution_of_an_earlier_try(sim: BaasSimulator) -> None:
    earlier = sim.start_execution(34)
    sim.advance(1200)
    store = FakeStateStore(memory(sim, sim.now() - timedelta(seconds=1200), earlier))
    ti = FakeTI(try_number=2)
    op = operator(wait_for_completion=False)
    log = record_log(op)
    assert op.execute(make_context(ti, store)) == earlier
    assert executes(sim) == []
    assert ti.xcom("execution_id") == earlier
    assert "Reattaching" in log.text("warning") and earlier in log.text("warning")


@pytest.mark.sim(time_scale=0)
def test_lost_answer_is_found_by_send_time_without_posting(sim: BaasSimulator) -> None:
    sent_at = sim.now()
    lost = sim.start_execution(34)  # the POST of the earlier try reached the server...
    sim.advance(600)  # ...and the execution is RUNNING (past its QUEUED phase)
    store = FakeStateStore(memory(sim, sent_at))  # ...but the answer never came back
    assert operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store)) == lost
    assert executes(sim) == []


@pytest.mark.sim(time_scale=0)
def test_lost_answer_is_found_while_the_execution_is_still_queued(sim: BaasSimulator) -> None:
    sent_at = sim.now()
    lost = sim.start_execution(34)
    assert sim.execution(lost)["status"] == "QUEUED" and sim.execution(lost)["start_time"] is None
    # What the earlier try wrote before its POST: nothing queued or recent existed then.
    store = FakeStateStore(memory(sim, sent_at, known_before=[]))
    assert operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store)) == lost
    assert executes(sim) == []


@pytest.mark.sim(time_scale=0, on_concurrent_execute="allow")
def test_another_callers_queued_execution_is_not_taken_for_a_lost_answer(sim: BaasSimulator) -> None:
    """It was listed before the earlier try's POST, so that POST did not start it."""
    sent_at = sim.now()
    theirs = sim.start_execution(34, run_type="DELTA")
    store = FakeStateStore(memory(sim, sent_at, known_before=[theirs]))
    ours = operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert ours != theirs
    assert len(executes(sim)) == 1


@pytest.mark.sim(time_scale=0)
def test_a_queued_execution_of_unknown_age_is_neither_adopted_nor_doubled(sim: BaasSimulator) -> None:
    """Memory without the list of what existed before the POST: the queued one may be anybody's."""
    sent_at = sim.now()
    queued = sim.start_execution(34)
    store = FakeStateStore(memory(sim, sent_at))
    with pytest.raises(BaasExecuteOutcomeUnknown, match=queued):
        operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert executes(sim) == []


@pytest.mark.sim(time_scale=0)
def test_a_remembered_execution_missing_from_a_lagging_listing_is_not_started_again(
    sim: BaasSimulator,
) -> None:
    """The server answered 202 with this id: the listing lags, the execution exists."""
    store = FakeStateStore(memory(sim, sim.now(), "4242"))
    op = operator(wait_for_completion=False)
    log = record_log(op)
    assert op.execute(make_context(FakeTI(try_number=2), store)) == "4242"
    assert executes(sim) == []
    assert "not listed yet" in log.text("warning")


@pytest.mark.sim(time_scale=0)
def test_the_operator_records_what_existed_before_its_post(sim: BaasSimulator) -> None:
    before = sim.start_execution(34)  # queued: a lookup by time alone could take it for ours
    store = FakeStateStore()
    sim.on_concurrent_execute = "allow"
    operator(wait_for_completion=False).execute(make_context(store=store))
    sending = store.writes[0][1]
    assert sending["known_before"] == [before]
    assert sending["run_type"] == "FULL"


@pytest.mark.sim(time_scale=0)
def test_earlier_failed_execution_starts_a_new_one(sim: BaasSimulator) -> None:
    failed = sim.start_execution(37)
    sim.advance(3600)
    assert sim.execution(failed)["status"] == "FAILED"
    store = FakeStateStore(memory(sim, sim.now() - timedelta(seconds=3600), failed, job_id=37))
    new = operator(job_id=37, wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert new != failed
    assert len(executes(sim)) == 1
    assert store.writes and store.writes[-1][1]["execution_id"] == new


@pytest.mark.sim(time_scale=0)
def test_earlier_successful_execution_is_attached_not_rerun(sim: BaasSimulator) -> None:
    done = sim.start_execution(34)
    sim.advance(7300)
    assert sim.execution(done)["status"] == "SUCCESSFUL"
    store = FakeStateStore(memory(sim, sim.now() - timedelta(seconds=7300), done))
    record = operator().execute(make_context(FakeTI(try_number=2), store))
    assert record["execution_id"] == done and record["status"] == "SUCCESSFUL"
    assert executes(sim) == []


@pytest.mark.sim(time_scale=0)
def test_reattach_false_always_posts(sim: BaasSimulator) -> None:
    done = sim.start_execution(34)
    sim.advance(7300)
    store = FakeStateStore(memory(sim, sim.now() - timedelta(seconds=7300), done))
    op = operator(wait_for_completion=False, reattach=False)
    new = op.execute(make_context(FakeTI(try_number=2), store))
    assert new != done
    assert len(executes(sim)) == 1


@pytest.mark.sim(time_scale=0, on_concurrent_execute="allow")
def test_never_attaches_to_an_execution_started_before_the_send_time(sim: BaasSimulator) -> None:
    older = sim.start_execution(34)  # someone else's run, still RUNNING...
    sim.advance(600)
    assert sim.execution(older)["status"] == "RUNNING"
    store = FakeStateStore(memory(sim, sim.now()))  # ...started 10 min before our earlier try's POST
    new = operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert new != older
    assert len(executes(sim)) == 1


@pytest.mark.sim(time_scale=0)
def test_never_attaches_to_the_jobs_history(sim: BaasSimulator) -> None:
    latest = sim.executions(34)[0]["execution_id"]  # yesterday's SUCCESSFUL run
    store = FakeStateStore(memory(sim, sim.now()))  # the earlier try sent its POST just now
    new = operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert new != latest and len(executes(sim)) == 1


@pytest.mark.sim(time_scale=0)
def test_ignores_the_memory_of_another_job(sim: BaasSimulator) -> None:
    other = sim.start_execution(35)
    store = FakeStateStore(memory(sim, sim.now(), other, job_id=35))
    new = operator(wait_for_completion=False).execute(make_context(FakeTI(try_number=2), store))
    assert new != other and sim.execution(new)["job_id"] == 34
    assert len(executes(sim)) == 1


@pytest.mark.sim(time_scale=36000)
def test_the_send_is_recorded_before_the_post_and_the_id_after(sim: BaasSimulator) -> None:
    store = FakeStateStore(on_write=lambda: len(executes(sim)))
    with pytest.raises(BaasExecutionFailed):
        operator(job_id=37).execute(make_context(FakeTI(), store))
    (key1, first, posts_before_first), (key2, second, _) = store.writes
    assert key1 == key2 == STATE_KEY
    assert posts_before_first == 0  # "about to execute" is written before the POST
    assert "execution_id" not in first and first["sent_at"]
    assert second["execution_id"] == sim.executions(37)[0]["execution_id"]
    assert store.data[STATE_KEY] == second  # a failed wait keeps the memory for the retry


@pytest.mark.sim(time_scale=36000)
def test_memory_is_forgotten_after_success(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    operator().execute(make_context(FakeTI(), store))
    assert STATE_KEY not in store.data
    operator().execute(make_context(FakeTI(), store))  # a clear-and-rerun starts a new backup
    assert len(executes(sim)) == 2


@pytest.mark.sim(time_scale=7200)
async def test_retry_while_deferred_reattaches_and_defers_again(sim: BaasSimulator) -> None:
    store = FakeStateStore()
    first = defer(operator(deferrable=True), make_context(FakeTI(), store))
    execution_id = first.trigger.serialize()[1]["execution_id"]
    ti = FakeTI(try_number=2)  # the worker died; the retry must not start a second backup
    op = operator(deferrable=True)
    second = defer(op, make_context(ti, store))
    assert second.trigger.serialize()[1]["execution_id"] == execution_id
    assert len(executes(sim)) == 1
    event = await single_event(rebuild_trigger(second.trigger))
    assert op.execute_complete(make_context(ti, store), event)["status"] == "SUCCESSFUL"
    assert STATE_KEY not in store.data


# ---------------------------------------------------------------------------------------------
# Extra link and on_kill


def test_extra_link(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BaasExecutionLink.name == "BaaS execution"
    op = operator()
    links = [link for link in op.operator_extra_links if isinstance(link, BaasExecutionLink)]
    assert len(links) == 1
    seen: list[tuple[Any, str]] = []

    def fake_xcom(ti_key: Any, key: str) -> Any:
        seen.append((ti_key, key))
        return "https://console.example/e/1001" if ti_key == "with-url" else None

    monkeypatch.setattr(operator_module, "get_xcom_value", fake_xcom)
    assert links[0].get_link(op, ti_key="with-url") == "https://console.example/e/1001"
    assert links[0].get_link(op, ti_key="none") == ""
    # The console page only: the API's execution_url answers 401 in a browser.
    assert [k for _, k in seen] == ["console_url", "console_url"]


@pytest.mark.sim(time_scale=3600)
def test_on_kill_says_the_execution_goes_on(sim: BaasSimulator) -> None:
    op = operator(wait_for_completion=False)
    execution_id = op.execute(make_context())
    log = record_log(op)
    op.on_kill()
    assert execution_id in log.text("warning") and "goes on on the server" in log.text("warning")
    assert len(executes(sim)) == 1


@pytest.mark.sim(time_scale=0)
def test_the_reattach_log_names_the_variable_when_that_is_the_store(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow 2.11 (no task state store): the memory is an Airflow Variable, and the log says so."""
    import airflow_provider_baas.reattach as reattach_module

    earlier = sim.start_execution(34)
    variable = FakeStateStore(memory(sim, sim.now(), earlier))
    monkeypatch.setattr(reattach_module, "_variable_store", lambda ti: variable)
    op = operator(wait_for_completion=False)
    log = record_log(op)
    assert op.execute(make_context(FakeTI(try_number=2))) == earlier
    assert "found via Airflow Variable" in log.text("warning")
    assert "task state store" not in log.text()
