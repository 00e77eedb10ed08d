"""DAGs the DAG-level tests run with real Airflow against the embedded simulator."""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.sensors.baas import BaasExecutionSensor

START = datetime(2026, 1, 1)
FAST = {"poll_interval": 0.3}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["baas-tests"])


with _dag("baas_execute_deferrable"):
    BaasExecuteJobOperator(task_id="backup", job_id=34, deferrable=True, **FAST)

with _dag("baas_execute_then_sensor"):
    start = BaasExecuteJobOperator(
        task_id="start", job_name="daily_warehouse_backup", wait_for_completion=False
    )
    wait = BaasExecutionSensor(
        task_id="wait",
        job_id=34,
        execution_id="{{ ti.xcom_pull(task_ids='start', key='execution_id') }}",
        deferrable=True,
        poke_interval=0.3,
        timeout=120,
    )
    start >> wait

with _dag("baas_poke"):
    BaasExecutionSensor(task_id="wait_latest", job_id=34, mode="poke", poke_interval=0.3, timeout=120)

with _dag("baas_failing_job"):
    BaasExecuteJobOperator(task_id="payroll_backup", job_name="hr_payroll_backup", deferrable=True, **FAST)

with _dag("baas_sensor_soft_fail_timeout"):
    long_backup = BaasExecuteJobOperator(task_id="start", job_id=36, wait_for_completion=False)
    BaasExecutionSensor(
        task_id="wait",
        job_id=36,
        execution_id="{{ ti.xcom_pull(task_ids='start', key='execution_id') }}",
        deferrable=True,
        poke_interval=0.3,
        timeout=1,
        soft_fail=True,
    ).set_upstream(long_backup)

for _deferrable in (False, True):
    with _dag(f"baas_retry_lost_answer_{'deferrable' if _deferrable else 'polling'}"):
        BaasExecuteJobOperator(
            task_id="backup",
            job_id=46,
            deferrable=_deferrable,
            retries=1,
            retry_delay=timedelta(seconds=0),
            **FAST,
        )

with _dag("baas_retry_lost_wait"):
    BaasExecuteJobOperator(
        task_id="backup", job_id=34, deferrable=True, retries=1, retry_delay=timedelta(seconds=0), **FAST
    )

# The connection lives in the metadata DB (`airflow connections add`), not in the environment.
with _dag("baas_db_connection"):
    BaasExecuteJobOperator(task_id="backup", job_id=34, baas_conn_id="baas_in_db", deferrable=True, **FAST)
