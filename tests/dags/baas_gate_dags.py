"""Freshness-gate DAGs for the DAG-level tests (jobs 201-205 of tests/dag_runs' gate scenario)."""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

from airflow_provider_baas.assets import baas_asset_alias
from airflow_provider_baas.sensors.baas import BaasBackupFreshnessSensor

START = datetime(2026, 1, 1)


def _gate(dag_id: str, job_id: int, **kwargs) -> None:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["baas-tests"]):
        BaasBackupFreshnessSensor(
            task_id="gate",
            job_id=job_id,
            max_age=timedelta(hours=1),
            poll_interval=0.3,
            poke_interval=0.3,
            outlets=[baas_asset_alias(f"gate-{dag_id}")],
            **kwargs,
        )


_gate("baas_gate_fresh", 201, trigger_if_stale=True, deferrable=True, timeout=60)
_gate("baas_gate_stale_deferrable", 202, trigger_if_stale=True, deferrable=True, timeout=60)
_gate("baas_gate_stale_poke", 202, trigger_if_stale=True, mode="poke", timeout=60)
_gate("baas_gate_last_failed", 203, trigger_if_stale=True, deferrable=True, timeout=60)
_gate("baas_gate_stale_no_trigger", 204, trigger_if_stale=False, deferrable=True, timeout=1.5)
_gate(
    "baas_gate_stale_no_trigger_soft", 204, trigger_if_stale=False, mode="poke", timeout=1.5, soft_fail=True
)
_gate("baas_gate_join_queued_deferrable", 205, trigger_if_stale=True, deferrable=True, timeout=60)
_gate("baas_gate_join_queued_poke", 205, trigger_if_stale=True, mode="poke", timeout=60)
