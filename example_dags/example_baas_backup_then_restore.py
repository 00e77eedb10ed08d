"""Backup the sales database, then restore that backup into the test site (a RESTORE job)."""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator

POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))

with DAG(
    dag_id="example_baas_backup_then_restore",
    schedule=None,  # e.g. "0 6 * * MON" for "every Monday"
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example"],
) as dag:
    backup = BaasExecuteJobOperator(
        task_id="backup_sales",
        job_name="hourly_sales_delta",
        run_type="DELTA",
        deferrable=True,
        poll_interval=POLL,
    )
    restore = BaasExecuteJobOperator(
        task_id="restore_into_test_site",
        job_name="restore_to_test_site",
        deferrable=True,
        poll_interval=POLL,
    )
    backup >> restore
