"""Data-aware scheduling: a backup DAG emits the job's ``baas://`` asset; a reporting DAG runs on it."""

from __future__ import annotations

import os
from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_baas.assets import baas_asset
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator

# The asset names the API host, the site and the job; producer and consumer must agree on it.
API_HOST = os.environ.get("BAAS_EXAMPLE_API_HOST", "baas.example.com")
SITE = os.environ.get("BAAS_EXAMPLE_SITE_ID", "demo-site")
POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))
CRM_BACKUP = baas_asset(API_HOST, SITE, 40)

with DAG(
    dag_id="example_baas_crm_backup",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example"],
):
    BaasExecuteJobOperator(
        task_id="backup_crm",
        job_id=40,
        site_id=SITE,
        deferrable=True,
        poll_interval=POLL,
        outlets=[CRM_BACKUP],
    )

with DAG(
    dag_id="example_baas_after_crm_backup",
    schedule=[CRM_BACKUP],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example"],
):

    @task
    def announce(**context) -> dict:
        """The triggering event's extra holds the execution id, status and backup size."""
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
        extras = [event.extra for batch in events.values() for event in batch]
        print(f"CRM backup finished: {extras}")
        return {"events": extras}

    announce()
