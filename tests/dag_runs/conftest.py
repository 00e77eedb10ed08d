"""Real Airflow runs (``dag.test()``) of the DAG files in tests/dags against the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_baas.testing import BaasSimulator
from tests.airflow_version import AIRFLOW_V_3


@pytest.fixture(scope="session")
def airflow_db() -> None:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="session")
def dagbag(airflow_db: None) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    if not AIRFLOW_V_3:  # register DAGs, datasets and aliases as the 2.x processor does
        bag.sync_to_db()
    return bag


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[BaasSimulator]:
    with BaasSimulator(time_scale=3600) as sim:
        name, value = sim.airflow_conn_env(max_attempts=1)
        monkeypatch.setenv(name, value)
        yield sim


def run_dag(dagbag: Any, dag_id: str) -> dict[str, str]:
    """Run one DAG with ``dag.test()``; returns {task_id: state} and the run's state under '__run__'."""
    dag_run = dagbag.get_dag(dag_id).test()
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    states["__run__"] = str(dag_run.state)
    return {k: v.rsplit(".", 1)[-1].lower() for k, v in states.items()}
