"""A connection stored in the metadata DB, used by a deferrable task under `airflow dags test`.

Every other test passes connections as ``AIRFLOW_CONN_*``; users add theirs with
``airflow connections add`` or the UI, and try a DAG with ``airflow dags test``, whose inline
trigger looks the connection up from inside an event loop.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from airflow_provider_baas.testing import BaasSimulator

pytestmark = pytest.mark.dag

CONN_ID = "baas_in_db"
DAG_ID = "baas_db_connection"


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=300)


def _task_states(dag_id: str) -> dict[str, str]:
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == dag_id).all()
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id).all()
        states = {ti.task_id: str(ti.state) for ti in tis}
        states["__runs__"] = ",".join(str(run.state) for run in runs)
    return {k: v.rsplit(".", 1)[-1].lower() for k, v in states.items()}


def test_deferrable_task_finds_a_db_stored_connection_under_airflow_dags_test(airflow_db: None) -> None:
    with BaasSimulator(time_scale=3600) as sim:
        _airflow("connections", "delete", CONN_ID)
        added = _airflow("connections", "add", CONN_ID, "--conn-json", sim.airflow_connection(max_attempts=1))
        assert added.returncode == 0, added.stderr[-2000:]
        result = _airflow("dags", "test", DAG_ID)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        assert _task_states(DAG_ID) == {"backup": "success", "__runs__": "success"}, output[-4000:]
        assert len(sim.requests_matching("POST", r"/jobs/34/execute$")) == 1
        # The deferred part polled the simulator with the DB-stored connection.
        assert sim.requests_matching("GET", r"/jobs/34(/executions)?$")
    assert "AirflowNotFoundException" not in output
