"""The provider metadata Airflow discovers through the ``apache_airflow_provider`` entry point.

Lists only modules that exist. Imports nothing heavy: Airflow reads this for every CLI call and
UI page, and Airflow >= 3.2 builds the connection form from it without importing the hook.
"""

from __future__ import annotations

from typing import Any

INTEGRATION = "Teradata VantageCloud BaaS"


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata for Airflow's ``apache_airflow_provider`` entry point: name,
    versions, the connection type with its form, the extra link, the ``baas`` asset URI scheme."""
    from airflow_provider_baas import __version__
    from airflow_provider_baas.connection_form import (
        CONN_TYPE,
        HOOK_NAME,
        conn_fields,
        ui_field_behaviour_kebab,
    )

    return {
        "package-name": "airflow-provider-baas",
        "name": "Teradata VantageCloud BaaS",
        "description": "Backups and restores of Teradata VantageCloud Enterprise (BaaS) from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.teradata.com/",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_baas.operators.baas",
                    "airflow_provider_baas.operators.restore",
                ],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_baas.sensors.baas"]}
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_baas.hooks.baas"]}],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_baas.triggers.baas",
                    "airflow_provider_baas.triggers.events",
                    "airflow_provider_baas.triggers.restore",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_baas.operators.baas.BaasExecutionLink",
            "airflow_provider_baas.operators.restore.BaasRestoreLink",
        ],
        # Airflow 3 reads asset-uris, Airflow 2.11 dataset-uris: baas://<host>/<site_id>/jobs/<job_id>
        "asset-uris": [{"schemes": ["baas"], "handler": "airflow_provider_baas.assets.sanitize_uri"}],
        "dataset-uris": [{"schemes": ["baas"], "handler": "airflow_provider_baas.assets.sanitize_uri"}],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_baas.hooks.baas.BaasHook",
                "hook-name": HOOK_NAME,
                "conn-fields": conn_fields(),
                "ui-field-behaviour": ui_field_behaviour_kebab(),
            }
        ],
    }
