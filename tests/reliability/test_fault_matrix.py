"""The fault matrix: every fault of the simulator, during execute and during the wait, in polling mode
(the operator's blocking wait) and deferrable mode (the trigger, rebuilt from ``serialize()``).

The simulator's time is frozen (``time_scale=0``) and a ``Finisher`` ends the execution only once
the faults are spent, so every fault is guaranteed to hit a running wait. Connections use a 0.5 s
read timeout and two attempts per request (``FAST_EXTRA``), so both the hook's retries and the
wait's transient-error budget are exercised. docs/reliability.md's fault table names these tests.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from airflow_provider_baas._compat import TaskDeferred
from airflow_provider_baas.errors import (
    BaasAuthError,
    BaasError,
    BaasExecuteOutcomeUnknown,
    BaasNotFoundError,
)
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.testing import BaasSimulator

from ._support import (
    JOB,
    POLL,
    SITE,
    FakeStateStore,
    FakeTI,
    Finisher,
    TokenSpy,
    accepted_posts,
    execution_ids,
    make_context,
    new_executions,
    posts,
    rebuild_trigger,
    record_log,
    single_event,
)
from .conftest import KEY_ID

pytestmark = pytest.mark.usefixtures("close_sessions", "quick_backoff")

MODES = ["polling", "deferrable"]
NOT_FOUND_BODY = {"status": 404, "error": "Not Found", "message": f"job {JOB} not found in site {SITE}"}


def operator(mode: str, **kwargs: Any) -> BaasExecuteJobOperator:
    options: dict[str, Any] = {
        "task_id": "backup",
        "job_id": JOB,
        "poll_interval": 0.1,
        "timeout": 60,  # a regression fails the test instead of hanging it
        "deferrable": mode == "deferrable",
    }
    options.update(kwargs)
    return BaasExecuteJobOperator(**options)


async def run_task(op: BaasExecuteJobOperator, context: dict[str, Any]) -> tuple[Any, bool]:
    """One try of the task: ``execute``, and in deferrable mode the trigger and ``execute_complete``.

    Returns the task's result and whether it deferred.
    """
    try:
        return op.execute(context), False
    except TaskDeferred as deferred:
        assert op.deferrable
        event = await single_event(rebuild_trigger(deferred.trigger))
        return getattr(op, deferred.method_name)(context, event), True


def gaps_after(sim: BaasSimulator, fault_status: int) -> list[float]:
    """Seconds between each request answered ``fault_status`` by a fault and the next poll."""
    log = [r for r in sim.requests if r.method == "GET"]
    gaps = []
    for i, r in enumerate(log):
        if r.fault == "status" and r.status == fault_status and i + 1 < len(log):
            gaps.append(log[i + 1].time - r.time)
    return gaps


# ---------------------------------------------------------------------------------------------
# During the wait: every transient fault is survived (hook retries, then the wait's error budget)

# count=3 with two attempts per request: the hook's retries are spent once (the wait's budget takes
# over), then the next poll gets through on its second attempt.
WAIT_SURVIVED: dict[str, dict[str, Any]] = {
    # count=2: Retry-After: 1 honoured by the hook's retry, then by the wait before its next poll.
    "429-retry-after": {"kind": "status", "status": 429, "retry_after": 1, "count": 2},
    "429": {"kind": "status", "status": 429},
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "504": {"kind": "status", "status": 504},
    "read-timeout": {"kind": "delay", "delay": 0.8},
    "drop": {"kind": "drop"},
    "malformed-json": {"kind": "malformed"},
    "lost-answer": {"kind": "lost_answer"},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(WAIT_SURVIVED))
async def test_wait_survives(make_sim: Any, mode: str, fault: str) -> None:
    sim = make_sim(finisher=Finisher(after=1))
    before = execution_ids(sim)
    # skip=2: the first two polls are good (in deferrable mode: the operator's and the trigger's first).
    spec = {"count": 3, **WAIT_SURVIVED[fault]}
    injected = sim.add_fault(method="GET", path=f"*/jobs/{JOB}", skip=2, **spec)
    ti = FakeTI()
    record, deferred = await run_task(operator(mode), make_context(ti, FakeStateStore()))
    assert deferred == (mode == "deferrable")
    assert injected.hits == spec["count"]
    assert record["status"] == "SUCCESSFUL"
    (started,) = new_executions(sim, before)
    assert record["execution_id"] == started["execution_id"] == ti.xcom("execution_id")
    assert len(posts(sim)) == 1  # a fault in the wait never causes another execute
    if fault == "429-retry-after":
        gaps = gaps_after(sim, 429)
        assert len(gaps) == 2 and min(gaps) >= 0.95, gaps  # Retry-After: 1 honoured every time


@pytest.mark.parametrize("mode", MODES)
async def test_wait_survives_401_with_a_pat_jwt_reminted(
    make_sim: Any, pat_extra: dict[str, Any], rsa_key: tuple[str, str], mode: str
) -> None:
    sim = make_sim(
        finisher=Finisher(after=1),
        token=None,
        jwt_public_key=rsa_key[1],
        jwt_kid=KEY_ID,
        conn_extra=pat_extra,
    )
    spy = TokenSpy(sim)
    injected = sim.add_fault(kind="status", status=401, method="GET", path=f"*/jobs/{JOB}", skip=2, count=1)
    op = operator(mode)
    record, deferred = await run_task(op, make_context(FakeTI(), FakeStateStore()))
    assert deferred == (mode == "deferrable")
    assert injected.hits == 1
    assert record["status"] == "SUCCESSFUL"
    assert len(posts(sim)) == 1
    # The server saw only valid JWTs (it answered them), and after the 401 a newly minted one.
    rejected_at = next(r.time for r in sim.requests if r.status == 401)
    seen_before = [t for (at, t) in spy.seen if at < rejected_at]
    seen_after = [t for (at, t) in spy.seen if at > rejected_at]
    assert seen_before and seen_after
    assert seen_after[0] != seen_before[-1]
    assert all(t.count(".") == 2 for _, t in spy.seen)
    assert all(r.status in (200, 202, 401) for r in sim.requests)


# ---------------------------------------------------------------------------------------------
# During the wait: faults that end it, with a message that says why


@pytest.mark.parametrize("mode", MODES)
async def test_wait_fails_when_the_job_is_deleted_mid_wait(make_sim: Any, mode: str) -> None:
    sim = make_sim()
    sim.add_fault(
        kind="status",
        status=404,
        body=NOT_FOUND_BODY,
        method="GET",
        path=f"*/jobs/{JOB}*",
        skip=3,  # the listing before the POST, then two good polls
        count=None,
    )
    ti = FakeTI()
    op = operator(mode)
    with pytest.raises(BaasError) as info:
        await run_task(op, make_context(ti, FakeStateStore()))
    message = str(info.value)
    execution_id = ti.xcom("execution_id")
    assert f"BaaS execution {execution_id} of job {JOB}" in message
    assert "BaasNotFoundError" in message and "HTTP 404" in message
    assert f"job {JOB} not found in site {SITE}" in message
    assert len(sim.requests_matching("GET", POLL)) == 3  # a 404 is not retried: two good polls, one 404
    assert len(posts(sim)) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_wait_fails_on_401_with_a_static_token(make_sim: Any, mode: str) -> None:
    sim = make_sim()
    sim.add_fault(kind="status", status=401, method="GET", path=f"*/jobs/{JOB}", skip=2, count=1)
    op = operator(mode)
    with pytest.raises(BaasError) as info:
        await run_task(op, make_context(FakeTI(), FakeStateStore()))
    assert "BaasAuthError" in str(info.value) and "HTTP 401" in str(info.value)
    assert len(sim.requests_matching("GET", POLL)) == 3  # a static token cannot be renewed: no retry
    assert sim.token not in str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_wait_fails_on_401_that_persists_after_reminting(
    make_sim: Any, pat_extra: dict[str, Any], rsa_key: tuple[str, str], mode: str
) -> None:
    sim = make_sim(token=None, jwt_public_key=rsa_key[1], jwt_kid=KEY_ID, conn_extra=pat_extra)
    sim.add_fault(kind="status", status=401, method="GET", path=f"*/jobs/{JOB}", skip=2, count=None)
    op = operator(mode)
    with pytest.raises(BaasError) as info:
        await run_task(op, make_context(FakeTI(), FakeStateStore()))
    assert "BaasAuthError" in str(info.value) and "HTTP 401" in str(info.value)
    assert len(sim.requests_matching("GET", POLL)) == 4  # two good polls; a 401, one re-minted retry


@pytest.mark.parametrize("mode", MODES)
async def test_wait_gives_up_when_faults_outlast_the_error_budget(make_sim: Any, mode: str) -> None:
    """A wait that only ever sees 503s ends with "giving up", never hangs (budget: 10 polls in a row)."""
    sim = make_sim(conn_extra={"max_attempts": 1})  # one request per poll: the budget counts polls
    sim.add_fault(kind="status", status=503, method="GET", path=f"*/jobs/{JOB}", skip=2, count=None)
    op = operator(mode, poll_interval=0.05)
    with pytest.raises(BaasError) as info:
        await run_task(op, make_context(FakeTI(), FakeStateStore()))
    assert "giving up after 11 failed polls in a row" in str(info.value)
    assert "HTTP 503" in str(info.value)
    assert len(sim.requests_matching("GET", POLL)) == 2 + 11  # 10 tolerated in a row, the 11th ends it


# ---------------------------------------------------------------------------------------------
# During execute


EXECUTE_RETRIED: dict[str, dict[str, Any]] = {
    # The server refused the request before doing anything: re-sending it is safe.
    "429-retry-after": {"kind": "status", "status": 429, "retry_after": 1},
    "429": {"kind": "status", "status": 429},
}
EXECUTE_FOUND: dict[str, dict[str, Any]] = {
    # The request reached the server, the answer did not reach us: the execution is looked up.
    "lost-answer": {"kind": "lost_answer"},
    "read-timeout": {"kind": "delay", "delay": 0.5},
}
EXECUTE_UNKNOWN: dict[str, dict[str, Any]] = {
    # Maybe sent, and no execution appeared: never re-sent; the task fails, its retry starts one.
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "504": {"kind": "status", "status": 504},
    "drop": {"kind": "drop"},
    "malformed-json": {"kind": "malformed"},
}


def execute_fault(sim: BaasSimulator, spec: dict[str, Any]) -> Any:
    return sim.add_fault(method="POST", path=f"*/jobs/{JOB}/execute", count=1, **spec)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(EXECUTE_RETRIED))
async def test_execute_retries_a_refused_request(make_sim: Any, mode: str, fault: str) -> None:
    sim = make_sim(finisher=Finisher(after=2))
    before = execution_ids(sim)
    execute_fault(sim, EXECUTE_RETRIED[fault])
    record, deferred = await run_task(operator(mode), make_context(FakeTI(), FakeStateStore()))
    assert deferred == (mode == "deferrable")
    assert record["status"] == "SUCCESSFUL"
    assert [r.status for r in posts(sim)] == [429, 202]
    assert len(new_executions(sim, before)) == 1
    if fault == "429-retry-after":
        first, second = posts(sim)
        assert second.time - first.time >= 0.95


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(EXECUTE_FOUND))
async def test_execute_finds_the_execution_of_a_lost_answer(
    make_sim: Any, fast_lookup: None, mode: str, fault: str
) -> None:
    sim = make_sim(finisher=Finisher(after=2))
    before = execution_ids(sim)
    execute_fault(sim, EXECUTE_FOUND[fault])
    ti = FakeTI()
    record, deferred = await run_task(operator(mode), make_context(ti, FakeStateStore()))
    assert deferred == (mode == "deferrable")
    (started,) = new_executions(sim, before)
    assert record["status"] == "SUCCESSFUL"
    assert record["execution_id"] == started["execution_id"] == ti.xcom("execution_id")
    assert len(posts(sim)) == 1  # never re-sent
    assert sim.requests_matching("GET", rf"/jobs/{JOB}/executions$")  # found by looking it up


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", list(EXECUTE_UNKNOWN))
async def test_execute_outcome_unknown_fails_then_the_retry_starts_one(
    make_sim: Any, fast_lookup: None, mode: str, fault: str
) -> None:
    sim = make_sim(finisher=Finisher(after=2))
    before = execution_ids(sim)
    execute_fault(sim, EXECUTE_UNKNOWN[fault])
    store = FakeStateStore()
    with pytest.raises(BaasExecuteOutcomeUnknown) as info:
        await run_task(operator(mode), make_context(FakeTI(), store))
    message = str(info.value)
    assert f"Outcome of executing BaaS job {JOB} on site {SITE} is unknown" in message
    assert "NOT re-sent" in message
    assert len(posts(sim)) == 1 and new_executions(sim, before) == []
    # The listing before the POST (what existed then is never taken for its result), then
    # EXECUTE_LOOKUP_ATTEMPTS listings of the job's executions, then the task failed.
    assert len(sim.requests_matching("GET", rf"/jobs/{JOB}/executions$")) == 1 + 4
    # The task's retry (same task instance, same state store) starts the one and only execution.
    record, deferred = await run_task(operator(mode), make_context(FakeTI(try_number=2), store))
    assert deferred == (mode == "deferrable")
    assert record["status"] == "SUCCESSFUL"
    assert len(new_executions(sim, before)) == 1
    assert len(accepted_posts(sim)) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_execute_survives_401_with_a_pat_jwt_reminted(
    make_sim: Any, pat_extra: dict[str, Any], rsa_key: tuple[str, str], mints: list[str], mode: str
) -> None:
    sim = make_sim(
        finisher=Finisher(after=2),
        token=None,
        jwt_public_key=rsa_key[1],
        jwt_kid=KEY_ID,
        conn_extra=pat_extra,
    )
    spy = TokenSpy(sim)
    before = execution_ids(sim)
    execute_fault(sim, {"kind": "status", "status": 401})
    record, _ = await run_task(operator(mode), make_context(FakeTI(), FakeStateStore()))
    assert record["status"] == "SUCCESSFUL"
    assert [r.status for r in posts(sim)] == [401, 202]  # a 401 was not processed: re-sent once
    assert len(new_executions(sim, before)) == 1
    # Minted: one JWT for the rejected POST, a new one for its re-send (+1 for the trigger's own hook).
    assert len(mints) == (2 if mode == "polling" else 3)
    # The server accepted the re-minted one (seen[0]: the listing before the POST, with the first JWT).
    assert mints[0] != mints[1] and spy.seen[0][1] == mints[0] and spy.seen[1][1] == mints[1]


@pytest.mark.parametrize("mode", MODES)
async def test_execute_of_a_deleted_job_fails_with_404(make_sim: Any, mode: str) -> None:
    sim = make_sim()
    before = execution_ids(sim)
    execute_fault(sim, {"kind": "status", "status": 404, "body": NOT_FOUND_BODY})
    with pytest.raises(BaasNotFoundError) as info:
        await run_task(operator(mode), make_context(FakeTI(), FakeStateStore()))
    assert "HTTP 404" in str(info.value) and f"job {JOB} not found in site {SITE}" in str(info.value)
    assert len(posts(sim)) == 1 and new_executions(sim, before) == []


@pytest.mark.parametrize("mode", MODES)
async def test_execute_401_with_a_static_token_fails_without_resending(make_sim: Any, mode: str) -> None:
    sim = make_sim()
    execute_fault(sim, {"kind": "status", "status": 401})
    with pytest.raises(BaasAuthError) as info:
        await run_task(operator(mode), make_context(FakeTI(), FakeStateStore()))
    assert "HTTP 401" in str(info.value)
    assert len(posts(sim)) == 1


def test_matrix_finisher_really_waits_for_the_faults(make_sim: Any) -> None:
    """The Finisher keeps a frozen execution running while a fault is pending (guards the matrix)."""
    finisher = Finisher(after=1)
    sim = make_sim(finisher=finisher)
    execution_id = sim.start_execution(JOB)
    fault = sim.add_fault(kind="status", status=503, method="GET", path=f"*/jobs/{JOB}", count=1)
    headers = {"Authorization": f"Bearer {sim.token}"}
    url = f"{sim.base_url}/sites/{SITE}/jobs/{JOB}"
    assert requests.get(url, headers=headers, timeout=5).status_code == 503
    assert fault.exhausted and not finisher.finished.is_set()
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    assert finisher.finished.is_set()
    assert sim.execution(execution_id)["status"] == "SUCCESSFUL"


# ---------------------------------------------------------------------------------------------
# The deadline while a poll is retrying


@pytest.mark.parametrize("mode", MODES)
async def test_the_deadline_binds_a_poll_that_is_retrying(make_sim: Any, mode: str) -> None:
    sim = make_sim(conn_extra={"max_retry_wait": 10})
    sim.add_fault(
        kind="status", status=429, retry_after=6, method="GET", path=f"*/jobs/{JOB}", skip=2, count=1
    )
    op = operator(mode, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(BaasError, match="Timed out"):
        await run_task(op, make_context(FakeTI(), FakeStateStore()))
    # Not 6 s: the Retry-After outlives the deadline (2 s of margin for a loaded CI machine).
    assert time.monotonic() - started < 0.5 + 2.0


async def test_polling_wait_logs_every_error_it_rides_out(make_sim: Any) -> None:
    """The blocking wait, like the trigger, says why it keeps waiting: each failed poll is logged."""
    sim = make_sim(finisher=Finisher(after=1), conn_extra={"max_attempts": 1})
    sim.add_fault(kind="status", status=503, method="GET", path=f"*/jobs/{JOB}", skip=2, count=2)
    op = operator("polling")
    log = record_log(op)
    record, _ = await run_task(op, make_context(FakeTI(), FakeStateStore()))
    assert record["status"] == "SUCCESSFUL"
    warnings = log.text("warning")
    assert warnings.count("HTTP 503") == 2, log.lines
    assert f"Poll of BaaS execution {record['execution_id']} of job {JOB} failed" in warnings
