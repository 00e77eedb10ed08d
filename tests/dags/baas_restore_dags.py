"""DAGs of the restore DAG-level tests (tests/dag_runs/test_restore_runs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_baas.operators.restore import BaasRestoreOperator

FAST = {"poll_interval": 0.2, "timeout": 120, "teradata_conn_id": "teradata_dag_tests", "job_id": 34}

with DAG(
    "baas_restore_failing", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["baas-tests"]
):
    BaasRestoreOperator(task_id="restore", objects=["WAREHOUSE"], deferrable=True, retries=0, **FAST)

with DAG(
    "baas_restore_retry_lost_wait",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas-tests"],
):
    BaasRestoreOperator(
        task_id="restore",
        objects=["WAREHOUSE.ORDERS"],
        deferrable=True,
        retries=1,
        retry_delay=timedelta(seconds=0),
        **FAST,
    )
