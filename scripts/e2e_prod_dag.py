"""The DAG of make e2e-prod (scripts/e2e_prod.sh): the pre-ETL gate and ten mapped, deferrable
backups per run, then the ETL.

Its ids are long on purpose (DAG 200 characters, mapped task 120): with the run id, the name of the
reattach memory on lines without a task state store would be over 400 characters. Each run names
its ten jobs in its conf (``{"jobs": [...]}``), so the simulator's executions of a job are those
of one task instance.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, get_current_context, task

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.sensors.baas import BaasBackupFreshnessSensor

DAG_ID = ("e2e_prod_" + "pre_etl_gate_and_mapped_backups_with_ids_long_enough_for_the_reattach_memory_" * 3)[
    :200
]
BACKUP_TASK_ID = ("backup_" + "each_job_of_this_run_with_a_long_task_id_" * 3)[:120]
POLL = float(os.environ.get("BAAS_EXAMPLE_POLL_INTERVAL", "10"))
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=5)}

with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=32,
    max_active_tasks=512,
    tags=["baas", "e2e"],
) as dag:
    gate = BaasBackupFreshnessSensor(
        task_id="warehouse_backup_is_fresh",
        job_name="daily_warehouse_backup",
        max_age=timedelta(hours=24),
        trigger_if_stale=True,
        deferrable=True,
        poll_interval=POLL,
        poke_interval=POLL,
        timeout=timedelta(hours=6).total_seconds(),
        **RETRIES,
    )

    @task
    def jobs_of_this_run() -> list[int]:
        return [int(job) for job in get_current_context()["dag_run"].conf["jobs"]]

    backups = BaasExecuteJobOperator.partial(
        task_id=BACKUP_TASK_ID, deferrable=True, poll_interval=POLL, **RETRIES
    ).expand(job_id=jobs_of_this_run())

    @task
    def etl(records: list[dict]) -> int:
        return len(records)

    gate >> etl(backups.output)
