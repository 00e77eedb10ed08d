"""Pre-ETL gate: make sure last night's warehouse backup is fresh (taking one if not), then run the ETL.

The gate passes at once when the last successful backup of ``daily_warehouse_backup`` finished
within 24 hours; otherwise it starts a backup (or joins one already running), waits for it in the
triggerer, and only then lets the ETL tasks run.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_baas.assets import baas_asset_alias
from airflow_provider_baas.sensors.baas import BaasBackupFreshnessSensor

POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))

with DAG(
    dag_id="example_baas_pre_etl_gate",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example"],
) as dag:
    backup_gate = BaasBackupFreshnessSensor(
        task_id="warehouse_backup_is_fresh",
        job_name="daily_warehouse_backup",
        max_age=timedelta(hours=int(os.environ.get("BAAS_EXAMPLE_MAX_AGE_HOURS", "24"))),
        trigger_if_stale=True,
        deferrable=True,
        poll_interval=POLL,
        poke_interval=POLL,
        timeout=timedelta(hours=6).total_seconds(),
        outlets=[baas_asset_alias("baas-warehouse-backups")],
    )

    @task
    def extract() -> int:
        return 42

    @task
    def transform(rows: int) -> int:
        return rows * 2

    @task
    def load(rows: int) -> str:
        return f"loaded {rows} rows"

    backup_gate >> load(transform(extract()))
