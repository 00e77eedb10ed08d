"""Scenario dataclasses and JSON format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_baas.testing import Fault, HistoryEntry, JobSpec, Outcome, Scenario, SiteSpec

SCENARIO_JSON = {
    "start_time": "2024-03-01T00:00:00Z",
    "site_access": {"reporting": ["analytics"]},
    "faults": [{"kind": "status", "status": 503, "path": "*/executions", "count": 1}],
    "sites": [
        {
            "site_id": "analytics",
            "site_type": "AZURE",
            "jobs": [
                {
                    "job_id": 7,
                    "name": "nightly",
                    "duration": 7200,
                    "backup_size": 1000000,
                    "history": 3,
                    "outcome": [{"status": "failure", "status_detail": "boom"}, "success"],
                    "extra": {"new_field": "kept"},
                },
                {
                    "job_id": 8,
                    "name": "restore",
                    "job_type": "restore",
                    "is_active": False,
                    "phases": [["QUEUED", 1], ["RUNNING", 3], "VERIFYING"],
                    "history": [{"status": "FAILED", "ended_ago": 3600, "status_detail": "no media"}],
                },
            ],
        }
    ],
}


def test_json_round_trip_of_the_default_scenario() -> None:
    scenario = Scenario.default()
    again = Scenario.from_json(json.loads(scenario.to_json()))
    assert again == scenario
    assert again.to_dict() == scenario.to_dict()


def test_from_json_file_text_and_dict(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO_JSON))
    from_file = Scenario.from_json(path)
    assert from_file == Scenario.from_json(str(path)) == Scenario.from_json(json.dumps(SCENARIO_JSON))
    assert from_file == Scenario.from_json(SCENARIO_JSON)
    job, restore = from_file.sites[0].jobs
    assert job.outcomes == [Outcome("FAILED", "boom"), Outcome("SUCCESSFUL")]
    assert restore.job_type == "RESTORE" and restore.active is False
    assert restore.phases == [("QUEUED", 1.0), ("RUNNING", 3.0), ("VERIFYING", 1.0)]
    assert restore.history == [HistoryEntry("FAILED", ended_ago=3600, status_detail="no media")]
    assert from_file.faults == [Fault(status=503, path="*/executions")]
    assert Scenario.from_json(from_file.to_dict()) == from_file


def test_a_json_scenario_is_served(make_sim: Any, http: Any) -> None:
    sim = make_sim(scenario=SCENARIO_JSON, token="t")
    assert sim.site_id == "analytics"
    base = f"{sim.base_url}/sites/analytics"
    assert http.request("GET", f"{base}/executions", token="t").status == 503  # the scenario's fault
    executions = http.request("GET", f"{base}/executions", token="t").json()
    assert [e["job_id"] for e in executions] == [8, 7, 7, 7]
    assert executions[0]["site_type"] == "AZURE"
    assert executions[0]["end_time"] == "2024-02-29T23:00:00.000000Z"  # ended_ago 3600
    assert executions[0]["status_detail"] == "no media"
    assert executions[1]["end_time"] == "2024-02-29T00:00:00.000000Z"  # one history_interval (a day)
    job = http.request("GET", f"{base}/jobs/7", token="t").json()
    assert job["new_field"] == "kept"
    exec_id = sim.start_execution(7)
    sim.finish_all()
    assert sim.execution(exec_id)["status_detail"] == "boom"
    assert sim.auth.allowed("reporting", "analytics") and not sim.auth.allowed("reporting", "other")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sites": []}, "at least one site"),
        ({"sites": [{"site_id": "a"}, {"site_id": "a"}]}, "duplicate site"),
        ({"sites": [{"site_id": "a/b"}]}, "invalid site id"),
        ({"sites": [{"site_id": "a", "jobs": [{"job_id": 1, "name": "x", "job_type": "COPY"}]}]}, "job_type"),
        (
            {"sites": [{"site_id": "a", "jobs": [{"job_id": 1, "name": "x"}, {"job_id": 1, "name": "y"}]}]},
            "duplicate",
        ),
        ({"sites": [{"site_id": "a", "jobs": [{"job_id": 1, "name": "x", "duraton": 5}]}]}, "duraton"),
        ({"sites": [{"site_id": "a"}], "fautls": []}, "fautls"),
        ({"sites": [{"site_id": "a", "jobs": [{"job_id": 1, "name": "x", "outcome": []}]}]}, "outcomes"),
        ({"sites": [{"site_id": "a", "jobs": [{"job_id": 1, "name": "x", "duration": -1}]}]}, "duration"),
    ],
)
def test_invalid_scenarios_are_explained(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scenario.from_json(data)


def test_dataclass_conveniences() -> None:
    job = JobSpec(1, "x", outcomes="abort", history=[{"status": "success", "ended_ago": 10}])
    assert job.outcomes == [Outcome("ABORTED")]
    assert job.history == [HistoryEntry("SUCCESSFUL", ended_ago=10)]
    site = SiteSpec("s", [{"job_id": 2, "name": "y"}])
    assert site.jobs == [JobSpec(2, "y")]
    assert Scenario([site]).default_site_id == "s"


def test_default_scenario_contents() -> None:
    scenario = Scenario.default()
    assert scenario.default_site_id == "demo-site"
    jobs = {j.job_id: j for j in scenario.sites[0].jobs}
    assert len(jobs) >= 12
    assert jobs[34].name == "daily_warehouse_backup" and jobs[34].duration == 7200
    assert any(j.job_type == "RESTORE" and j.name == "restore_to_test_site" for j in jobs.values())
    assert any(o.status == "FAILED" and o.status_detail for j in jobs.values() for o in j.outcomes)
    assert any(not j.active for j in jobs.values())
