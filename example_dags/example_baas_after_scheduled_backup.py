"""Event-driven (Airflow 3): run the ETL as soon as the nightly backup that BaaS ran has succeeded.

BaaS starts the warehouse backup on its own schedule (the job's ``next_run_time``); no task of this
DAG starts it. The asset's watcher runs in the triggerer, reads the job every ``poll_interval``
seconds and emits one asset event per new successful backup, which creates one run of this DAG.
On Airflow 2.11 (no asset watchers) this file defines no DAG: use the operator's asset events
(example_baas_downstream_on_backup.py) or the freshness gate there.
"""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_baas.assets import baas_backup_asset, backup_watchers_supported

API_HOST = os.environ.get("BAAS_EXAMPLE_API_HOST", "baas.example.com")
SITE = os.environ.get("BAAS_EXAMPLE_SITE_ID", "demo-site")
POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))

if backup_watchers_supported():
    NIGHTLY_WAREHOUSE_BACKUP = baas_backup_asset(API_HOST, SITE, 34, poll_interval=POLL)

    with DAG(
        dag_id="example_baas_etl_after_baas_backup",
        schedule=[NIGHTLY_WAREHOUSE_BACKUP],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["baas", "example"],
    ):

        @task
        def run_etl(**context) -> list[dict]:
            """Each triggering event's ``extra["payload"]`` is the backup: id, status, times, size."""
            events = context.get("triggering_asset_events") or {}
            backups = [event.extra.get("payload", {}) for batch in events.values() for event in batch]
            for backup in backups:
                print(
                    f"Backup {backup.get('execution_id')} of job {backup.get('job_id')} ended "
                    f"{backup.get('end_time')} ({backup.get('backup_set_size')} bytes): running the ETL"
                )
            return backups

        run_etl()
