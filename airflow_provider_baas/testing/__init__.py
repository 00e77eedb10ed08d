"""Embedded Teradata BaaS (data-protection v2) simulator for testing DAGs and hooks.

``from airflow_provider_baas.testing import BaasSimulator, Scenario`` — see docs/simulator.md.

Exports are loaded lazily: importing this package (as pytest does for the ``baas`` plugin)
imports neither aiohttp nor anything else heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_baas.testing.constants import (
        BASE_PATH,
        DEFAULT_DB_LOGIN,
        DEFAULT_DB_PASSWORD,
        DEFAULT_SITE_ID,
        DEFAULT_TOKEN,
        FIXTURE_TIME_SCALE,
    )
    from airflow_provider_baas.testing.faults import Fault
    from airflow_provider_baas.testing.pytest_plugin import use_baas_connection, use_teradata_connection
    from airflow_provider_baas.testing.scenario import HistoryEntry, JobSpec, Outcome, Scenario, SiteSpec
    from airflow_provider_baas.testing.server import BaasSimulator, RecordedRequest
    from airflow_provider_baas.testing.state import SimError

_EXPORTS = {
    "BaasSimulator": "server",
    "RecordedRequest": "server",
    "SimError": "state",
    "Scenario": "scenario",
    "SiteSpec": "scenario",
    "JobSpec": "scenario",
    "HistoryEntry": "scenario",
    "Outcome": "scenario",
    "Fault": "faults",
    "use_baas_connection": "pytest_plugin",
    "use_teradata_connection": "pytest_plugin",
    "DEFAULT_DB_LOGIN": "constants",
    "DEFAULT_DB_PASSWORD": "constants",
    "BASE_PATH": "constants",
    "DEFAULT_SITE_ID": "constants",
    "DEFAULT_TOKEN": "constants",
    "FIXTURE_TIME_SCALE": "constants",
}

__all__ = [
    "BASE_PATH",
    "DEFAULT_DB_LOGIN",
    "DEFAULT_DB_PASSWORD",
    "DEFAULT_SITE_ID",
    "DEFAULT_TOKEN",
    "FIXTURE_TIME_SCALE",
    "BaasSimulator",
    "Fault",
    "HistoryEntry",
    "JobSpec",
    "Outcome",
    "RecordedRequest",
    "Scenario",
    "SimError",
    "SiteSpec",
    "use_baas_connection",
    "use_teradata_connection",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
