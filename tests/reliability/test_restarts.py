"""Restarts and duplicates: a triggerer restart mid-wait, two trigger copies at once, a task retry and
a worker killed (SIGKILL) right after the execute request. Exactly one execution, every time.

The simulator runs with ``on_concurrent_execute="allow"``: a second execute would start a second
backup instead of being refused with 409, so any duplicate shows in its request log.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from airflow_provider_baas._compat import TaskDeferred
from airflow_provider_baas.errors import BaasError
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from tests.airflow_version import AIRFLOW_V_3

from ._support import (
    JOB,
    DagTI,
    FakeStateStore,
    FakeTI,
    FileStateStore,
    Finisher,
    accepted_posts,
    execution_ids,
    make_context,
    new_executions,
    posts,
    rebuild_trigger,
    run_trigger,
    single_event,
)

pytestmark = pytest.mark.usefixtures("close_sessions", "quick_backoff")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def operator(mode: str, **kwargs: Any) -> BaasExecuteJobOperator:
    options: dict[str, Any] = {"task_id": "backup", "job_id": JOB, "poll_interval": 0.1, "timeout": 60}
    options.update(deferrable=mode == "deferrable", **kwargs)
    return BaasExecuteJobOperator(**options)


# ---------------------------------------------------------------------------------------------
# Triggerer restart


async def test_triggerer_restart_mid_wait_resumes_with_the_same_deadline(make_sim: Any) -> None:
    sim = make_sim(on_concurrent_execute="allow", time_scale=3600)  # job 34 takes 2 s
    sim.add_fault(kind="status", status=503, method="GET", path=f"*/jobs/{JOB}", skip=2, count=2)
    context = make_context(FakeTI(), FakeStateStore())
    op = operator("deferrable", timeout=600)
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    stored = json.loads(json.dumps(info.value.trigger.serialize()[1]))  # what the metadata DB keeps
    first = rebuild_trigger(info.value.trigger)
    running = asyncio.ensure_future(run_trigger(first))
    await asyncio.sleep(0.6)  # mid-wait, inside the 503s: the triggerer process dies
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    polls_before = len(sim.requests_matching("GET", rf"/jobs/{JOB}$"))
    second = rebuild_trigger(first)  # a new triggerer re-creates it from the stored kwargs
    _, kwargs = second.serialize()
    assert kwargs == stored  # same absolute deadline, same start, same error budget
    assert second.deadline == stored["deadline"] and second.started_at == stored["started_at"]
    event = await single_event(second)
    assert event["status"] == "success", event["message"]
    assert event["elapsed_seconds"] >= 0.6  # measured from the original start of the wait
    assert len(sim.requests_matching("GET", rf"/jobs/{JOB}$")) > polls_before
    record = op.execute_complete(context, event)
    assert record["status"] == "SUCCESSFUL"
    assert len(posts(sim)) == 1


async def test_restart_after_the_deadline_times_out_at_once(make_sim: Any) -> None:
    sim = make_sim(on_concurrent_execute="allow")  # frozen: never finishes
    op = operator("deferrable", timeout=0.5)
    context = make_context(FakeTI(), FakeStateStore())
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    first = rebuild_trigger(info.value.trigger)
    running = asyncio.ensure_future(run_trigger(first))
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.sleep(0.5)  # the triggerer was down past the deadline
    sim.clear_requests()
    started = time.monotonic()
    event = await single_event(rebuild_trigger(first))
    assert event["status"] == "timeout" and time.monotonic() - started < 0.3
    assert sim.requests == []  # no poll is needed to know the deadline has passed


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_two_copies_with_faults_reach_the_same_single_outcome(make_sim: Any, seed: int) -> None:
    """Triggerer HA: two copies of one trigger run at once, each seeing different faults."""
    rng = random.Random(seed)
    sim = make_sim(on_concurrent_execute="allow", time_scale=14400)  # job 34: 0.5 s, job 37: 0.17 s
    job = rng.choice([34, 37])  # succeeds / fails with a detail
    execution_id = sim.start_execution(job)
    for kind in rng.sample(["drop", "malformed", "lost_answer", "status"], 3):
        sim.add_fault(
            kind=kind,
            status=rng.choice([429, 500, 502, 503, 504]),
            method="GET",
            path=f"*/jobs/{job}*",
            skip=rng.randrange(4),
            count=rng.randrange(1, 3),
        )
    context = make_context(FakeTI(), FakeStateStore())
    op = operator("deferrable", job_id=job)
    trigger = op_trigger(op, job, execution_id)
    first, second = await asyncio.gather(
        run_trigger(rebuild_trigger(trigger)), run_trigger(rebuild_trigger(trigger))
    )
    assert len(first) == len(second) == 1
    expected = "success" if job == 34 else "failed"
    assert first[0]["status"] == second[0]["status"] == expected
    assert first[0]["execution"]["execution_id"] == second[0]["execution"]["execution_id"] == execution_id
    assert first[0]["execution"]["status"] == second[0]["execution"]["status"]
    assert sim.requests_matching("POST") == []  # the trigger only reads
    if expected == "success":
        assert op.execute_complete(context, first[0])["execution_id"] == execution_id


def op_trigger(op: BaasExecuteJobOperator, job: int, execution_id: str) -> Any:
    from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

    return BaasExecutionTrigger(
        job_id=str(job), execution_id=execution_id, poll_interval=0.1, deadline=time.time() + 30
    )


# ---------------------------------------------------------------------------------------------
# Task retry and worker crash: exactly one execution


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
async def test_task_retry_after_a_failed_wait_attaches_to_the_execution(make_sim: Any, mode: str) -> None:
    """The first try fails during the wait (errors beyond its budget); the retry must attach."""
    sim = make_sim(on_concurrent_execute="allow", finisher=Finisher(after=2), conn_extra={"max_attempts": 1})
    before = execution_ids(sim)
    sim.add_fault(kind="status", status=503, method="GET", path=f"*/jobs/{JOB}", skip=2, count=11)
    store = FakeStateStore()
    with pytest.raises(BaasError, match="giving up"):
        await run_try(operator(mode, poll_interval=0.02), make_context(FakeTI(), store))
    record = await run_try(operator(mode), make_context(FakeTI(try_number=2), store))
    assert record["status"] == "SUCCESSFUL"
    (started,) = new_executions(sim, before)
    assert record["execution_id"] == started["execution_id"]
    assert len(posts(sim)) == 1


async def run_try(op: BaasExecuteJobOperator, context: dict[str, Any]) -> Any:
    try:
        return op.execute(context)
    except TaskDeferred as deferred:
        event = await single_event(rebuild_trigger(deferred.trigger))
        return op.execute_complete(context, event)


def worker_env() -> dict[str, str]:
    """This process's environment, plus its Fernet key: a worker of the same deployment must be able
    to read the Variables this process writes (and the other way round)."""
    env = dict(os.environ)
    if not AIRFLOW_V_3:
        from airflow.configuration import conf
        from airflow.models.crypto import get_fernet

        # The key this process really uses (none, if Airflow was imported before airflow.cfg existed).
        encrypting = getattr(get_fernet(), "is_encrypted", False)
        env["AIRFLOW__CORE__FERNET_KEY"] = conf.get("core", "fernet_key") if encrypting else ""
    return env


CRASH_POINTS = {
    # The worker dies while the execute request is being answered: the answer never arrives, only
    # "about to execute at <time>" was remembered.
    "before-the-answer": r"/jobs/34/execute$",
    # The worker dies at its first poll: the execution id was remembered.
    "at-the-first-poll": r"/jobs/34$",
}
STORES = ["state-store", pytest.param("variable", marks=pytest.mark.skipif(AIRFLOW_V_3, reason="2.11 only"))]


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("crash", list(CRASH_POINTS))
@pytest.mark.parametrize("mode", ["polling", "deferrable"])
async def test_worker_killed_after_execute_then_retry_runs_one_execution(
    request: pytest.FixtureRequest, make_sim: Any, tmp_path: Any, mode: str, crash: str, store: str
) -> None:
    if store == "variable":
        request.getfixturevalue("airflow_db")
        from airflow.models import Variable

        Variable.delete("baas_provider.task_state.baas_rel_crash.backup.manual__crash.-1")
    victim: dict[str, Any] = {"pid": None, "killed_at": None}
    point = re.compile(CRASH_POINTS[crash])

    def kill_worker(record: Any) -> None:
        finisher(record)
        if victim["pid"] and victim["killed_at"] is None and point.search(record.path):
            victim["killed_at"] = record.path
            os.kill(victim["pid"], signal.SIGKILL)

    finisher = Finisher(after=3)
    sim = make_sim(on_concurrent_execute="allow", on_request=kill_worker)
    finisher.sim = sim
    before = execution_ids(sim)
    state_file = str(tmp_path / "task_state.json")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability._crash_worker", mode, store, state_file],
        cwd=REPO,
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    victim["pid"] = worker.pid
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL, output[-3000:]
    assert victim["killed_at"] is not None
    assert "worker finished without being killed" not in output
    assert len(accepted_posts(sim)) == 1
    # The retry: same task instance, try 2, same memory (the state store file or the Variable).
    ti = DagTI(try_number=2)
    memory = FileStateStore(state_file) if store == "state-store" else None
    record = await run_try(operator(mode), make_context(ti, memory))
    assert record["status"] == "SUCCESSFUL"
    (started,) = new_executions(sim, before)
    assert record["execution_id"] == started["execution_id"] == ti.xcom("execution_id")
    assert len(posts(sim)) == 1  # one execute request in the whole life of the task instance
    if store == "state-store":
        assert "baas_execution" not in FileStateStore(state_file)._load()  # forgotten after success
