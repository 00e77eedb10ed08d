"""BaasBackupEventTrigger (asset watchers) against the simulator over real HTTP, rebuilt from serialize().

The trigger never ends on its own (a watcher keeps watching): each test runs it for a while,
then cancels it as the triggerer does when the asset is no longer watched.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator, Fault
from airflow_provider_baas.triggers.events import BaasBackupEventTrigger

from ._support import job_gets, rebuild_trigger, record_log, set_conn
from ._watching import MemoryStateStore, Watching

pytestmark = pytest.mark.usefixtures("close_sessions")

FAST = pytest.mark.sim(time_scale=36000)  # job 34 (2 h) takes 0.2 s, job 37 (40 min) 0.07 s
INTERVAL = 0.1
PAYLOAD_KEYS = {
    "execution_id",
    "job_id",
    "site_id",
    "status",
    "outcome",
    "start_time",
    "end_time",
    "backup_set_size",
    "status_detail",
    "run_type",
    "backup_started",
}


def watcher(job_id: int = 34, store: MemoryStateStore | None = None, **kwargs: Any) -> BaasBackupEventTrigger:
    """A trigger as the triggerer runs it: rebuilt from its kwargs, with the asset store injected."""
    trigger = rebuild_trigger(BaasBackupEventTrigger(job_id=job_id, poll_interval=INTERVAL, **kwargs))
    trigger.asset_state_store = store
    return trigger


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["execution_id"] for e in events]


# ---------------------------------------------------------------------------------------------
# New executions, and nothing else


@FAST
async def test_a_new_successful_execution_fires_one_event_with_its_details(sim: BaasSimulator) -> None:
    async with Watching(watcher()) as watching:
        await watching.polls(sim, 2)
        assert watching.events == []  # the job's 30 past backups ended before the watcher started
        execution_id = sim.start_execution(34)
        await watching.until(lambda: watching.events)
        await watching.polls(sim, 5)
    assert ids(watching.events) == [execution_id]
    event = watching.events[0]
    assert set(event) == PAYLOAD_KEYS
    record = sim.execution(execution_id)
    assert event["job_id"] == "34" and event["status"] == "SUCCESSFUL" and event["outcome"] == "success"
    assert event["backup_set_size"] == record["backup_set_size"] == 850_000_000_000
    assert event["status_detail"] == record["status_detail"] == "Job completed successfully."
    assert event["start_time"] and event["end_time"] > event["start_time"]
    assert event["backup_started"] is False
    assert sim.requests_matching("POST") == []  # a watcher only reads


@FAST
async def test_each_execution_fires_once_across_many_polls(sim: BaasSimulator) -> None:
    async with Watching(watcher()) as watching:
        started = []
        for _ in range(3):
            started.append(sim.start_execution(34))
            count = len(started)
            await watching.until(lambda: len(watching.events) >= count)  # noqa: B023 - awaited here
        await watching.polls(sim, 10)
    assert ids(watching.events) == started


@FAST
async def test_an_execution_running_when_the_watcher_starts_fires_when_it_ends(sim: BaasSimulator) -> None:
    sim.time_scale = 3600  # 2 s
    execution_id = sim.start_execution(34)
    async with Watching(watcher()) as watching:
        await watching.polls(sim, 2)
        assert watching.events == []
        await watching.until(lambda: watching.events, timeout=15)
    assert ids(watching.events) == [execution_id]


@FAST
async def test_failures_are_reported_only_when_asked_for(sim: BaasSimulator) -> None:
    default, with_failures = watcher(37), watcher(37, statuses=["successful", "FAILED"])
    async with Watching(default) as only_success, Watching(with_failures) as all_final:
        await only_success.polls(sim, 2, job_id=37)
        execution_id = sim.start_execution(37)  # job 37 fails: no DUMP right
        await all_final.until(lambda: all_final.events)
        await only_success.polls(sim, 5, job_id=37)
    assert only_success.events == []
    (event,) = all_final.events
    assert (event["execution_id"], event["status"], event["outcome"]) == (execution_id, "FAILED", "failed")
    assert "does not have DUMP access" in event["status_detail"]


def test_statuses_that_mean_still_running_are_refused() -> None:
    with pytest.raises(ValueError, match="still running"):
        BaasBackupEventTrigger(job_id=34, statuses=["SUCCESSFUL", "running"])
    with pytest.raises(ValueError, match="at least one"):
        BaasBackupEventTrigger(job_id=34, statuses=[])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"job_id": "abc"}, "positive integer"),
        ({"job_id": 0}, "positive integer"),
        ({"job_id": 34, "baas_conn_id": " "}, "connection"),
    ],
)
def test_bad_configuration_fails_while_parsing_not_in_the_triggerer(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        BaasBackupEventTrigger(**kwargs)


# ---------------------------------------------------------------------------------------------
# Identity: Airflow finds a watcher's trigger by class path and kwargs


def test_kwargs_are_configuration_only_and_stable() -> None:
    first = BaasBackupEventTrigger(job_id=34, statuses=("FAILED", "successful"), poll_interval=30)
    time.sleep(0.01)
    second = BaasBackupEventTrigger(job_id="34", statuses=["SUCCESSFUL", "FAILED"], poll_interval=30.0)
    assert first.serialize() == second.serialize()
    classpath, kwargs = first.serialize()
    assert classpath == "airflow_provider_baas.triggers.events.BaasBackupEventTrigger"
    assert kwargs == {
        "job_id": "34",
        "site_id": None,
        "baas_conn_id": "baas_default",
        "statuses": ["FAILED", "SUCCESSFUL"],
        "poll_interval": 30.0,
    }
    assert rebuild_trigger(first).serialize() == first.serialize()


# ---------------------------------------------------------------------------------------------
# Restarts: with the asset store's watermark (Airflow 3.3) and without one


@FAST
async def test_a_restart_with_a_stored_watermark_reports_what_ended_meanwhile_and_nothing_twice(
    sim: BaasSimulator,
) -> None:
    store = MemoryStateStore()
    async with Watching(watcher(store=store)) as first_run:
        before = sim.start_execution(34)
        await first_run.until(lambda: first_run.events)
        await first_run.until(lambda: store.values and before in store.only()["ids"])
    during_downtime = sim.start_execution(34)
    sim.finish_all()
    async with Watching(watcher(store=store)) as second_run:
        await second_run.until(lambda: second_run.events)
        await second_run.polls(sim, 5)
    assert ids(first_run.events) == [before]
    assert ids(second_run.events) == [during_downtime]


@FAST
async def test_the_first_start_is_stored_so_a_restart_does_not_replay_older_backups(
    sim: BaasSimulator,
) -> None:
    store = MemoryStateStore()
    async with Watching(watcher(store=store)) as first_run:
        await first_run.until(lambda: store.writes >= 1)
    first_start = store.only()["end_time"]
    async with Watching(watcher(store=store)) as second_run:
        await second_run.polls(sim, 3)
    assert first_run.events == second_run.events == []
    assert store.only()["end_time"] == first_start


@FAST
async def test_a_restart_without_a_store_starts_from_now(sim: BaasSimulator) -> None:
    async with Watching(watcher()) as first_run:
        before = sim.start_execution(34)
        await first_run.until(lambda: first_run.events)
    sim.start_execution(34)
    sim.finish_all()  # ends while no watcher runs: without a store nobody remembers it
    async with Watching(watcher()) as second_run:
        await second_run.polls(sim, 3)
        after = sim.start_execution(34)
        await second_run.until(lambda: second_run.events)
    assert ids(first_run.events) == [before]
    assert ids(second_run.events) == [after]


@FAST
async def test_the_watermark_key_separates_watchers_of_one_asset(sim: BaasSimulator) -> None:
    store = MemoryStateStore()
    success_only, with_failures = (
        watcher(store=store),
        watcher(store=store, statuses=["SUCCESSFUL", "FAILED"]),
    )
    assert success_only.watermark_key != with_failures.watermark_key
    async with Watching(success_only), Watching(with_failures):
        sim.start_execution(34)
        await asyncio.sleep(0.5)
    assert set(store.values) == {success_only.watermark_key, with_failures.watermark_key}


# ---------------------------------------------------------------------------------------------
# One poll per interval per job, however many watchers


@FAST
async def test_watchers_of_one_job_share_one_poll(sim: BaasSimulator) -> None:
    watchers = [watcher(), watcher(statuses=["FAILED"]), watcher(statuses=["SUCCESSFUL", "WARNING"])]
    async with Watching(watchers[0]) as a, Watching(watchers[1]) as b, Watching(watchers[2]) as c:
        await a.polls(sim, 2)
        sim.clear_requests()
        execution_id = sim.start_execution(34)
        await a.until(lambda: a.events and c.events)
        await a.polls(sim, 10)
    gets = job_gets(sim)
    listings = sim.requests_matching("GET", r"/jobs/34/executions$")
    span = gets[-1].time - gets[0].time
    assert len(gets) <= span / INTERVAL + 2  # one read per interval for all three watchers
    assert 1 <= len(listings) <= 3  # listed only when the job's newest execution changed
    assert ids(a.events) == ids(c.events) == [execution_id] and b.events == []


# ---------------------------------------------------------------------------------------------
# Errors: logged and backed off from, never the end of the watch


@FAST
async def test_transient_errors_are_retried_and_the_event_still_fires(sim: BaasSimulator) -> None:
    trigger = watcher()
    log = record_log(trigger)
    async with Watching(trigger) as watching:
        await watching.polls(sim, 1)
        sim.add_fault(Fault(kind="status", status=503, path="*/jobs/34", count=3))
        execution_id = sim.start_execution(34)
        await watching.until(lambda: watching.events)
    assert ids(watching.events) == [execution_id]
    assert [r for r in sim.requests if r.status == 503]
    assert "retrying" in log.text("warning") and "HTTP 503" in log.text("warning")
    assert log.text("error") == ""  # within the error budget


@FAST
async def test_a_listing_error_is_retried_on_the_next_reading(sim: BaasSimulator) -> None:
    async with Watching(watcher()) as watching:
        await watching.polls(sim, 1)
        sim.add_fault(Fault(kind="status", status=500, path="*/jobs/34/executions", count=2))
        execution_id = sim.start_execution(34)
        await watching.until(lambda: watching.events)
    assert ids(watching.events) == [execution_id]


@FAST
async def test_a_rejected_token_is_logged_as_an_error_and_the_watch_goes_on(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = set_conn(monkeypatch, sim, "baas_wrong_token", password="not-the-token")
    trigger = watcher(baas_conn_id=conn_id)
    log = record_log(trigger)
    async with Watching(trigger) as watching:
        await watching.polls(sim, 3)
        sim.start_execution(34)
        await watching.polls(sim, 3)
    assert watching.events == []
    errors = [text for level, text in log.lines if level == "error"]
    assert errors and all("still watching" in e and "non-transient" in e and "HTTP 401" in e for e in errors)
    assert "not-the-token" not in "\n".join(text for _, text in log.lines)


@FAST
async def test_a_transient_outage_beyond_the_error_budget_is_logged_as_an_error(sim: BaasSimulator) -> None:
    trigger = watcher()
    log = record_log(trigger)
    async with Watching(trigger) as watching:
        await watching.polls(sim, 1)
        sim.add_fault(Fault(kind="status", status=503, path="*/jobs/34", count=None))
        await watching.until(lambda: "still watching" in log.text("error"), timeout=20)
        sim.clear_faults()
        execution_id = sim.start_execution(34)
        await watching.until(lambda: watching.events)
    assert ids(watching.events) == [execution_id]
    assert "transient error" in log.text("error")
