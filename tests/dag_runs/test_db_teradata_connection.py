"""Database credentials for restores from a ``teradata`` connection stored in the metadata DB (as
``airflow connections add`` or the UI store it), loaded in a task under ``airflow dags test``, sync and
from an event loop (tests/dags/baas_credentials_dags.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.airflow_version import AIRFLOW_VERSION
from tests.reliability.test_dag_secrets import without_airflow_30_mask_requests

pytestmark = pytest.mark.dag

CONN_ID = "teradata_in_db"
DAG_ID = "baas_teradata_db_connection"
PASSWORD = "stored-in-the-db-pw"


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=300)


def _task_states() -> dict[str, str]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == DAG_ID).all()
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in tis}


def test_a_task_loads_credentials_from_a_db_stored_teradata_connection(airflow_db: None) -> None:
    _airflow("connections", "delete", CONN_ID)
    conn = {"conn_type": "teradata", "host": "td.example.com", "login": "restore_user", "password": PASSWORD}
    added = _airflow("connections", "add", CONN_ID, "--conn-json", json.dumps(conn))
    assert added.returncode == 0, added.stderr[-2000:]
    try:
        result = _airflow("dags", "test", DAG_ID)
    finally:
        _airflow("connections", "delete", CONN_ID)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "AirflowNotFoundException" not in output and "lookups disagree" not in output, output[-4000:]
    assert _task_states() == {"load_credentials": "success"}, output[-4000:]
    if (3, 0) <= AIRFLOW_VERSION < (3, 1):
        output = without_airflow_30_mask_requests(output)
    assert PASSWORD not in output
