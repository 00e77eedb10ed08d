"""BaasBackupEventTrigger: an asset watcher's trigger that reports backups BaaS ran on its own.

Airflow 3 runs it in the triggerer for an ``Asset`` with an ``AssetWatcher`` (see
``airflow_provider_baas.assets.baas_backup_asset``); each event it yields becomes one asset event.
It runs for as long as the asset is watched: errors are logged and backed off from, never fatal.

Its kwargs are only configuration (no creation time): Airflow identifies a watcher's trigger by
class path and kwargs, so the same DAG parsed twice must give the same trigger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_baas._compat import asset_state_accessors, base_event_trigger
from airflow_provider_baas.backup_events import (
    DEFAULT_EVENT_STATUSES,
    Watermark,
    event_payload,
    event_statuses,
    initial_watermark,
    new_events,
)
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID
from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.polling import (
    DEFAULT_ERROR_WINDOW,
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    is_transient,
)
from airflow_provider_baas.status import StatusPolicy
from airflow_provider_baas.triggers.job_feed import JobFeed, Reading

BaseEventTrigger: Any = base_event_trigger()
DEFAULT_WATCH_INTERVAL = 60.0
# The key of the watermark in each watched asset's state store (Airflow >= 3.3).
WATERMARK_KEY_PREFIX = "baas_backup_event_watermark"


def _hook(conn_id: str, site_id: str | None) -> Any:
    from airflow_provider_baas.hooks.baas import BaasHook

    return BaasHook(baas_conn_id=conn_id, site_id=site_id)


class BaasBackupEventTrigger(BaseEventTrigger):
    """Fires one event per new ended execution of a job whose status is in ``statuses``.

    The payload (the asset event's ``extra["payload"]``): ``execution_id, job_id, site_id, status,
    outcome ("success" | "failed"), start_time, end_time, backup_set_size, status_detail,
    run_type, backup_started`` (False: nothing in this DAG started it).

    An execution is reported at most once per watcher, and never when it ended before the watcher
    first started. Where Airflow offers an asset state store (3.3), the watermark is kept there and
    survives triggerer restarts; elsewhere a restarted watcher starts again from "now".

    :param job_id: the BaaS job to watch.
    :param site_id: its site (default: the connection's).
    :param baas_conn_id: the Airflow connection.
    :param statuses: final statuses to report (default ``["SUCCESSFUL"]``; add e.g. ``"FAILED"``).
    :param poll_interval: seconds between two reads of the job.
    """

    def __init__(
        self,
        *,
        job_id: str | int,
        site_id: str | None = None,
        baas_conn_id: str = DEFAULT_CONN_ID,
        statuses: list[str] | tuple[str, ...] = DEFAULT_EVENT_STATUSES,
        poll_interval: float = DEFAULT_WATCH_INTERVAL,
    ) -> None:
        super().__init__()
        if not str(job_id).strip().isdigit() or int(job_id) <= 0:
            raise ValueError(f"job_id must be a positive integer, got {job_id!r}")
        if not str(baas_conn_id or "").strip():
            raise ValueError("baas_conn_id must name an Airflow connection")
        self.job_id = str(int(job_id))
        self.site_id = site_id
        self.baas_conn_id = baas_conn_id
        self.statuses = event_statuses(statuses)
        if not float(poll_interval) > 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        self.poll_interval = float(poll_interval)
        self.status_policy = StatusPolicy.build()
        self.watermark: Watermark | None = None
        self._unsaved = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger's class path and kwargs: configuration only, so Airflow recognises the same
        watcher each time the DAG is parsed.
        """
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "site_id": self.site_id,
                "baas_conn_id": self.baas_conn_id,
                "statuses": list(self.statuses),
                "poll_interval": self.poll_interval,
            },
        )

    @property
    def subject(self) -> str:
        """What the watcher watches, in log lines."""
        site = f" on site {self.site_id}" if self.site_id else ""
        return f"BaaS job {self.job_id}{site}"

    @property
    def watermark_key(self) -> str:
        """One key per watched job and status set: an asset may be watched by several triggers."""
        site = self.site_id or "-"
        return f"{WATERMARK_KEY_PREFIX}/{self.baas_conn_id}/{site}/{self.job_id}/{','.join(self.statuses)}"

    async def run(self) -> AsyncIterator[Any]:
        """Poll the job forever; yield one event per new ended execution in the watched statuses."""
        from airflow.triggers.base import TriggerEvent

        from airflow_provider_baas.hooks.transport import shared_session_lease

        # None until the first listing: what has ended by then is old (see initial_watermark).
        self.watermark = await self._load_watermark()
        if self.watermark is not None:
            self._log_start("resuming")
        key = (self.baas_conn_id, self.site_id, self.job_id, self.poll_interval)
        async with shared_session_lease():
            feed = JobFeed.for_key(key, _hook)
            last_signature: Any = None
            since_good = time.monotonic()
            async for reading in feed.readings():
                await self._save_watermark()  # events of the last reading have been handed over
                if reading.error is not None:
                    self._log_error(reading, time.monotonic() - since_good)
                    continue
                since_good = time.monotonic()
                if reading.signature == last_signature and self.watermark is not None:
                    continue
                try:
                    executions = await feed.executions(reading.signature)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._log_error(Reading(error=exc, consecutive_errors=1), 0.0)
                    continue  # the signature is not taken: the next reading lists again
                last_signature = reading.signature
                if self.watermark is None:
                    self.watermark, self._unsaved = initial_watermark(executions), True
                    self._log_start("first start")
                    await self._save_watermark()
                    continue
                for execution in new_events(executions, self.statuses, self.watermark):
                    yield TriggerEvent(self._payload(execution))
                    self.watermark = self.watermark.after(execution)
                    self._unsaved = True

    def _payload(self, execution: Any) -> dict[str, Any]:
        payload = event_payload(execution, self.site_id, self.status_policy)
        self.log.info(
            "%s: execution %s ended %s with status %s",
            self.subject,
            execution.execution_id,
            payload["end_time"],
            execution.status,
        )
        return payload

    def _log_start(self, how: str) -> None:
        assert self.watermark is not None
        self.log.info(
            "Watching %s (%s) for %s executions that end after %s",
            self.subject,
            how,
            "/".join(self.statuses),
            self.watermark.end_time.isoformat(),
        )

    def _log_error(self, reading: Reading, since_good: float) -> None:
        """The execution trigger's rules, except that a watcher never stops: it logs louder instead."""
        exc = reading.error
        over_budget = (
            reading.consecutive_errors > DEFAULT_MAX_CONSECUTIVE_ERRORS or since_good > DEFAULT_ERROR_WINDOW
        )
        if is_transient(exc) and not over_budget:
            self.log.warning("Reading %s failed (%s); retrying", self.subject, exc)
            return
        kind = "transient" if is_transient(exc) else "non-transient"
        self.log.error(
            "Reading %s failed %d time(s) in a row, %s without an answer (%s error %s: %s); "
            "still watching, retrying every %s at most",
            self.subject,
            reading.consecutive_errors,
            format_duration(since_good),
            kind,
            type(exc).__name__,
            exc,
            format_duration(self.poll_interval),
        )

    # -- the watermark's store (Airflow >= 3.3: the watched assets' state store)

    async def _load_watermark(self) -> Watermark | None:
        found: list[Watermark] = []
        for accessor in asset_state_accessors(self):
            try:
                value = await accessor.aget(self.watermark_key)
            except Exception as exc:  # a store we cannot read: start from now rather than flood
                self.log.warning("Could not read the watermark of %s: %s", self.subject, exc)
                continue
            if (watermark := Watermark.from_json(value)) is not None:
                found.append(watermark)
        if not found:
            return None
        newest = max(w.end_time for w in found)
        return Watermark(newest, frozenset().union(*(w.ids for w in found if w.end_time == newest)))

    async def _save_watermark(self) -> None:
        if not self._unsaved or self.watermark is None:
            return
        accessors = asset_state_accessors(self)
        try:
            for accessor in accessors:
                await accessor.aset(self.watermark_key, self.watermark.to_json())
        except Exception as exc:  # kept unsaved: tried again after the next reading
            self.log.warning("Could not store the watermark of %s: %s", self.subject, exc)
            return
        self._unsaved = False
