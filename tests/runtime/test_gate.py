"""BaasBackupFreshnessSensor (the pre-ETL gate) with a fake task context against the simulator.

The simulator's clock starts three days in the past and runs 1,000 times faster than real time:
every backup the gate makes still ends days ago by the worker's clock, so a gate cleared and
re-run finds the job stale again, as it would a day later in production.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_baas import waiting
from airflow_provider_baas._compat import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferred,
)
from airflow_provider_baas.errors import (
    BaasError,
    BaasExecuteOutcomeUnknown,
    BaasInvalidEvent,
    BaasValidationError,
)
from airflow_provider_baas.reattach import STATE_KEY
from airflow_provider_baas.sensors.baas import BaasBackupFreshnessSensor
from airflow_provider_baas.testing import BaasSimulator, HistoryEntry, JobSpec, Outcome, Scenario, SiteSpec
from airflow_provider_baas.triggers.baas import BaasExecutionTrigger, BaasFreshnessTrigger

from ._support import CONN_EXTRA, FakeStateStore, FakeTI, make_context, rebuild_trigger, single_event

pytestmark = pytest.mark.usefixtures("close_sessions")

HOUR, DAY = 3600.0, 86400.0
STALE_JOB = 301  # last good backup two days before the simulator's start
QUEUED_JOB = 302  # stale; an execution started through the API stays QUEUED for days
PARTIAL_JOB = 303  # stale; newest execution ended days ago with PARTIAL, a word nobody configured
SCALE = 1000.0


def _scenario() -> Scenario:
    stale = [HistoryEntry(ended_ago=2 * DAY)]
    return Scenario(
        sites=[
            SiteSpec(
                site_id="demo-site",
                jobs=[
                    JobSpec(STALE_JOB, "stale_job", duration=0.01, history=stale),  # done at once
                    JobSpec(
                        QUEUED_JOB,
                        "queued_job",
                        duration=20 * DAY,
                        phases=[("QUEUED", 1), ("RUNNING", 1)],
                        history=stale,
                    ),
                    JobSpec(
                        PARTIAL_JOB,
                        "partial_job",
                        duration=60,
                        history=[*stale, HistoryEntry(status="PARTIAL", ended_ago=DAY)],
                        outcomes=[Outcome("SUCCESSFUL")],
                    ),
                ],
            )
        ]
    )


@pytest.fixture
def gate_sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[BaasSimulator]:
    options: dict[str, Any] = {
        "time_scale": SCALE,
        "start_time": datetime.now(UTC) - timedelta(days=3),
        "on_concurrent_execute": "reject",
    }
    marker = request.node.get_closest_marker("sim")
    if marker is not None:
        options.update(marker.kwargs)
    with BaasSimulator(_scenario(), **options) as sim:
        name, value = sim.airflow_conn_env("baas_default", **CONN_EXTRA)
        monkeypatch.setenv(name, value)
        yield sim


def gate(**kwargs: Any) -> BaasBackupFreshnessSensor:
    options: dict[str, Any] = {
        "task_id": "gate",
        "job_id": STALE_JOB,
        "max_age": timedelta(hours=1),
        "trigger_if_stale": True,
        "poll_interval": 0.2,
        "poke_interval": 0.2,
        "timeout": 30,
        "mode": "poke",
        "deferrable": False,
    }
    options.update(kwargs)
    return BaasBackupFreshnessSensor(**options)


def posts(sim: BaasSimulator, job_id: int) -> int:
    return len(sim.requests_matching("POST", rf"/jobs/{job_id}/execute$"))


def deferred(sensor: BaasBackupFreshnessSensor, context: dict[str, Any]) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(context)
    return info.value


# ---------------------------------------------------------------------------------------------
# Join what already runs (defects 1 and 4)


def test_a_queued_backup_is_joined_not_started_again(gate_sim: BaasSimulator) -> None:
    queued = gate_sim.start_execution(QUEUED_JOB)
    assert gate_sim.execution(queued)["start_time"] is None

    trigger = deferred(gate(job_id=QUEUED_JOB, deferrable=True), make_context()).trigger

    assert isinstance(trigger, BaasExecutionTrigger)
    assert trigger.execution_id == queued
    assert posts(gate_sim, QUEUED_JOB) == 0


def test_a_409_on_execute_joins_the_backup_that_already_runs(
    gate_sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another caller starts a backup between the gate's listing and its POST."""
    started: list[str] = []

    def race(record: Any) -> None:
        if record.method == "GET" and record.path.endswith(f"/jobs/{QUEUED_JOB}/executions") and not started:
            started.append(gate_sim.start_execution(QUEUED_JOB))

    gate_sim.on_request = race
    sleeps = _SleepRecorder()
    monkeypatch.setattr(waiting, "time", sleeps)
    trigger = deferred(gate(job_id=QUEUED_JOB, deferrable=True), make_context()).trigger

    assert trigger.execution_id == started[0]
    assert posts(gate_sim, QUEUED_JOB) == 1  # answered 409, nothing new started
    assert len(gate_sim.executions(QUEUED_JOB)) == 2
    assert sleeps.slept == []  # listed at the first look: no wait for a lagging listing


class _SleepRecorder:
    """Stands in for the ``time`` module a wait uses: records sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_409_with_nothing_running_is_looked_up_again_spaced_out_then_reported(
    gate_sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing may lag behind the refusal: each lookup waits for it, none starts a backup."""
    from airflow_provider_baas.hooks import baas as hook_module

    monkeypatch.setattr(hook_module, "EXECUTE_LOOKUP_INTERVAL", 0.3)
    gate_sim.add_fault(kind="status", status=409, method="POST", path="*/execute", count=1)

    with pytest.raises(BaasExecuteOutcomeUnknown, match="409"):
        gate(job_id=STALE_JOB).execute(make_context())

    post = gate_sim.requests_matching("POST", rf"/jobs/{STALE_JOB}/execute$")[0]
    lookups = [
        r.time
        for r in gate_sim.requests_matching("GET", rf"/jobs/{STALE_JOB}/executions$")
        if r.time > post.time
    ]
    assert len(lookups) == 4  # the hook's EXECUTE_LOOKUP_ATTEMPTS
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(lookups))
    assert posts(gate_sim, STALE_JOB) == 1


def test_a_long_finished_execution_with_an_unknown_status_is_not_joined(gate_sim: BaasSimulator) -> None:
    partial = gate_sim.executions(PARTIAL_JOB)[0]
    assert partial["status"] == "PARTIAL" and partial["end_time"] is not None

    record = gate(job_id=PARTIAL_JOB).execute(make_context())

    assert posts(gate_sim, PARTIAL_JOB) == 1
    assert record["execution_id"] != partial["execution_id"]
    assert record["status"] == "SUCCESSFUL" and record["backup_started"] is True


# ---------------------------------------------------------------------------------------------
# What a task instance remembers, and when it forgets (defect 2)


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_cleared_gate_on_a_stale_job_starts_a_new_backup(gate_sim: BaasSimulator, deferrable: bool) -> None:
    store = FakeStateStore()
    first = gate(deferrable=deferrable).execute(make_context(store=store))
    assert first["backup_started"] is True and posts(gate_sim, STALE_JOB) == 1
    time.sleep(0.1)  # the backup ended (60 s of simulated time)
    assert gate_sim.execution(first["execution_id"])["status"] == "SUCCESSFUL"

    # Cleared and re-run: same task instance, same store; the job is stale again.
    second = gate(deferrable=deferrable).execute(make_context(FakeTI(try_number=2), store=store))

    assert posts(gate_sim, STALE_JOB) == 2
    assert second["execution_id"] != first["execution_id"]
    assert second["backup_started"] is True


def test_a_gate_with_reattach_off_starts_a_backup_on_a_stale_job(gate_sim: BaasSimulator) -> None:
    store = FakeStateStore()

    record = gate(reattach=False).execute(make_context(store=store))

    assert record["backup_started"] is True and posts(gate_sim, STALE_JOB) == 1


@pytest.mark.sim(on_concurrent_execute="allow")
def test_a_retried_gate_waits_for_its_own_backup_not_a_newer_one(gate_sim: BaasSimulator) -> None:
    """The choice uses the task instance's memory: its own backup while it runs, not the newest."""
    ours = gate_sim.start_execution(QUEUED_JOB)
    newer = gate_sim.start_execution(QUEUED_JOB, run_type="DELTA")  # another caller's, started since
    memory = {"job_id": str(QUEUED_JOB), "site_id": "demo-site", "sent_at": datetime.now(UTC).isoformat()}
    store = FakeStateStore({STATE_KEY: {**memory, "execution_id": ours}})

    context = make_context(FakeTI(try_number=2), store=store)
    trigger = deferred(gate(job_id=QUEUED_JOB, deferrable=True), context).trigger

    assert trigger.execution_id == ours != newer
    assert posts(gate_sim, QUEUED_JOB) == 0


def test_the_gate_forgets_its_backup_when_it_passes(gate_sim: BaasSimulator) -> None:
    store = FakeStateStore()
    gate().execute(make_context(store=store))
    assert store.data == {}


# ---------------------------------------------------------------------------------------------
# Deadlines and the freshness trigger's error budget (defects 8 and 10)


def test_a_deferred_stale_gate_honours_execution_timeout(gate_sim: BaasSimulator) -> None:
    start = datetime.now(UTC)
    sensor = gate(
        trigger_if_stale=False, deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=5)
    )

    trigger = deferred(sensor, make_context(FakeTI(start_date=start))).trigger

    assert isinstance(trigger, BaasFreshnessTrigger)
    assert trigger.serialize()[1]["deadline"] <= start.timestamp() + 5


@pytest.mark.sim(faults=[{"kind": "status", "status": 503, "method": "GET", "count": None}])
async def test_the_freshness_trigger_gives_up_after_its_error_budget(gate_sim: BaasSimulator) -> None:
    trigger = BaasFreshnessTrigger(
        job_id=str(STALE_JOB), max_age=HOUR, deadline=time.time() + 20, poll_interval=0.1
    )

    payload = await single_event(rebuild_trigger(trigger))

    assert payload["status"] == "error"
    assert "giving up after 11 failed polls" in payload["message"]
    assert "503" in payload["message"]


# ---------------------------------------------------------------------------------------------
# Bad input is refused when the DAG is parsed (defect 12 and poke_interval)


def test_a_gate_without_max_age_is_refused_when_the_dag_is_parsed() -> None:
    """Without max_age every backup would be stale: a backup on every run."""
    with pytest.raises(BaasValidationError, match="max_age is required"):
        gate(max_age=None)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_max_age_is_refused(value: float) -> None:
    with pytest.raises(BaasValidationError, match="max_age"):
        gate(max_age=value)


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_non_finite_sensor_timeout_is_refused(value: float) -> None:
    # Airflow's own check refuses some first (3.3: ValueError, OverflowError; 2.11: NaN); ours the rest.
    with pytest.raises((ValueError, OverflowError, AirflowException)):
        gate(timeout=value)


def test_poke_interval_zero_is_refused_with_a_clear_error() -> None:
    with pytest.raises(BaasValidationError, match="poke_interval"):
        gate(poke_interval=0)


# ---------------------------------------------------------------------------------------------
# The asset event (defect 9)


class RecordingOutletEvents(dict):
    """``context["outlet_events"]``: one accessor per outlet, recording what is added."""

    def __missing__(self, outlet: Any) -> Any:
        accessor = RecordingAccessor()
        self[outlet] = accessor
        return accessor


class RecordingAccessor:
    def __init__(self) -> None:
        self.added: list[tuple[Any, dict[str, Any]]] = []
        self.extra: dict[str, Any] = {}

    def add(self, asset: Any, extra: dict[str, Any] | None = None) -> None:
        self.added.append((asset, extra or {}))


def test_the_gates_asset_event_names_the_host_without_its_port(gate_sim: BaasSimulator) -> None:
    from airflow_provider_baas.assets import baas_asset_alias

    alias = baas_asset_alias("gate-backups")
    events = RecordingOutletEvents()
    context = {**make_context(), "outlet_events": events}
    assert f":{gate_sim.port}" in gate_sim.base_url

    gate(outlets=[alias]).execute(context)

    (asset, extra), *_ = events[alias].added
    assert asset.uri == f"baas://127.0.0.1/demo-site/jobs/{STALE_JOB}"
    assert extra["backup_started"] is True


# --- the verdicts in each mode: fresh passes, stale waits, neither starts a backup --------------
# The runtime scenario's job 34 last ended a day before the simulator's start (now).


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_fresh_backup_passes_without_starting_one(sim: BaasSimulator, deferrable: bool) -> None:
    newest = sim.executions(34)[0]["execution_id"]
    sensor = gate(job_id=34, max_age=timedelta(days=2), deferrable=deferrable)

    if deferrable:
        record = sensor.execute(make_context())
    else:
        poked = sensor.poke(make_context())
        assert poked.is_done
        record = poked.xcom_value

    assert (record["execution_id"], record["backup_started"]) == (newest, False)
    assert posts(sim, 34) == 0


def test_a_stale_backup_without_trigger_if_stale_waits_in_poke_mode(sim: BaasSimulator) -> None:
    sensor = gate(job_id=34, max_age=timedelta(hours=1), trigger_if_stale=False)

    assert sensor.poke(make_context()) is False
    assert posts(sim, 34) == 0


def test_a_gate_that_is_not_deferrable_pokes_until_its_timeout(sim: BaasSimulator) -> None:
    """Not deferrable: the base sensor's loop pokes (and times out) in the worker, never defers."""
    sensor = gate(job_id=34, max_age=timedelta(hours=1), trigger_if_stale=False, timeout=0.5)

    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(make_context())
    assert posts(sim, 34) == 0


# --- back from the freshness trigger ------------------------------------------------------------


def _fresh_event(**changes: Any) -> dict[str, Any]:
    event = {
        "status": "fresh",
        "message": "a fresh backup appeared",
        "job_id": str(STALE_JOB),
        "site_id": "demo-site",
        "execution": {"execution_id": "9001", "status": "SUCCESSFUL"},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def test_a_fresh_event_passes_with_someone_elses_backup(gate_sim: BaasSimulator) -> None:
    record = gate(deferrable=True).execute_fresh(make_context(), _fresh_event())

    assert (record["execution_id"], record["backup_started"]) == ("9001", False)


@pytest.mark.parametrize(
    "event",
    [
        None,
        "fresh",
        _fresh_event(status="success"),
        _fresh_event(status="FRESH"),
        _fresh_event(status="wait"),
    ],
)
def test_an_event_that_is_not_a_freshness_end_never_passes(gate_sim: BaasSimulator, event: Any) -> None:
    with pytest.raises(BaasInvalidEvent):
        gate(deferrable=True).execute_fresh(make_context(), event)


@pytest.mark.parametrize(
    "event",
    [_fresh_event(status="error", message="gave up after 5 errors"), _fresh_event(execution=None)],
)
def test_an_error_event_or_a_fresh_one_without_its_backup_fails(gate_sim: BaasSimulator, event: Any) -> None:
    with pytest.raises(BaasError) as info:
        gate(deferrable=True).execute_fresh(make_context(), event)
    assert not isinstance(info.value, BaasInvalidEvent)
    assert str(info.value) == event["message"]  # the trigger's words, not the event's repr


@pytest.mark.parametrize(
    ("deadline_kind", "soft_fail", "raised"),
    [
        ("timeout", False, AirflowSensorTimeout),
        (None, False, AirflowSensorTimeout),
        ("timeout", True, AirflowSkipException),
        ("execution_timeout", True, AirflowTaskTimeout),  # execution_timeout is never soft
    ],
)
def test_a_timeout_event_raises_what_its_deadline_was(
    gate_sim: BaasSimulator, deadline_kind: Any, soft_fail: bool, raised: type
) -> None:
    event = _fresh_event(status="timeout", message="no fresh backup in time", deadline_kind=deadline_kind)

    with pytest.raises(raised, match="no fresh backup in time"):
        gate(deferrable=True, soft_fail=soft_fail).execute_fresh(make_context(), event)
