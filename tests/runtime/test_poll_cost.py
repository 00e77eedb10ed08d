"""What a wait costs the API, against the simulator over real HTTP: one request per poll whether the
job summary shows running executions or only finished ones, fewer polls with a history, and one
log line per event across a deferrable sensor and its trigger."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.polling import LOOKUP_RECHECK_EVERY, ExecutionWatch
from airflow_provider_baas.sensors.baas import BaasExecutionSensor
from airflow_provider_baas.testing import BaasSimulator
from airflow_provider_baas.triggers.baas import BaasExecutionTrigger
from airflow_provider_baas.waiting import poll_once

from ._support import FakeTI, make_context, rebuild_trigger, record_log, run_trigger, runtime_scenario

pytestmark = pytest.mark.usefixtures("close_sessions")


def finished_only() -> Any:
    scenario = runtime_scenario()
    scenario.summary_details = "finished"
    return scenario


def kinds(sim: BaasSimulator) -> list[str]:
    """Each GET: "job" (the summary, J2) or "listing" (J5)."""
    return ["listing" if r.path.endswith("/executions") else "job" for r in sim.requests if r.method == "GET"]


def running_execution(sim: BaasSimulator, job_id: int = 34) -> str:
    execution_id = sim.start_execution(job_id)
    sim.advance(7200 * 0.2)  # past QUEUED: RUNNING, with a start time
    assert sim.execution(execution_id)["status"] == "RUNNING"
    sim.clear_requests()
    return execution_id


@pytest.mark.sim(time_scale=0, scenario=finished_only())
def test_simulator_summary_can_show_only_finished_executions(sim: BaasSimulator) -> None:
    before = sim.job(34)["last_execution_details"]["backup_job_execution_id"]
    execution_id = running_execution(sim)
    assert str(sim.job(34)["last_execution_details"]["backup_job_execution_id"]) == str(before)
    sim.advance(7200)
    assert str(sim.job(34)["last_execution_details"]["backup_job_execution_id"]) == execution_id
    sim.summary_details = "latest"
    assert sim.scenario.to_dict()["summary_details"] == "finished"  # the scenario as loaded


@pytest.mark.sim(time_scale=0, scenario=finished_only())
def test_blocking_polls_settle_on_the_listing_when_the_summary_shows_finished_runs(
    sim: BaasSimulator,
) -> None:
    execution_id = running_execution(sim)
    watch = ExecutionWatch(job_id="34", execution_id=execution_id)
    polls = 2 * LOOKUP_RECHECK_EVERY + 1
    for _ in range(polls):
        assert not poll_once(BaasHook(), watch, None).final
    sent = kinds(sim)
    assert Counter(sent) == {"listing": polls, "job": 3}  # the first poll, then one recheck per 10
    assert sent[:3] == ["job", "listing", "listing"]


@pytest.mark.sim(time_scale=0)
def test_blocking_polls_read_only_the_summary_when_it_shows_the_running_execution(sim: BaasSimulator) -> None:
    execution_id = running_execution(sim)
    watch = ExecutionWatch(job_id="34", execution_id=execution_id)
    for _ in range(12):
        assert not poll_once(BaasHook(), watch, None).final
    assert kinds(sim) == ["job"] * 12


@pytest.mark.sim(time_scale=0, scenario=finished_only())
async def test_trigger_spends_one_request_per_poll_on_a_finished_only_summary(sim: BaasSimulator) -> None:
    execution_id = running_execution(sim)
    trigger = rebuild_trigger(
        BaasExecutionTrigger(
            job_id="34",
            execution_id=execution_id,
            poll_interval=0.02,
            first_interval=0.02,
            max_poll_gap=0.02,  # the history the listing shows would space the polls out
            deadline=time.time() + 1.0,
        )
    )
    [event] = await run_trigger(trigger)
    assert event["status"] == "timeout"
    sent = Counter(kinds(sim))
    polls = sent["listing"]
    assert polls >= LOOKUP_RECHECK_EVERY + 1  # enough polls to see a recheck
    assert sent["job"] == 1 + (polls - 1) // LOOKUP_RECHECK_EVERY


@pytest.mark.sim(time_scale=0)
async def test_a_history_spaces_the_triggers_polls_out(sim: BaasSimulator) -> None:
    execution_id = running_execution(sim)
    common: dict[str, Any] = {"job_id": "34", "execution_id": execution_id, "poll_interval": 0.05}
    plain = BaasExecutionTrigger(**common, first_interval=0.05, deadline=time.time() + 1.0)
    await run_trigger(rebuild_trigger(plain))
    plain_polls = len(kinds(sim))
    sim.clear_requests()
    # The usual run ends hours from now: sparse polls, at most max_poll_gap apart.
    spaced = BaasExecutionTrigger(
        **common,
        first_interval=0.05,
        max_poll_gap=0.4,
        expected_duration=7200.0,
        duration_spread=60.0,
        deadline=time.time() + 1.0,
    )
    await run_trigger(rebuild_trigger(spaced))
    assert 2 <= len(kinds(sim)) <= 4 < plain_polls


@pytest.mark.sim(time_scale=36000)  # job 34 (2 h) takes 0.2 s
async def test_a_deferrable_sensor_and_its_trigger_log_no_line_twice(sim: BaasSimulator) -> None:
    from airflow_provider_baas._compat import TaskDeferred

    execution_id = sim.start_execution(34)
    sensor = BaasExecutionSensor(
        task_id="wait", job_id=34, execution_id=execution_id, poke_interval=0.05, timeout=30, deferrable=True
    )
    sensor_log = record_log(sensor)
    context = make_context(FakeTI())
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = rebuild_trigger(deferred.value.trigger)
    trigger_log = record_log(trigger)
    [event] = await run_trigger(trigger)
    sensor.execute_complete(context, event)
    lines = [text for _, text in sensor_log.lines + trigger_log.lines]
    assert lines, "nothing was logged"
    repeated = [line for line, count in Counter(lines).items() if count > 1]
    assert repeated == []
    assert sum(event["message"] in line for line in lines) == 1  # the outcome, once, by the task
