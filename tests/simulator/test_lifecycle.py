"""Execution lifecycle: statuses over time, outcomes, concurrency, last_execution_details, history."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator, JobSpec, Scenario, SimError, SiteSpec

from .conftest import SITE

START = "2022-12-07T11:00:00Z"


def execute(sim: BaasSimulator, http: Any, job_id: int, **kwargs: Any) -> str:
    answer = http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/{job_id}/execute", **kwargs)
    assert answer.status == 202, answer.body
    return answer.headers["x-resource-id"]


def get_execution(sim: BaasSimulator, http: Any, job_id: int, exec_id: str) -> dict[str, Any]:
    items = http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/{job_id}/executions").json()
    return next(i for i in items if i["execution_id"] == exec_id)


def last_details(sim: BaasSimulator, http: Any, job_id: int) -> dict[str, Any]:
    return http.request("GET", f"{sim.base_url}/sites/{SITE}/jobs/{job_id}").json()["last_execution_details"]


def test_progression_with_a_frozen_clock(make_sim: Any, http: Any) -> None:
    sim = make_sim(start_time=START)
    exec_id = execute(sim, http, 1)
    queued = get_execution(sim, http, 1, exec_id)
    assert queued["status"] == "QUEUED"
    assert queued["start_time"] is None and queued["end_time"] is None
    assert queued["backup_set_size"] == 0 and queued["status_detail"] is None
    assert last_details(sim, http, 1)["status"] == "QUEUED"

    sim.advance(5)  # QUEUED is the first 5% of the 100 s duration
    running = get_execution(sim, http, 1, exec_id)
    assert running["status"] == "RUNNING"
    assert running["start_time"] == "2022-12-07T11:00:05.000000Z"
    assert running["end_time"] is None

    sizes = []
    for _ in range(4):
        sim.advance(20)
        sizes.append(get_execution(sim, http, 1, exec_id)["backup_set_size"])
    assert sizes == sorted(sizes) and 0 < sizes[0] < sizes[-1] < 1000
    details = last_details(sim, http, 1)
    assert details["status"] == "RUNNING"
    assert details["backup_job_execution_id"] == int(exec_id)
    assert details["end_time"] is None

    sim.advance(15)
    done = get_execution(sim, http, 1, exec_id)
    assert done["status"] == "SUCCESSFUL"
    assert done["end_time"] == "2022-12-07T11:01:40.000000Z"
    assert done["backup_set_size"] == 1000
    assert done["status_detail"] == "Job completed successfully."
    assert done["is_saveset_retained"] is True
    details = last_details(sim, http, 1)
    assert details == {
        "end_time": "2022-12-07T11:01:40.000000Z",
        "start_time": "2022-12-07T11:00:05.000000Z",
        "status": "SUCCESSFUL",
        "backup_set_size": 1000,
        "backup_job_id": 1,
        "backup_job_execution_id": int(exec_id),
        "restore_execution_id": None,
    }


def test_progression_under_a_time_scale(make_sim: Any, client: Any) -> None:
    scenario = Scenario(
        sites=[SiteSpec(SITE, [JobSpec(1, "job", duration=600, phases=[("QUEUED", 1), ("RUNNING", 1)])])]
    )
    sim = make_sim(scenario=scenario, time_scale=1000.0)  # 600 BaaS seconds = 0.6 s, 0.3 s per phase
    exec_id = execute(sim, client, 1)
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = get_execution(sim, client, 1, exec_id)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "SUCCESSFUL":
            break
        time.sleep(0.01)
    assert seen == ["QUEUED", "RUNNING", "SUCCESSFUL"]


@pytest.mark.parametrize(
    ("job_id", "status", "detail"),
    [(2, "FAILED", "disk full on media server"), (3, "ABORTED", "Job aborted.")],
)
def test_failed_and_aborted_outcomes(
    sim: BaasSimulator, http: Any, job_id: int, status: str, detail: str
) -> None:
    exec_id = execute(sim, http, job_id)
    sim.advance(50)
    assert get_execution(sim, http, job_id, exec_id)["status"] == "RUNNING"
    sim.advance(50)
    final = get_execution(sim, http, job_id, exec_id)
    assert final["status"] == status
    assert final["status_detail"] == detail
    assert final["end_time"] is not None
    assert final["saveset_id"] is None
    assert last_details(sim, http, job_id)["status"] == status


def test_outcome_sequence_for_retries(sim: BaasSimulator, http: Any) -> None:
    results = []
    for _ in range(3):
        exec_id = execute(sim, http, 6)
        sim.advance(100)
        item = get_execution(sim, http, 6, exec_id)
        results.append((item["status"], item["status_detail"]))
    assert results == [
        ("FAILED", "transient"),
        ("SUCCESSFUL", "Job completed successfully."),
        ("SUCCESSFUL", "Job completed successfully."),
    ]


def test_custom_status_sequence_with_unknown_word(sim: BaasSimulator, http: Any) -> None:
    exec_id = execute(sim, http, 7)
    statuses = []
    for _ in range(10):
        statuses.append(get_execution(sim, http, 7, exec_id)["status"])
        sim.advance(10)
    statuses.append(get_execution(sim, http, 7, exec_id)["status"])
    assert statuses == ["QUEUED"] + ["RUNNING"] * 5 + ["VERIFYING"] * 4 + ["SUCCESSFUL"]


def test_restore_job_last_execution_details(sim: BaasSimulator, http: Any) -> None:
    exec_id = execute(sim, http, 4)
    details = last_details(sim, http, 4)
    assert details["restore_execution_id"] == int(exec_id)
    assert details["backup_job_execution_id"] == int(exec_id)
    assert get_execution(sim, http, 4, exec_id)["job_type"] == "RESTORE"


def test_concurrent_execute_rejected_by_default(sim: BaasSimulator, client: Any) -> None:
    url = f"{sim.base_url}/sites/{SITE}/jobs/1/execute"
    first = client.request("POST", url)
    assert first.status == 202
    running_id = first.headers["x-resource-id"]
    second = client.request("POST", url)
    assert second.status == 409
    body = second.json()
    assert body["status"] == 409 and running_id in body["message"]
    assert body["execution_id"] == running_id
    assert "x-resource-id" not in second.headers
    sim.advance(100)
    assert client.request("POST", url).status == 202  # final now: allowed again


def test_execution_running_at_start_blocks_execute(sim: BaasSimulator, http: Any) -> None:
    running = sim.executions(8)[0]
    assert running["status"] == "RUNNING"
    answer = http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/8/execute")
    assert answer.status == 409 and running["execution_id"] in answer.json()["message"]
    sim.advance(50)
    assert sim.executions(8)[0]["status"] == "SUCCESSFUL"


def test_concurrent_execute_allowed_when_configured(make_sim: Any, http: Any) -> None:
    sim = make_sim(on_concurrent_execute="allow")
    first = execute(sim, http, 1)
    second = execute(sim, http, 1)
    assert first != second
    statuses = {i["execution_id"]: i["status"] for i in sim.executions(1)}
    assert statuses[first] == statuses[second] == "QUEUED"
    assert last_details(sim, http, 1)["backup_job_execution_id"] == int(second)
    sim.on_concurrent_execute = "reject"
    assert http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute").status == 409


def test_python_controls(sim: BaasSimulator, http: Any) -> None:
    exec_id = sim.start_execution(1)
    assert sim.execution(exec_id)["status"] == "QUEUED"
    with pytest.raises(SimError) as err:
        sim.start_execution(1)
    assert err.value.status == 409
    assert sim.finish_all() == 2  # this one and job 8's, running since the start
    assert sim.execution(exec_id)["status"] == "SUCCESSFUL"
    assert sim.finish_all() == 0

    sim.set_outcome(1, "FAILED")
    failed = execute(sim, http, 1)
    sim.finish_all()
    assert sim.execution(failed)["status"] == "FAILED"

    sim.set_job_active(1, False)
    assert http.request("POST", f"{sim.base_url}/sites/{SITE}/jobs/1/execute").status == 400
    assert sim.job(1)["is_active"] is False
    assert sim.jobs(SITE)[0]["is_active"] is False
    assert sim.job(9)["site_id"] == "s2"  # any site


def test_time_scale_can_change_while_running(make_sim: Any) -> None:
    sim = make_sim(time_scale=0.0)
    before = sim.now()
    time.sleep(0.02)
    assert sim.now() == before
    sim.time_scale = 36000.0
    time.sleep(0.02)
    assert sim.now() - before >= timedelta(seconds=600)


def test_injectable_clock(make_sim: Any) -> None:
    real = [1000.0]
    sim = make_sim(clock=lambda: real[0], time_scale=10.0, start_time=START)
    exec_id = sim.start_execution(1)
    real[0] += 5.0  # 50 BaaS seconds
    assert sim.execution(exec_id)["status"] == "RUNNING"
    assert sim.now() == datetime(2022, 12, 7, 11, 0, 50, tzinfo=UTC)
    real[0] += 5.0
    assert sim.execution(exec_id)["status"] == "SUCCESSFUL"


def test_generated_history(make_sim: Any) -> None:
    scenario = Scenario(
        sites=[SiteSpec(SITE, [JobSpec(1, "big", duration=600, history=200, history_interval=3600)])]
    )
    sim = make_sim(scenario=scenario, start_time=START)
    items = sim.executions(1)
    assert len(items) == 200
    assert [int(i["execution_id"]) for i in items] == list(range(1200, 1000, -1))
    assert all(i["status"] == "SUCCESSFUL" for i in items)
    newest_end = datetime.fromisoformat(items[0]["end_time"].replace("Z", "+00:00"))
    assert newest_end == datetime(2022, 12, 7, 10, 0, tzinfo=UTC)  # one interval before the start
    assert [i["is_saveset_retained"] for i in items[:3]] == [True, True, False]


def test_default_scenario_shape(demo: BaasSimulator) -> None:
    assert demo.site_id == "demo-site"
    jobs = {j["job_id"]: j for j in demo.jobs()}
    assert len(jobs) == 13
    assert jobs[34]["name"] == "daily_warehouse_backup"
    assert jobs[39]["name"] == "restore_to_test_site" and jobs[39]["job_type"] == "RESTORE"
    last_end = datetime.fromisoformat(jobs[34]["last_execution_details"]["end_time"].replace("Z", "+00:00"))
    assert timedelta(hours=23) < demo.now() - last_end < timedelta(hours=25)
    assert [j for j in jobs.values() if not j["is_active"]] == [jobs[38]]
    # the failing job fails with a realistic detail
    exec_id = demo.start_execution(37)
    demo.finish_all()
    assert "DUMP access" in demo.execution(exec_id)["status_detail"]
    # the flaky job fails once, then succeeds
    first = demo.start_execution(42)
    demo.finish_all()
    second = demo.start_execution(42)
    demo.finish_all()
    assert [demo.execution(e)["status"] for e in (first, second)] == ["FAILED", "SUCCESSFUL"]
    # a 2-hour backup
    exec_id = demo.start_execution(34)
    demo.advance(7199)
    assert demo.execution(exec_id)["status"] == "RUNNING"
    demo.advance(1)
    assert demo.execution(exec_id)["status"] == "SUCCESSFUL"


def test_fixture_time_scale_makes_a_two_hour_backup_take_two_seconds() -> None:
    from airflow_provider_baas.testing import FIXTURE_TIME_SCALE

    assert 7200 / FIXTURE_TIME_SCALE == 2.0


def test_job_answers_follow_changes(sim: BaasSimulator, http: Any) -> None:
    """J1/J2 answers are cached while nothing changes; every change shows up."""
    url = f"{sim.base_url}/sites/{SITE}/jobs"
    first = http.request("GET", f"{url}/1").json()
    assert http.request("GET", f"{url}/1").json() == first
    sim.advance(86400)
    later = http.request("GET", f"{url}/1").json()
    assert later["next_run_time"] > first["next_run_time"]
    exec_id = execute(sim, http, 1)
    listed = {j["job_id"]: j for j in http.request("GET", url).json()}
    assert listed[1]["last_execution_details"]["backup_job_execution_id"] == int(exec_id)
    sim.finish_all()
    assert http.request("GET", f"{url}/1").json()["last_execution_details"]["status"] == "SUCCESSFUL"
    sim.set_job_active(1, False)
    assert http.request("GET", f"{url}/1").json()["is_active"] is False
    assert http.request("GET", url).json()[0]["is_active"] is False
    assert http.request("GET", f"{url}/1").json()["next_run_time"] is None


def test_run_schedules_starts_each_job_at_its_next_run_time(make_sim: Any, http: Any) -> None:
    scenario = Scenario(
        sites=[SiteSpec(SITE, [JobSpec(1, "hourly", duration=600, schedule_interval=3600, history=1)])]
    )
    sim = make_sim(scenario=scenario, start_time=START, run_schedules=True)
    next_run = datetime.fromisoformat(sim.job(1)["next_run_time"].replace("Z", "+00:00"))
    sim.advance((next_run - sim.now()).total_seconds() - 1)
    assert len(sim.executions(1)) == 1  # only the history: the slot is a second away
    sim.advance(1 + 600)
    first = sim.executions(1)[0]
    assert len(sim.executions(1)) == 2 and first["status"] == "SUCCESSFUL"
    started = datetime.fromisoformat(first["start_time"].replace("Z", "+00:00"))
    assert next_run <= started <= next_run + timedelta(seconds=60)  # after its QUEUED phase
    sim.advance(2 * 3600)
    assert len(sim.executions(1)) == 4  # one per slot, nobody called execute
    assert sim.requests_matching("POST") == []


def test_without_run_schedules_nothing_starts_on_its_own(make_sim: Any) -> None:
    sim = make_sim(start_time=START)
    before = len(sim.executions(1))
    sim.advance(10 * 24 * 3600)
    assert len(sim.executions(1)) == before
