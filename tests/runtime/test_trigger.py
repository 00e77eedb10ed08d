"""BaasExecutionTrigger against the simulator over real HTTP (aiohttp), on pytest-asyncio's loop."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from typing import Any

import pytest

import airflow_provider_baas.triggers.baas as trigger_module
from airflow_provider_baas import polling
from airflow_provider_baas._compat import BaseHook
from airflow_provider_baas.polling import ExecutionWatch
from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.triggers.baas import BaasExecutionTrigger
from tests.airflow_version import AIRFLOW_V_3

from ._support import (
    PARTIAL_JOB,
    VERIFYING_JOB,
    ListHandler,
    job_gets,
    rebuild_trigger,
    record_log,
    run_trigger,
    set_conn,
    single_event,
)

pytestmark = pytest.mark.usefixtures("close_sessions")

EVENT_KEYS = {"status", "message", "job_id", "execution_id", "site_id", "execution", "elapsed_seconds"}
PERM_DETAIL = "does not have DUMP access to HR.PAYROLL"


def trigger_for(execution_id: str, job_id: int = 34, **kwargs: Any) -> BaasExecutionTrigger:
    options: dict[str, Any] = {"poll_interval": 0.2, "deadline": time.time() + 30}
    options.update(kwargs)
    return BaasExecutionTrigger(job_id=str(job_id), execution_id=execution_id, **options)


def limit_error_budget(monkeypatch: pytest.MonkeyPatch, **limits: Any) -> None:
    """The trigger's watch with other limits the trigger has no kwarg for (e.g. the not-found grace)."""
    monkeypatch.setattr(trigger_module, "ExecutionWatch", functools.partial(ExecutionWatch, **limits))


# ---------------------------------------------------------------------------------------------
# Outcomes


@pytest.mark.sim(time_scale=36000)  # job 34 (2 h) takes 0.2 s
async def test_success_event_carries_the_execution_record(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    event = await single_event(trigger_for(execution_id))
    assert set(event) >= EVENT_KEYS  # the documented schema (extra keys may be added)
    assert event["status"] == "success"
    assert (event["job_id"], event["execution_id"]) == ("34", execution_id)
    record = event["execution"]
    assert record["execution_id"] == execution_id
    assert record["status"] == "SUCCESSFUL"
    assert record["status_detail"] == "Job completed successfully."
    assert record["end_time"] and record["backup_set_size"] == 850_000_000_000
    assert event["elapsed_seconds"] >= 0
    assert sim.execution(execution_id)["status"] == "SUCCESSFUL"
    assert sim.requests_matching("POST") == []  # a trigger only reads


@pytest.mark.sim(time_scale=36000)
async def test_success_with_explicit_site(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(101, site_id="dr-site")
    event = await single_event(trigger_for(execution_id, job_id=101, site_id="dr-site"))
    assert event["status"] == "success" and event["site_id"] == "dr-site"
    assert all("/sites/dr-site/" in r.path for r in sim.requests)


@pytest.mark.sim(time_scale=36000)
@pytest.mark.parametrize(
    ("job_id", "status", "detail"),
    [(37, "FAILED", PERM_DETAIL), (41, "ABORTED", "exceeded the auto abort limit of 30 minutes")],
)
async def test_failure_event_carries_the_status_detail(
    sim: BaasSimulator, job_id: int, status: str, detail: str
) -> None:
    execution_id = sim.start_execution(job_id)
    event = await single_event(trigger_for(execution_id, job_id=job_id))
    assert event["status"] == "failed"
    assert detail in event["message"] and status in event["message"]
    assert event["execution"]["status"] == status
    assert detail in event["execution"]["status_detail"]


@pytest.mark.sim(time_scale=0)  # frozen: only sim.advance moves the execution on
async def test_unknown_status_mid_run_never_ends_the_wait_as_success(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(VERIFYING_JOB)
    sim.advance(7200 * 0.5)  # QUEUED 10%, RUNNING 10%, VERIFYING 80%
    assert sim.execution(execution_id)["status"] == "VERIFYING"
    trigger = trigger_for(execution_id, job_id=VERIFYING_JOB, deadline=time.time() + 1.0)
    event = await single_event(trigger)
    assert event["status"] == "timeout"
    assert "VERIFYING" in event["message"]
    assert len(job_gets(sim, VERIFYING_JOB)) >= 3  # it kept polling through the unknown status


@pytest.mark.sim(time_scale=7200)  # job 90 takes 1 s: QUEUED, RUNNING, then VERIFYING for 0.8 s
async def test_unknown_status_is_waited_through_until_success(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(VERIFYING_JOB)
    trigger = trigger_for(execution_id, job_id=VERIFYING_JOB, poll_interval=0.1)
    log = record_log(trigger)
    started = time.monotonic()
    event = await single_event(trigger)
    assert event["status"] == "success"
    assert event["execution"]["status"] == "SUCCESSFUL"
    assert time.monotonic() - started >= 0.5  # not before the execution really ended
    assert "VERIFYING" in log.text("info")


@pytest.mark.sim(time_scale=7200)  # job 90 takes 1 s: QUEUED, RUNNING, then VERIFYING for 0.8 s
async def test_progress_is_logged_at_info_on_status_changes_and_the_rest_at_debug(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(VERIFYING_JOB)
    trigger = trigger_for(execution_id, job_id=VERIFYING_JOB, poll_interval=0.05, first_interval=0.05)
    log = record_log(trigger)
    event = await single_event(trigger)
    assert event["status"] == "success"
    waits = [(level, text) for level, text in log.lines if "next poll in" in text]
    statuses = [text.split(": ", 1)[1].split(" after ", 1)[0] for _, text in waits]
    assert len(waits) == len(job_gets(sim, VERIFYING_JOB)) - 1  # one line per poll but the last
    reported = [s for (level, _), s in zip(waits, statuses, strict=True) if level == "info"]
    changes = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert reported == changes  # INFO exactly when the status changed (all within 300 s)
    assert "VERIFYING" in reported and len(waits) > len(reported)  # the rest went to DEBUG
    assert {level for level, _ in waits} == {"info", "debug"}


@pytest.mark.sim(time_scale=0)  # frozen: the execution stays QUEUED
async def test_the_trigger_wakes_on_the_shared_grid(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = sim.start_execution(34)
    loop = asyncio.get_running_loop()
    wake_ups: list[tuple[float, float]] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any) -> Any:
        if delay > 0.1:  # the trigger's waits between polls (nothing else sleeps that long here)
            wake_ups.append((delay, loop.time() + delay))
        return await real_sleep(delay, *args)

    monkeypatch.setattr(trigger_module.asyncio, "sleep", recording_sleep)
    monkeypatch.setattr(BaasExecutionTrigger, "waiting", 40)  # as if 40 other waits ran here: 8*0.35/41
    grid = polling.wake_grid(0.35, 41)
    assert grid == 1 / 16
    trigger = trigger_for(execution_id, poll_interval=0.35, first_interval=0.35, deadline=time.time() + 1.3)
    event = await single_event(trigger)
    assert event["status"] == "timeout"
    assert BaasExecutionTrigger.waiting == 40  # counted while waiting, uncounted after
    assert len(wake_ups) >= 2
    for delay, wake in wake_ups[:-1]:  # the last one may be cut short by the deadline
        assert 0.35 - grid < delay <= 0.35
        assert wake / grid == pytest.approx(round(wake / grid), abs=1e-3)


@pytest.mark.sim(time_scale=3600)
async def test_unknown_final_status_is_a_timeout_not_a_success(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(PARTIAL_JOB)  # 60 s of BaaS time: PARTIAL after 17 ms
    time.sleep(0.05)
    assert sim.execution(execution_id)["status"] == "PARTIAL"
    event = await single_event(trigger_for(execution_id, job_id=PARTIAL_JOB, deadline=time.time() + 0.6))
    assert event["status"] == "timeout"
    assert "PARTIAL" in event["message"]


@pytest.mark.sim(time_scale=36000)
async def test_custom_success_statuses_are_kept_through_serialize(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(PARTIAL_JOB)
    trigger = rebuild_trigger(trigger_for(execution_id, job_id=PARTIAL_JOB, success_statuses=["partial"]))
    event = await single_event(trigger)
    assert event["status"] == "success"
    assert event["execution"]["status"] == "PARTIAL"


# ---------------------------------------------------------------------------------------------
# Transient errors and the error budget


@pytest.mark.sim(time_scale=7200)
async def test_transient_faults_within_budget_still_succeed(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    faults = [
        sim.add_fault(kind="status", status=503, method="GET", path="*/jobs/34", count=3),
        sim.add_fault(kind="drop", method="GET", path="*/jobs/34", count=1),
        sim.add_fault(kind="malformed", method="GET", path="*/jobs/34", count=1),
        sim.add_fault(kind="status", status=429, method="GET", path="*/jobs/34", count=1, retry_after=0),
    ]
    event = await single_event(trigger_for(execution_id))
    assert event["status"] == "success", event["message"]
    assert event["execution"]["status"] == "SUCCESSFUL"
    assert [f.hits for f in faults] == [3, 1, 1, 1]
    assert len(job_gets(sim)) >= 7


@pytest.mark.sim(time_scale=3600)
async def test_persistent_503_beyond_the_budget_is_an_error_event(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = sim.start_execution(34)
    sim.add_fault(kind="status", status=503, method="GET", path="*/jobs/34", count=None)
    event = await single_event(trigger_for(execution_id, max_consecutive_errors=2))
    assert event["status"] == "error"
    assert "giving up after 3 failed polls" in event["message"]
    assert "503" in event["message"]
    assert len(job_gets(sim)) == 3  # two tolerated, the third ends the wait; hook retries are off


@pytest.mark.sim(time_scale=3600)
async def test_error_window_beyond_budget_is_an_error_event(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = sim.start_execution(34)
    sim.add_fault(kind="drop", method="GET", path="*/jobs/34", count=None)
    started = time.monotonic()
    event = await single_event(trigger_for(execution_id, error_window=0.5))
    assert event["status"] == "error" and "giving up" in event["message"]
    assert 0.5 <= time.monotonic() - started < 3


@pytest.mark.sim(time_scale=3600)
async def test_wrong_token_is_an_error_event_at_once(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = set_conn(monkeypatch, sim, "baas_wrong", password="wrong-token-123")
    execution_id = sim.start_execution(34)
    event = await single_event(trigger_for(execution_id, baas_conn_id=conn_id))
    assert event["status"] == "error"
    assert "401" in event["message"] and "BaasAuthError" in event["message"]
    assert len(sim.requests) == 1  # no retry of a 401 with a static token
    assert "wrong-token-123" not in json.dumps(event)


@pytest.mark.sim(time_scale=3600)
async def test_unknown_execution_after_grace_is_an_error(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit_error_budget(monkeypatch, not_found_grace=0.3)
    event = await single_event(trigger_for("999999"))
    assert event["status"] == "error"
    assert "999999" in event["message"] and "not found" in event["message"]


# ---------------------------------------------------------------------------------------------
# The deadline


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s
async def test_deadline_is_a_timeout_event(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    started = time.monotonic()
    event = await single_event(trigger_for(execution_id, deadline=time.time() + 0.6))
    took = time.monotonic() - started
    assert event["status"] == "timeout"
    assert "goes on on the server" in event["message"]
    assert 0.5 <= took < 1.5
    assert sim.execution(execution_id)["status"] == "RUNNING"


@pytest.mark.sim(time_scale=3600)
async def test_past_deadline_is_a_timeout_without_any_request(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    event = await single_event(trigger_for(execution_id, deadline=time.time() - 1))
    assert event["status"] == "timeout"
    assert sim.requests == []


@pytest.mark.sim(time_scale=3600, conn_extra={"read_timeout": 0.4})
async def test_hanging_server_still_ends_with_a_timeout_event(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    sim.add_fault(kind="delay", delay=5, method="GET", path="*/jobs/34", count=None)
    started = time.monotonic()
    event = await single_event(trigger_for(execution_id, deadline=time.time() + 0.3))
    assert event["status"] == "timeout"
    assert time.monotonic() - started < 2  # bounded by the read timeout, not by the server


# ---------------------------------------------------------------------------------------------
# serialize(), re-creation, and concurrent copies


@pytest.mark.sim(time_scale=3600)
async def test_serialize_is_json_without_secrets_and_with_an_absolute_deadline(sim: BaasSimulator) -> None:
    deadline = time.time() + 3600
    trigger = trigger_for("1234", deadline=deadline, site_id="demo-site", success_statuses=["SUCCESSFUL"])
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_baas.triggers.baas.BaasExecutionTrigger"
    text = json.dumps(kwargs)
    assert json.loads(text) == kwargs
    assert sim.token not in text and "password" not in text and "token" not in text.lower()
    assert kwargs["deadline"] == deadline  # an instant, not a duration
    assert kwargs["baas_conn_id"] == "baas_default"
    assert (kwargs["job_id"], kwargs["execution_id"], kwargs["site_id"]) == ("34", "1234", "demo-site")
    time.sleep(0.01)
    again = rebuild_trigger(trigger)
    assert again.serialize() == (classpath, kwargs)  # re-created later: same deadline, same start


@pytest.mark.sim(time_scale=3600)  # job 34 takes 2 s
async def test_recreated_mid_wait_keeps_the_deadline_and_the_outcome(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    t0 = time.monotonic()
    first = trigger_for(execution_id, deadline=time.time() + 1.2)
    task = asyncio.ensure_future(run_trigger(first))
    await asyncio.sleep(0.5)  # a triggerer restart mid-wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    second = rebuild_trigger(first)
    assert second.deadline == first.deadline and second.started_at == first.started_at
    event = await single_event(second)
    took = time.monotonic() - t0
    assert event["status"] == "timeout"
    assert 1.1 <= took < 2.0  # the original deadline, not 1.2 s after the re-creation
    assert event["elapsed_seconds"] >= 1.1  # elapsed counts from the original start


@pytest.mark.sim(time_scale=7200)
async def test_recreated_mid_wait_reaches_the_same_success(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    first = trigger_for(execution_id)
    task = asyncio.ensure_future(run_trigger(first))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    event = await single_event(rebuild_trigger(first))
    assert event["status"] == "success" and event["execution"]["execution_id"] == execution_id


@pytest.mark.sim(time_scale=7200)
async def test_recreated_long_after_the_start_tolerates_one_blip(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    sim.add_fault(kind="status", status=503, method="GET", path="*/jobs/34", count=1)
    # A triggerer restart two hours into a long wait re-creates the trigger from its kwargs.
    original = trigger_for(execution_id, started_at=time.time() - 7200)
    event = await single_event(rebuild_trigger(original))
    assert event["status"] == "success", event["message"]


@pytest.mark.sim(time_scale=7200)
@pytest.mark.parametrize(("job_id", "status"), [(34, "success"), (37, "failed")])
async def test_two_copies_running_at_once_reach_the_same_single_outcome(
    sim: BaasSimulator, job_id: int, status: str
) -> None:
    execution_id = sim.start_execution(job_id)
    original = trigger_for(execution_id, job_id=job_id)
    runs = await asyncio.gather(
        run_trigger(rebuild_trigger(original)), run_trigger(rebuild_trigger(original))
    )
    assert [len(events) for events in runs] == [1, 1]
    (a,), (b,) = runs
    assert a["status"] == b["status"] == status
    assert a["execution"]["status"] == b["execution"]["status"]
    assert a["execution"]["execution_id"] == b["execution"]["execution_id"] == execution_id
    assert sim.requests_matching("POST") == []


# ---------------------------------------------------------------------------------------------
# Triggerer hygiene: no blocking, no sync connection lookup in the loop, one pooled session, no leaks


@pytest.mark.sim(time_scale=7200)
async def test_run_never_blocks_the_event_loop(sim: BaasSimulator) -> None:
    execution_id = sim.start_execution(34)
    sim.add_fault(kind="delay", delay=0.5, method="GET", path="*/jobs/34", count=2)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.ensure_future(ticker())
    event = await single_event(trigger_for(execution_id))
    done.set()
    await tick
    assert event["status"] == "success"
    assert len(gaps) > 50
    assert max(gaps) < 0.35, max(gaps)  # a blocking 0.5 s request would show here


class SyncLookupInLoop(AssertionError):
    pass


@pytest.fixture
def guarded_lookup(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """``BaseHook.get_connection`` raises when called with a running event loop in its thread.

    Counts sync lookups made off the loop (Airflow 2: ``asyncio.to_thread``) and awaited async ones.
    """
    calls = {"sync_off_loop": 0, "async": 0}
    real_get = BaseHook.get_connection
    real_aget = getattr(BaseHook, "aget_connection", None)

    def get_connection(cls: Any, conn_id: str) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            calls["sync_off_loop"] += 1
            return real_get(conn_id)
        raise SyncLookupInLoop(f"sync connection lookup of {conn_id!r} inside a running event loop")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(get_connection))
    if real_aget is not None:

        async def aget_connection(cls: Any, conn_id: str) -> Any:
            calls["async"] += 1
            return await real_aget(conn_id)

        monkeypatch.setattr(BaseHook, "aget_connection", classmethod(aget_connection))
    return calls


@pytest.mark.sim(time_scale=36000)
async def test_no_sync_connection_lookup_inside_the_event_loop(
    sim: BaasSimulator, guarded_lookup: dict[str, int]
) -> None:
    execution_id = sim.start_execution(34)
    event = await single_event(trigger_for(execution_id))
    assert event["status"] == "success", event["message"]
    if AIRFLOW_V_3:
        assert guarded_lookup["async"] == 1  # BaseHook.aget_connection, awaited once per trigger
        assert guarded_lookup["sync_off_loop"] == 0
    else:
        assert guarded_lookup["sync_off_loop"] == 1  # Airflow 2: the sync lookup, in a worker thread


@pytest.mark.sim(time_scale=36000)
async def test_the_guard_catches_a_sync_lookup_in_the_loop(
    sim: BaasSimulator, guarded_lookup: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves the test above can fail: an ``aconfig`` that used the sync lookup is caught."""
    from airflow_provider_baas.hooks.baas import BaasHook

    async def sync_aconfig(self: BaasHook) -> Any:
        return self.config  # the bug of apache/airflow#53447: sync lookup inside the triggerer

    monkeypatch.setattr(BaasHook, "aconfig", sync_aconfig)
    event = await single_event(trigger_for(sim.start_execution(34)))
    assert event["status"] == "error"
    assert "sync connection lookup" in event["message"]
    assert sim.requests == []


@pytest.mark.sim(time_scale=7200)
async def test_one_pooled_session_for_every_poll(sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import aiohttp

    created: list[Any] = []
    real_init = aiohttp.ClientSession.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", counting_init)
    execution_id = sim.start_execution(34)
    event = await single_event(trigger_for(execution_id, poll_interval=0.1))
    assert event["status"] == "success"
    assert len(job_gets(sim)) >= 5
    assert len(created) == 1


@pytest.mark.sim(time_scale=36000)
async def test_no_token_in_logs_or_events(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch, provider_logs: ListHandler
) -> None:
    execution_id = sim.start_execution(34)
    ok = trigger_for(execution_id)
    ok_log = record_log(ok)
    wrong = trigger_for(
        execution_id, baas_conn_id=set_conn(monkeypatch, sim, "baas_wrong", password="s3cr3t-x")
    )
    wrong_log = record_log(wrong)
    events = [await single_event(ok), await single_event(wrong)]
    assert [e["status"] for e in events] == ["success", "error"]
    everything = "\n".join([*provider_logs.messages, ok_log.text(), wrong_log.text(), json.dumps(events)])
    # The failed wait's reason is in its event (the task logs it once when it resumes), not in the
    # trigger's own log; both are searched above.
    assert ok_log.lines and events[1]["message"]
    assert sim.token not in everything
    assert "s3cr3t-x" not in everything


async def test_on_kill_says_the_execution_goes_on_and_sends_nothing(sim: BaasSimulator) -> None:
    trigger = trigger_for("1234")
    log = record_log(trigger)
    await trigger.on_kill()
    assert "1234" in log.text("warning") and "goes on on the server" in log.text("warning")
    assert sim.requests == []
