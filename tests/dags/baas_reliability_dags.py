"""DAGs of the reliability suite (tests/reliability), run with real Airflow against the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.operators.restore import BaasRestoreOperator
from airflow_provider_baas.sensors.baas import BaasExecutionSensor

START = datetime(2026, 1, 1)

# Known fake secrets travel through these (connections baas_rel_token / baas_rel_pat, set by the test).
for _auth in ("token", "pat"):
    with DAG(
        f"baas_rel_secrets_{_auth}", schedule=None, start_date=START, catchup=False, tags=["baas-tests"]
    ):
        _backup = BaasExecuteJobOperator(
            task_id="backup", job_id=34, deferrable=True, poll_interval=0.2, baas_conn_id=f"baas_rel_{_auth}"
        )
        _check = BaasExecutionSensor(
            task_id="check",
            job_id=34,
            execution_id="{{ ti.xcom_pull(task_ids='backup', key='execution_id') }}",
            mode="poke",
            poke_interval=0.2,
            timeout=60,
            baas_conn_id=f"baas_rel_{_auth}",
        )
        _backup >> _check

# A run that fails: the server echoes the credentials in its error body.
with DAG("baas_rel_secrets_failure", schedule=None, start_date=START, catchup=False, tags=["baas-tests"]):
    BaasExecuteJobOperator(
        task_id="backup",
        job_id=34,
        deferrable=True,
        poll_interval=0.2,
        baas_conn_id="baas_rel_token",
        retries=0,
        retry_delay=timedelta(seconds=0),
    )

# A restore: the database password of connection teradata_rel (set by the test) must leave no trace.
with DAG("baas_rel_secrets_restore", schedule=None, start_date=START, catchup=False, tags=["baas-tests"]):
    BaasRestoreOperator(
        task_id="restore",
        job_id=34,
        objects=["WAREHOUSE", "WAREHOUSE.ORDERS"],
        target_site="{{ params.target_site }}",
        teradata_conn_id="teradata_rel",
        deferrable=True,
        poll_interval=0.2,
        baas_conn_id="baas_rel_token",
        retries=0,
        params={"target_site": "demo-site"},
    )
