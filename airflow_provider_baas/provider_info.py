"""The provider metadata Airflow discovers through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    from airflow_provider_baas import __version__

    return {
        "package-name": "airflow-provider-baas",
        "name": "Teradata VantageCloud BaaS",
        "description": "Backups and restores of Teradata VantageCloud Enterprise (BaaS) from Airflow.",
        "versions": [__version__],
    }
