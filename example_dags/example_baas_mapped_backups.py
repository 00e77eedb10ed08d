"""Back up several jobs in parallel with dynamic task mapping; each mapped task returns its record."""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator

POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))

with DAG(
    dag_id="example_baas_mapped_backups",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example"],
) as dag:
    backups = BaasExecuteJobOperator.partial(task_id="backup", deferrable=True, poll_interval=POLL).expand(
        job_id=[35, 43, 46]
    )

    @task
    def report(records: list[dict]) -> dict[str, str]:
        """One line per job: its execution and final status."""
        return {str(r["job_id"]): f"{r['execution_id']} {r['status']}" for r in records}

    report(backups.output)
