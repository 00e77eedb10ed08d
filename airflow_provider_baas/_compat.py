"""The only module that knows how Airflow lines (2.11, 3.0 ... 3.3) differ.

Each difference is decided by the capability itself, never by one "is this Airflow 3?" test:
import names through ``apache-airflow-providers-common-compat`` (installed with every line), which
tries the Task SDK's home first and the 2.x home after it; anything else by looking for the
attribute or module that is used.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
    TaskDeferred,
)

__all__ = [
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
    "asset",
    "asset_alias",
    "asset_state_accessors",
    "asset_watcher",
    "base_event_trigger",
    "has_asset_watchers",
    "mask_secret",
    "variable_api",
]


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Register a value with Airflow's secrets masker so it never reaches a log."""
    if not secret:
        return
    from airflow.providers.common.compat.sdk import mask_secret as _mask

    _mask(secret, name)


async def aget_connection(conn_id: str) -> Any:
    """Look a connection up without blocking the event loop (triggerer-safe).

    common-compat picks the lookup that is safe on the running line (``BaseHook.aget_connection``
    where it exists and does not deadlock, else the synchronous one in a worker thread). Under
    ``airflow dags test`` on 3.3 the async lookup misses connections stored in the metadata DB while
    the synchronous one finds them, so "not found" is asked once more off the loop before it stands.
    """
    from airflow.providers.common.compat.connection import get_async_connection

    try:
        return await get_async_connection(conn_id)
    except AirflowNotFoundException:
        from asgiref.sync import sync_to_async

        return await sync_to_async(BaseHook.get_connection)(conn_id)


def variable_api() -> Any:
    """The Variable class a running task uses: the Task SDK's on 3.x, the ORM model on 2.x."""
    from airflow.providers.common.compat.sdk import Variable

    return Variable


def asset(uri: str, **kwargs: Any) -> Any:
    """An ``Asset`` (``Dataset`` where the line predates assets)."""
    from airflow.providers.common.compat.sdk import Asset

    return Asset(uri=uri, **kwargs)


def asset_alias(name: str) -> Any:
    """An ``AssetAlias`` (``DatasetAlias`` where the line predates assets)."""
    from airflow.providers.common.compat.sdk import AssetAlias

    return AssetAlias(name=name)


def get_xcom_value(ti_key: Any, key: str) -> Any:
    """Read one XCom value for an operator extra link."""
    from airflow.providers.common.compat.sdk import XCom

    return XCom.get_value(ti_key=ti_key, key=key)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, as every official provider reads it."""
    from airflow.providers.common.compat.sdk import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


def is_deferral_timeout(exc: BaseException) -> bool:
    """The framework's own deferral timeout fired (our trigger's deadline is normally first).

    3.x raises ``TaskDeferralTimeout`` (from ``airflow.sdk.exceptions`` since 3.2, from
    ``airflow.exceptions`` before); 2.x raises ``TaskDeferralError`` with the reason in its text.
    """
    try:
        from airflow.sdk.exceptions import TaskDeferralError, TaskDeferralTimeout
    except ImportError:
        from airflow import exceptions

        TaskDeferralError = exceptions.TaskDeferralError
        TaskDeferralTimeout = getattr(exceptions, "TaskDeferralTimeout", None)
    if TaskDeferralTimeout is not None and isinstance(exc, TaskDeferralTimeout):
        return True
    return isinstance(exc, TaskDeferralError) and "timeout" in str(exc).lower()


def poke_return_value(is_done: bool, xcom_value: Any = None) -> Any:
    from airflow.providers.common.compat.sdk import PokeReturnValue

    return PokeReturnValue(is_done=is_done, xcom_value=xcom_value)


def base_event_trigger() -> type:
    """``BaseEventTrigger`` where the line has asset watchers, else ``BaseTrigger`` (2.11).

    A trigger class derived from it imports on every line; only a watcher needs the real base.
    """
    from airflow.providers.common.compat.triggers import BaseEventTrigger

    return BaseEventTrigger


def has_asset_watchers() -> bool:
    """Whether this Airflow schedules DAGs on external events (``AssetWatcher``)."""
    try:
        from airflow.sdk import AssetWatcher  # noqa: F401
        from airflow.triggers.base import BaseEventTrigger  # noqa: F401
    except ImportError:
        return False
    return True


def asset_watcher(name: str, trigger: Any) -> Any:
    """An ``AssetWatcher``; a clear error where the line has no event-driven scheduling (2.11)."""
    try:
        from airflow.sdk import AssetWatcher
        from airflow.triggers.base import BaseEventTrigger
    except ImportError:
        raise AirflowException(
            "Asset watchers (event-driven scheduling) need Airflow 3: on this Airflow, schedule the DAG "
            "on baas_asset(...) and let BaasExecuteJobOperator emit it, or gate it with "
            "BaasBackupFreshnessSensor"
        ) from None
    if not isinstance(trigger, BaseEventTrigger):
        raise TypeError(f"{type(trigger).__name__} is not a BaseEventTrigger")
    return AssetWatcher(name=name, trigger=trigger)


def asset_state_accessors(trigger: Any) -> list[Any]:
    """The state stores of the assets a watcher's trigger reports to (Airflow >= 3.3), else ``[]``.

    The triggerer injects ``asset_state_store`` (an ``AssetStateStoreAccessors`` over every asset
    the trigger watches); each item returned has ``aget``/``aset`` for one asset.
    """
    store = getattr(trigger, "asset_state_store", None)
    if store is None:
        return []
    per_asset = [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]
    return per_asset or [store]
