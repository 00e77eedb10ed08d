"""Runs every example DAG with ``dag.test()`` against the simulator and prints one JSON report.

Run in its own process (own AIRFLOW_HOME, dags folder = example_dags) by test_example_dags.py,
because Airflow 3 only test-runs DAGs from the configured dags folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOME = tempfile.mkdtemp(prefix="baas-examples-")
os.environ.update(
    AIRFLOW_HOME=HOME,
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{HOME}/airflow.db",
    AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY="True",
    BAAS_EXAMPLE_POLL_INTERVAL="0.3",
)
CONSUMER = "example_baas_after_crm_backup"
APPROVER = {"id": "examples", "name": "run_examples.py"}
APPROVAL_EXAMPLE = "example_baas_restore_to_production"


def main() -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    from airflow_provider_baas.testing import BaasSimulator

    with BaasSimulator(time_scale=3600, scenario=examples_scenario()) as sim:
        name, value = sim.airflow_conn_env()
        os.environ[name] = value
        name, value = sim.teradata_conn_env("teradata_restore")
        os.environ[name] = value
        subprocess.run([airflow, "dags", "reserialize"], check=True, capture_output=True)
        try:
            from airflow.dag_processing.dagbag import DagBag
        except ImportError:  # Airflow 2.11
            from airflow.models.dagbag import DagBag
        bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        report: dict = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "runs": {}}
        report["not_run"] = {}
        for dag_id in sorted(bag.dag_ids):
            if dag_id == CONSUMER:
                continue  # scheduled on the asset: checked through the queue below
            if dag_id == APPROVAL_EXAMPLE and (reason := human_in_the_loop_untestable()):
                report["not_run"][dag_id] = reason
                continue
            with approving_every_human_in_the_loop_task():
                run = bag.get_dag(dag_id).test()
            report["runs"][dag_id] = {
                "state": str(run.state).rsplit(".", 1)[-1].lower(),
                "tasks": {
                    f"{ti.task_id}[{ti.map_index}]": str(ti.state).rsplit(".", 1)[-1].lower()
                    for ti in run.get_task_instances()
                },
            }
        report["posts"] = len(sim.requests_matching("POST", r"/execute$"))
        report["restores"] = sim.restores()
        report["asset_events"], report["queued_consumers"] = asset_state()
        # Parsed again, a watcher's trigger must be found again (stable kwargs), not added anew.
        subprocess.run([airflow, "dags", "reserialize"], check=True, capture_output=True)
        report["watchers"] = asset_watchers()
    print("REPORT " + json.dumps(report))


def examples_scenario() -> Any:
    """The default scenario, with ``daily_warehouse_backup`` holding two databases (the refresh
    example restores both)."""
    from airflow_provider_baas.testing.scenario import Scenario, default_backup_objects

    scenario = Scenario.default()
    warehouse = next(j for j in scenario.sites[0].jobs if j.name == "daily_warehouse_backup")
    objects = default_backup_objects(warehouse, 850 * 10**9)
    mart = {"object_name": "WAREHOUSE_MART", "object_type": "DATABASE", "parent_name": "DBC"}
    warehouse.objects = [*objects, {**mart, "parent_type": "DATABASE", "byte_count": 10**9}]
    return scenario


def human_in_the_loop_untestable() -> str | None:
    """Why ``dag.test()`` cannot run a Human-in-the-loop task on this line, or None.

    Airflow 3.1 and 3.2 defer HITL tasks to ``HITLTrigger``, and ``dag.test()`` runs that trigger
    in-process, where its supervisor does not answer the trigger's ``GetHITLDetailResponse`` (only
    the triggerer's does): the trigger fails on ``None``. Airflow 3.3 parks the task instead
    (``AWAITING_INPUT``), which ``dag.test()`` supports. Lines without HITL run the skipping path.
    """
    from airflow.providers.common.compat.sdk import AirflowOptionalProviderFeatureException

    try:
        import airflow.providers.standard.operators.hitl  # noqa: F401
    except (ImportError, AirflowOptionalProviderFeatureException):  # 2.11: no module; 3.0: refused
        return None
    from airflow.utils.state import TaskInstanceState

    if hasattr(TaskInstanceState, "AWAITING_INPUT"):
        return None
    return "dag.test() cannot run HITLTrigger in-process on this Airflow line"


@contextlib.contextmanager
def approving_every_human_in_the_loop_task() -> Iterator[None]:
    """Stand in for the human: approve each Human-in-the-loop task as the UI's "Approve" does
    (the HITL REST API's update: record the answer; on 3.3 resume the parked task)."""
    stop = threading.Event()
    worker = threading.Thread(target=_approve_until, args=(stop,), daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


def _approve_until(stop: threading.Event) -> None:
    try:
        from airflow.models.hitl import HITLDetail
    except ImportError:  # no Human-in-the-loop on this line
        return
    from airflow.utils import timezone
    from airflow.utils.session import create_session

    while not stop.wait(0.5):
        with create_session() as session:
            for detail in session.query(HITLDetail).filter(HITLDetail.responded_at.is_(None)).all():
                detail.chosen_options = ["Approve"]
                detail.responded_at = timezone.utcnow()
                detail.responded_by = APPROVER
                session.flush()
                _resume_parked(detail, session)


def _resume_parked(detail: Any, session: Any) -> None:
    """Airflow 3.3 parks a HITL task (AWAITING_INPUT) and resumes it on the answer; 3.1 and 3.2
    defer to a trigger that reads the answer by itself."""
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent

    ti = detail.task_instance
    if hasattr(detail, "as_resume_event_payload") and str(ti.state).endswith("awaiting_input"):
        handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)


def asset_state() -> tuple[list[dict], list[str]]:
    try:
        from airflow.models.asset import AssetDagRunQueue as Queue
        from airflow.models.asset import AssetEvent as Event
    except ImportError:  # Airflow 2.11
        from airflow.models.dataset import DatasetDagRunQueue as Queue
        from airflow.models.dataset import DatasetEvent as Event
    from airflow.utils.session import create_session

    with create_session() as session:
        events = [dict(e.extra or {}) for e in session.query(Event).all()]
        queued = [q.target_dag_id for q in session.query(Queue).all()]
    return events, queued


def asset_watchers() -> list[dict]:
    """Every asset watcher Airflow stored, with its trigger (none on lines without watchers)."""
    try:
        from airflow.models.asset import AssetWatcherModel
    except ImportError:  # Airflow 2.11
        return []
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        watchers = [
            {
                "asset": w.asset.uri,
                "name": w.name,
                "trigger_id": w.trigger_id,
                "classpath": w.trigger.classpath,
            }
            for w in session.query(AssetWatcherModel).all()
        ]
        triggers = (
            session.query(Trigger)
            .filter(Trigger.classpath == "airflow_provider_baas.triggers.events.BaasBackupEventTrigger")
            .count()
        )
    return [dict(w, watcher_triggers=triggers) for w in watchers]


if __name__ == "__main__":
    main()
