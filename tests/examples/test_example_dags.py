"""Every example DAG imports cleanly and runs green against the simulator (Airflow 3.3 and 2.11)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_baas.assets import backup_watchers_supported
from tests.airflow_version import AIRFLOW_VERSION

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
pytestmark = pytest.mark.dag
# Airflow's Human-in-the-loop operators exist from 3.1 on (the approval example skips without them);
# dag.test() can run them from 3.3 on (run_examples.human_in_the_loop_untestable).
HUMAN_IN_THE_LOOP = AIRFLOW_VERSION >= (3, 1)
HUMAN_IN_THE_LOOP_UNDER_DAG_TEST = HUMAN_IN_THE_LOOP and AIRFLOW_VERSION >= (3, 3)


@pytest.fixture(scope="module")
def report() -> dict:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("run_examples.py"))],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT ") :])


def test_every_example_dag_imports_without_errors(report: dict) -> None:
    assert report["import_errors"] == {}
    expected = {p.stem for p in EXAMPLES.glob("example_*.py")} - set(report["not_run"])
    if not backup_watchers_supported():  # that example defines its DAG only where watchers exist
        expected.discard("example_baas_after_scheduled_backup")
    assert len(report["runs"]) >= len(expected)


def test_every_example_dag_runs_to_success(report: dict) -> None:
    for dag_id, run in report["runs"].items():
        assert run["state"] == "success", (dag_id, run)
        skipped = {"example_baas_restore_to_production"} if not HUMAN_IN_THE_LOOP else set()
        expected = {"success", "skipped"} if dag_id in skipped else {"success"}
        assert set(run["tasks"].values()) <= expected, (dag_id, run)


def test_mapped_backups_run_one_task_per_job(report: dict) -> None:
    tasks = report["runs"]["example_baas_mapped_backups"]["tasks"]
    assert sorted(t for t in tasks if t.startswith("backup[")) == ["backup[0]", "backup[1]", "backup[2]"]


def test_backup_asset_event_carries_the_execution_and_queues_the_downstream_dag(report: dict) -> None:
    crm = [e for e in report["asset_events"] if e.get("job_id") == "40"]
    assert len(crm) == 1
    assert crm[0]["status"] == "SUCCESSFUL" and crm[0]["execution_id"] and crm[0]["backup_set_size"] > 0
    assert "example_baas_after_crm_backup" in report["queued_consumers"]


def test_pre_etl_gate_emits_through_its_alias_only_because_it_ran_a_backup(report: dict) -> None:
    warehouse = [e for e in report["asset_events"] if e.get("job_id") == "34"]
    assert len(warehouse) == 1 and warehouse[0]["backup_started"] is True


def test_the_event_driven_example_watches_its_asset_with_one_trigger(report: dict) -> None:
    if not backup_watchers_supported():
        assert "example_baas_etl_after_baas_backup" not in report["runs"]
        return
    assert report["runs"]["example_baas_etl_after_baas_backup"]["state"] == "success"
    if AIRFLOW_VERSION < (3, 2):
        # `dags reserialize` links watchers only to active assets, which 3.0 and 3.1 activate in the
        # scheduler: nothing stored here (stable kwargs: tests/runtime/test_event_trigger.py).
        assert report["watchers"] == []
        return
    (watcher,) = report["watchers"]
    assert watcher["asset"] == "baas://baas.example.com/demo-site/jobs/34"
    assert watcher["classpath"] == "airflow_provider_baas.triggers.events.BaasBackupEventTrigger"
    assert watcher["watcher_triggers"] == 1  # parsed twice, still one trigger


def test_the_refresh_example_restores_two_databases_of_the_newest_good_backup_into_the_test_site(
    report: dict,
) -> None:
    run = report["runs"]["example_baas_refresh_test_site"]
    assert run["tasks"] == {
        "list_backup_objects[-1]": "success",
        "restore[-1]": "success",
        "check_restore[-1]": "success",
    }
    (restore,) = [r for r in report["restores"] if "refresh_test_site" in r["name"]]
    assert restore["status"] == "SUCCESSFUL" and restore["target_site"] == "dr-site"
    assert [o["object_name"] for o in restore["job_settings"]["objects"]] == ["WAREHOUSE", "WAREHOUSE_MART"]
    assert restore["job_settings"]["skip_statstics"] is True


def test_the_production_restore_runs_only_once_approved_and_skips_without_human_in_the_loop(
    report: dict,
) -> None:
    if HUMAN_IN_THE_LOOP and not HUMAN_IN_THE_LOOP_UNDER_DAG_TEST:
        assert "HITLTrigger" in report["not_run"]["example_baas_restore_to_production"]
        return  # imported without errors (above); dag.test() cannot answer its trigger here
    tasks = report["runs"]["example_baas_restore_to_production"]["tasks"]
    ours = [r for r in report["restores"] if "restore_to_production" in r["name"]]
    if HUMAN_IN_THE_LOOP:  # approved by the runner, as a human would in "Required actions"
        assert tasks == {"approve_restore[-1]": "success", "restore_into_production[-1]": "success"}
        assert len(ours) == 1 and ours[0]["status"] == "SUCCESSFUL"
    else:
        assert tasks == {"approve_restore[-1]": "skipped", "restore_into_production[-1]": "skipped"}
        assert ours == []
