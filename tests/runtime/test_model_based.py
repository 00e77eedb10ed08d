"""Model-based tests: Hypothesis draws one job's history and the API's misbehaviour, then drives the
operator, the gate and the sensor through retries, reschedules and clears against it. The API's
job summary shows either the newest execution or only the newest finished one.

The model is an in-memory BaaS API behind the hook's real request plans (only the socket is
replaced): executions with null or odd start times, unknown status words, other callers' runs
(scheduled by BaaS, DELTA runs) appearing mid-wait, a listing that lags, 409 on a concurrent
execute, execute answers that are lost after the server acted, and RESTORE jobs (whose summary
names the source backup too). Invariants:

- at most one POST per task-instance try lineage while an execution it started may still run;
- success only when the execution the task owns (or was asked for) is in a success status;
- the gate never joins a finished execution, and never dies on a 409;
- never adopt an execution that existed before our POST;
- the sensor resolves one of the job's own executions, once per task instance.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_baas.hooks import baas as hook_module
from airflow_provider_baas.hooks.transport import MaybeSent, RequestSpec, Response, SyncTransport
from airflow_provider_baas.models import parse_time
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.sensors.baas import BaasBackupFreshnessSensor, BaasExecutionSensor

from ._support import FakeStateStore, FakeTI, make_context

SITE, JOB = "s1", 7
FINAL_WORDS = ["SUCCESSFUL", "FAILED", "ABORTED", "PARTIAL", "WARNING"]
ODD_START_TIMES = [None, "", "string", "not a time"]
# Bounded and derandomized: ``make test`` stays fast and every run checks the same histories.
MODEL_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ModelExecution:
    execution_id: str
    owner: str  # "history", "other" (scheduled by BaaS, another caller) or "ti"
    run_type: str
    lifecycle: list[str]  # statuses, one step per API request; the last one is final
    created_tick: int
    start_time: Any = None
    end_time: str | None = None
    step: int = 0

    @property
    def status(self) -> str:
        return self.lifecycle[self.step]

    @property
    def final(self) -> bool:
        return self.step == len(self.lifecycle) - 1

    def advance(self) -> None:
        if self.final:
            return
        self.step += 1
        now = datetime.now(UTC)
        if self.status != "QUEUED" and self.start_time is None:
            self.start_time = iso(now)
        if self.final:
            self.end_time = iso(now)

    def to_dict(self, job_type: str) -> dict[str, Any]:
        return {
            "site_id": SITE,
            "job_id": JOB,
            "job_type": job_type,
            "execution_id": self.execution_id,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "status": self.status,
            "run_type": self.run_type,
        }


@dataclass
class ModelApi:
    """One job of one site, as the API shows it; every request is one tick of its clock."""

    executions: list[ModelExecution]
    reject_concurrent: bool
    lag: int  # executions younger than this many ticks are missing from the listing
    lost_answers: set[int]  # which POSTs (0-based) have their answer lost
    other_runs: dict[int, str]  # tick -> run type of a run another caller starts then
    outcomes: list[str]  # final statuses of the runs the task starts, in order (last repeats)
    tick: int = 0
    posts: int = 0
    violations: list[str] = field(default_factory=list)
    lineage: str = "ti-1"
    job_type: str = "BACKUP"
    first_summary: str | None = None
    # The summary's last_execution_details show only the newest *finished* execution, so polls
    # must learn to read the listing (polling.LookupChoice).
    finished_only: bool = False

    def handle(self, spec: RequestSpec) -> Response:
        self.tick += 1
        for execution in self.executions:
            execution.advance()
        if self.tick in self.other_runs:
            self._add("other", self.other_runs[self.tick], "SUCCESSFUL")
        path = spec.path
        if spec.method == "POST" and path.endswith("/execute"):
            return self._execute(spec)
        if path.endswith("/executions"):
            return self._listing(spec)
        if path.endswith(f"/jobs/{JOB}"):
            return _json(200, self._job())
        return _json(404, {"message": f"no route {path}"})

    def visible(self) -> list[ModelExecution]:
        return [e for e in self.executions if self.tick - e.created_tick >= self.lag]

    def owned(self, execution_id: str) -> ModelExecution | None:
        return next((e for e in self.executions if e.execution_id == execution_id), None)

    def _add(self, owner: str, run_type: str, outcome: str) -> ModelExecution:
        execution = ModelExecution(
            str(1000 + len(self.executions)),
            owner,
            run_type,
            ["QUEUED", "RUNNING", "RUNNING", outcome],
            self.tick,
        )
        self.executions.append(execution)
        return execution

    def _execute(self, spec: RequestSpec) -> Response:
        mine_running = [e.execution_id for e in self.executions if e.owner == self.lineage and not e.final]
        if mine_running:
            self.violations.append(f"POST while this lineage's {mine_running} may still run")
        index, self.posts = self.posts, self.posts + 1
        if self.reject_concurrent and any(not e.final for e in self.executions):
            return _json(409, {"message": "job already has a running execution"})
        outcome = self.outcomes[min(index, len(self.outcomes) - 1)]
        execution = self._add(self.lineage, str(spec.json_body["run_type"]), outcome)
        if index in self.lost_answers:
            raise MaybeSent("the answer was lost")
        return Response(202, {"x-resource-id": execution.execution_id}, "")

    def _listing(self, spec: RequestSpec) -> Response:
        rows = [e.to_dict(self.job_type) for e in reversed(self.visible())]
        params = dict(spec.params or {})
        page, size = int(params.get("page", 1)), int(params.get("page-size", 10))
        return _json(200, rows[(page - 1) * size : page * size])

    def _job(self) -> dict[str, Any]:
        shown = [e for e in self.visible() if e.final] if self.finished_only else self.visible()
        newest = shown[-1] if shown else None
        if self.first_summary is None and newest is not None:
            self.first_summary = newest.execution_id  # the job's latest when a task first asked
        elif self.first_summary is None and shown != self.visible():
            # Nothing finished to show: the sensor takes the listing's newest start instead.
            dated = [(t, e.execution_id) for e in self.visible() if (t := _start(e)) is not None]
            self.first_summary = max(dated)[1] if dated else None
        details = None
        if newest is not None:
            restore = self.job_type == "RESTORE"
            details = {
                "status": newest.status,
                "start_time": newest.start_time,
                "end_time": newest.end_time,
                # A restore's details name the backup it restores from (another job's execution).
                "backup_job_execution_id": f"src-{newest.execution_id}" if restore else newest.execution_id,
                "restore_execution_id": newest.execution_id if restore else None,
            }
        return {
            "job_id": JOB,
            "name": "model_job",
            "job_type": self.job_type,
            "last_execution_details": details,
        }


def _start(execution: ModelExecution) -> datetime | None:
    try:
        return parse_time(execution.start_time)
    except (TypeError, ValueError):
        return None


def _json(status: int, body: Any) -> Response:
    return Response(status, {"content-type": "application/json"}, json.dumps(body))


# ---------------------------------------------------------------------------------------------
# Strategies


@st.composite
def histories(draw: st.DrawFn) -> list[ModelExecution]:
    """Past executions, oldest first: finished ones with any word and odd start times, and
    maybe another caller's run still going (QUEUED without a start time, or a DELTA run)."""
    now = datetime.now(UTC)
    executions = []
    for n in range(draw(st.integers(0, 4))):
        ended = now - timedelta(hours=draw(st.sampled_from([0.2, 2, 30, 200])))
        start: Any = iso(ended - timedelta(minutes=10))
        if draw(st.booleans()):
            start = draw(st.sampled_from(ODD_START_TIMES))
        word = draw(st.sampled_from(FINAL_WORDS))
        run_type = draw(st.sampled_from(["FULL", "DELTA"]))
        executions.append(ModelExecution(str(100 + n), "history", run_type, [word], -100, start, iso(ended)))
    if draw(st.booleans()):
        status = draw(st.sampled_from(["QUEUED", "RUNNING", "VERIFYING"]))
        start = None if status == "QUEUED" else iso(now - timedelta(minutes=5))
        lifecycle = [status, "RUNNING", draw(st.sampled_from(["SUCCESSFUL", "FAILED"]))]
        run_type = draw(st.sampled_from(["FULL", "DELTA"]))
        executions.append(ModelExecution("199", "other", run_type, lifecycle, -100, start))
    return executions


@st.composite
def apis(draw: st.DrawFn) -> ModelApi:
    return ModelApi(
        executions=draw(histories()),
        reject_concurrent=draw(st.booleans()),
        lag=draw(st.sampled_from([0, 0, 1, 2])),
        lost_answers=draw(st.sets(st.integers(0, 2), max_size=2)),
        other_runs=draw(st.dictionaries(st.integers(1, 12), st.sampled_from(["FULL", "DELTA"]), max_size=2)),
        outcomes=draw(st.lists(st.sampled_from(["SUCCESSFUL", "FAILED"]), min_size=1, max_size=3)),
        finished_only=draw(st.booleans()),
    )


# ---------------------------------------------------------------------------------------------
# Drivers


@pytest.fixture(scope="module")
def model_connection() -> Iterator[None]:
    conn = {
        "conn_type": "baas",
        "host": "https://baas.model.test",
        "password": "model-token",
        "extra": {"site_id": SITE, "max_attempts": 1},
    }
    with mock.patch.dict(os.environ, {"AIRFLOW_CONN_BAAS_DEFAULT": json.dumps(conn)}):
        yield


@pytest.fixture
def serve(model_connection: None) -> Iterator[Any]:
    """Route every request of the hook's real plans to the model of the current example."""
    current: dict[str, ModelApi] = {}

    def send(self: SyncTransport, spec: RequestSpec, headers: dict[str, str]) -> Response:
        return current["api"].handle(spec)

    with (
        mock.patch.object(SyncTransport, "send", send),
        mock.patch.object(hook_module, "EXECUTE_LOOKUP_INTERVAL", 0.0),
    ):
        yield current


def tries(run_once: Any, store: FakeStateStore, count: int = 3) -> tuple[Any, list[BaseException]]:
    """Run tries of one task instance (one lineage) until one succeeds."""
    errors: list[BaseException] = []
    for try_number in range(1, count + 1):
        try:
            return run_once(make_context(FakeTI(try_number=try_number), store)), errors
        except Exception as exc:  # a failed try; the next one retries
            errors.append(exc)
    return None, errors


def next_lineage(lineage: str) -> str:
    return f"ti-{int(lineage.split('-')[1]) + 1}"


def check_owned_success(api: ModelApi, record: dict[str, Any], lineage: str) -> None:
    execution = api.owned(str(record["execution_id"]))
    assert execution is not None, record
    assert execution.owner == lineage, f"{lineage} reported {execution.owner}'s execution {record}"
    assert execution.status == "SUCCESSFUL", record


@MODEL_SETTINGS
@given(api=apis(), clears=st.integers(0, 1))
def test_operator_owns_what_it_reports(serve: Any, api: ModelApi, clears: int) -> None:
    serve["api"] = api
    store = FakeStateStore()
    for _ in range(1 + clears):

        def run_once(context: dict[str, Any]) -> Any:
            op = BaasExecuteJobOperator(task_id="backup", job_id=JOB, poll_interval=0.001, timeout=2)
            return op.execute(context)

        record, _errors = tries(run_once, store)
        assert api.violations == []
        if record is not None:
            check_owned_success(api, record, api.lineage)
            assert store.data == {}  # a finished lineage leaves nothing behind
            api.lineage = next_lineage(api.lineage)  # a clear after success starts a new lineage


@MODEL_SETTINGS
@given(api=apis(), clears=st.integers(0, 1), max_age_hours=st.sampled_from([1, 48]))
def test_gate_passes_only_on_a_good_backup(
    serve: Any, api: ModelApi, clears: int, max_age_hours: int
) -> None:
    serve["api"] = api
    store = FakeStateStore()
    for _ in range(1 + clears):
        finished_before = {e.execution_id for e in api.executions if e.final}

        def run_once(context: dict[str, Any]) -> Any:
            for _ in range(12):  # reschedule mode: a new sensor for every poke
                gate = BaasBackupFreshnessSensor(
                    task_id="gate",
                    job_id=JOB,
                    max_age=timedelta(hours=max_age_hours),
                    trigger_if_stale=True,
                    poll_interval=0.001,
                    poke_interval=1,
                    timeout=60,
                    mode="reschedule",
                    execution_timeout=timedelta(seconds=5),
                )
                result = gate.poke(context)
                if result:
                    return result.xcom_value
            raise TimeoutError("gate did not pass")

        record, errors = tries(run_once, store)
        assert api.violations == []
        assert not [e for e in errors if "409" in str(e)], errors
        if record is None:
            continue
        execution = api.owned(str(record["execution_id"]))
        assert execution is not None and execution.status == "SUCCESSFUL", record
        if record["backup_started"]:
            assert execution.execution_id not in finished_before, "joined a finished execution"
        else:
            assert execution.end_time is not None
            ended = datetime.fromisoformat(execution.end_time.replace("Z", "+00:00"))
            assert datetime.now(UTC) - ended <= timedelta(hours=max_age_hours, minutes=1)
        assert store.data == {}
        api.lineage = next_lineage(api.lineage)


@MODEL_SETTINGS
@given(api=apis(), pokes=st.integers(1, 8), job_type=st.sampled_from(["BACKUP", "RESTORE"]))
def test_sensor_stays_on_the_execution_it_resolved(
    serve: Any, api: ModelApi, pokes: int, job_type: str
) -> None:
    """The latest execution when the task instance first looks is the one it waits for: it passes
    when that one succeeds, and only on that one (a newer run succeeding changes nothing)."""
    serve["api"] = api
    api.job_type = job_type
    store = FakeStateStore()
    missed: list[str] = []

    def run_once(context: dict[str, Any]) -> Any:
        for _ in range(pokes):
            target = api.owned(api.first_summary) if api.first_summary else None
            done_before = target is not None and target.final and target.status == "SUCCESSFUL"
            sensor = BaasExecutionSensor(task_id="wait", job_id=JOB, poke_interval=1, mode="reschedule")
            result = sensor.poke(context)
            if result:
                return result.xcom_value
            if done_before:
                missed.append(f"{api.first_summary} had succeeded, the poke did not pass")
        raise TimeoutError("still waiting")

    record, _errors = tries(run_once, store)
    assert missed == []
    if record is not None:
        assert record["execution_id"] == api.first_summary, f"switched to {record['execution_id']}"
        execution = api.owned(str(record["execution_id"]))
        assert execution is not None and execution.status == "SUCCESSFUL", record
