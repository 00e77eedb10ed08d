"""The only module that knows the difference between Airflow 2.11 and 3.x import paths."""

from __future__ import annotations

from typing import Any

try:  # Airflow 3.x: the task SDK
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )

    AIRFLOW_V_3 = True
except ImportError:  # Airflow 2.11
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]

    AIRFLOW_V_3 = False

__all__ = [
    "AIRFLOW_V_3",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "TaskDeferred",
    "aget_connection",
    "mask_secret",
]


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Register a value with Airflow's secrets masker so it never reaches a log."""
    if not secret:
        return
    if AIRFLOW_V_3:
        from airflow.sdk.log import mask_secret as _mask
    else:
        from airflow.utils.log.secrets_masker import mask_secret as _mask
    _mask(secret, name)


async def aget_connection(conn_id: str) -> Any:
    """Look a connection up without blocking the event loop.

    Airflow 3's triggerer refuses a synchronous ``get_connection`` inside its loop
    ("You cannot use AsyncToSync in the same thread as an async event loop").
    """
    if AIRFLOW_V_3:
        return await BaseHook.aget_connection(conn_id)
    import asyncio

    return await asyncio.to_thread(BaseHook.get_connection, conn_id)
