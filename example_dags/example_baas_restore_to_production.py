"""Restore into a production site, only after a human approves it (Airflow's Human-in-the-loop).

On Airflow 3.1 and later, ``approve_restore`` is an ``ApprovalOperator``: the run waits in
"Required actions" until someone approves (the restore runs) or rejects (the restore is skipped);
with no answer within 12 hours the approval task fails and nothing is restored.

On lines without Human-in-the-loop (Airflow 2.11, 3.0) the DAG still parses: ``approve_restore`` is
a task that skips, so the restore is skipped too and the run ends green. Restore there by running
``example_baas_refresh_test_site``'s pattern with the production site once approved out of band.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import AirflowOptionalProviderFeatureException, AirflowSkipException

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_baas.operators.restore import BaasRestoreOperator

try:
    from airflow.providers.standard.operators.hitl import ApprovalOperator
except (ImportError, AirflowOptionalProviderFeatureException):  # 2.11 (no module), 3.0 (refused)
    ApprovalOperator = None

POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))
PRODUCTION_SITE = os.environ.get("BAAS_EXAMPLE_PRODUCTION_SITE", "dr-site")
OBJECTS = ["WAREHOUSE"]

with DAG(
    dag_id="example_baas_restore_to_production",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example", "restore"],
) as dag:
    if ApprovalOperator is not None:
        approve = ApprovalOperator(
            task_id="approve_restore",
            subject="Restore WAREHOUSE into production?",
            body=(
                f"Restores {', '.join(OBJECTS)} from the newest successful `daily_warehouse_backup` "
                f"into site `{PRODUCTION_SITE}`, overwriting what is there."
            ),
            response_timeout=timedelta(hours=12),
        )
    else:

        @task(task_id="approve_restore")
        def approve_unavailable() -> None:
            """No Human-in-the-loop on this Airflow line: skip, so nothing is restored unapproved."""
            raise AirflowSkipException("Human-in-the-loop needs Airflow 3.1+: restore skipped")

        approve = approve_unavailable()

    restore = BaasRestoreOperator(
        task_id="restore_into_production",
        job_name="daily_warehouse_backup",
        objects=OBJECTS,
        target_site=PRODUCTION_SITE,
        teradata_conn_id="teradata_restore",
        deferrable=True,
        poll_interval=POLL,
    )
    approve >> restore
