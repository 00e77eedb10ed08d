"""A DAG that loads restore credentials from a ``teradata`` connection stored in the metadata DB."""

from __future__ import annotations

from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task


with DAG(
    "baas_teradata_db_connection",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["baas-tests"],
):

    @task
    def load_credentials() -> None:
        """Sync (a worker) and from an event loop (a trigger would): the same header; nothing returned."""
        import asyncio

        from airflow_provider_baas.credentials import (
            CREDENTIALS_HEADER,
            adatabase_credentials,
            database_credentials,
        )

        sync = database_credentials("teradata_in_db").header().reveal()[CREDENTIALS_HEADER]
        in_loop = asyncio.run(adatabase_credentials("teradata_in_db")).header().reveal()[CREDENTIALS_HEADER]
        if not (sync == in_loop and sync.startswith("Basic ")):
            raise ValueError("the two lookups disagree")

    load_credentials()
