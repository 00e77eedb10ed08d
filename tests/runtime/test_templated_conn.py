"""``baas_conn_id`` is templated on every operator and sensor (the Airflow 3 providers' convention)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.sensors.baas import BaasBackupFreshnessSensor, BaasExecutionSensor
from airflow_provider_baas.testing import BaasSimulator

from ._support import make_context, set_conn

TEMPLATED = "{{ params.baas_conn }}"
TASKS: dict[str, Any] = {
    "operator": lambda: BaasExecuteJobOperator(
        task_id="t", job_id=34, baas_conn_id=TEMPLATED, poll_interval=0.1
    ),
    "execution sensor": lambda: BaasExecutionSensor(task_id="t", job_id=34, baas_conn_id=TEMPLATED),
    "freshness gate": lambda: BaasBackupFreshnessSensor(
        task_id="t", job_id=34, max_age=60, baas_conn_id=TEMPLATED
    ),
}


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
def test_the_connection_id_is_rendered_before_the_hook_is_built(make: Any) -> None:
    task = make()
    assert "baas_conn_id" in task.template_fields
    task.render_template_fields({"params": {"baas_conn": "baas_prod_eu"}})
    assert task.baas_conn_id == "baas_prod_eu"
    assert task.hook.baas_conn_id == "baas_prod_eu"


@pytest.mark.sim(time_scale=36000)
def test_a_rendered_connection_id_runs_the_backup(
    sim: BaasSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = set_conn(monkeypatch, sim, "baas_from_params")
    task = TASKS["operator"]()
    task.render_template_fields({"params": {"baas_conn": conn_id}})
    record = task.execute(make_context())
    assert record["status"] == "SUCCESSFUL"
    assert len(sim.requests_matching("POST", r"/execute$")) == 1
