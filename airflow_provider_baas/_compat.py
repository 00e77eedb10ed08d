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
        AirflowTaskTimeout,
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
        AirflowTaskTimeout,
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
    "AirflowTaskTimeout",
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


def get_xcom_value(ti_key: Any, key: str) -> Any:
    """Read one XCom value for an operator extra link."""
    if AIRFLOW_V_3:
        from airflow.sdk.execution_time.xcom import XCom
    else:
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    return XCom.get_value(ti_key=ti_key, key=key)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, as every official provider reads it."""
    if AIRFLOW_V_3:
        from airflow.sdk import conf
    else:
        from airflow.configuration import conf  # type: ignore[no-redef]
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def is_deferral_timeout(exc: BaseException) -> bool:
    """The framework's own deferral timeout fired (our trigger's deadline is normally first)."""
    if AIRFLOW_V_3:
        from airflow.sdk.exceptions import TaskDeferralTimeout

        return isinstance(exc, TaskDeferralTimeout)
    from airflow.exceptions import TaskDeferralError

    return isinstance(exc, TaskDeferralError) and "timeout" in str(exc).lower()


def poke_return_value(is_done: bool, xcom_value: Any = None) -> Any:
    if AIRFLOW_V_3:
        from airflow.sdk import PokeReturnValue
    else:
        from airflow.sensors.base import PokeReturnValue  # type: ignore[no-redef]
    return PokeReturnValue(is_done=is_done, xcom_value=xcom_value)
