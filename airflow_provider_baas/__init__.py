"""Apache Airflow provider for Teradata VantageCloud Enterprise BaaS (Backup as a Service).

Importing this package must stay cheap: it is imported by Airflow's provider discovery and by
every DAG that uses us, so nothing here imports requests, aiohttp, jwt or cryptography.
"""

from __future__ import annotations

__version__ = "0.1.0"

from airflow_provider_baas.provider_info import get_provider_info

__all__ = ["__version__", "get_provider_info"]
