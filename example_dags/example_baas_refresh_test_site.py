"""Refresh the test site from last night's backup: list what it holds, restore two databases, check.

``restore`` picks the newest SUCCESSFUL execution of ``daily_warehouse_backup`` (refusing one older
than 36 hours), checks that WAREHOUSE and WAREHOUSE_MART are in it and that the database user of
the ``teradata_restore`` connection may restore them, creates the restore on the DR site, and waits
for it in the triggerer. A retry after a worker crash waits for the same restore; it never creates
a second one.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_baas.operators.restore import BaasRestoreOperator

POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "60"))
BACKUP_JOB = "daily_warehouse_backup"
TEST_SITE = os.environ.get("BAAS_EXAMPLE_TEST_SITE", "dr-site")

with DAG(
    dag_id="example_baas_refresh_test_site",
    schedule=None,  # e.g. "0 5 * * *": every morning, after the nightly backup
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas", "example", "restore"],
) as dag:

    @task
    def list_backup_objects() -> list[str]:
        """What last night's backup holds (the log shows it; the restore checks its own objects)."""
        from airflow_provider_baas.hooks.baas import BaasHook
        from airflow_provider_baas.operators.restore import newest_successful

        hook = BaasHook()
        job = hook.find_job_by_name(BACKUP_JOB)
        execution = newest_successful(hook.list_job_executions(job.job_id), None, datetime.now().astimezone())
        objects = hook.list_backup_objects(job.job_id, execution.execution_id)
        names = [o.object_name for o in objects]
        print(f"Execution {execution.execution_id} of {BACKUP_JOB} holds: {', '.join(names)}")
        return names

    restore = BaasRestoreOperator(
        task_id="restore",
        job_name=BACKUP_JOB,
        max_age=timedelta(hours=36),
        objects=["WAREHOUSE", "WAREHOUSE_MART"],
        target_site=TEST_SITE,
        teradata_conn_id="teradata_restore",
        skip_statistics=True,
        deferrable=True,
        poll_interval=POLL,
    )

    @task
    def check_restore(record: dict) -> None:
        """The downstream check: the restore ended SUCCESSFUL (the operator fails otherwise)."""
        if str(record.get("status", "")).upper() != "SUCCESSFUL":
            raise ValueError(f"restore {record.get('restore_id')} ended {record.get('status')}")
        print(f"Restore {record['restore_id']} of execution {record['execution_id']}: SUCCESSFUL")

    list_backup_objects() >> restore
    check_restore(restore.output)
