"""One poll of a job per interval in a process, however many asset watchers read it.

Airflow runs one watcher trigger per distinct (class path, kwargs): two assets watching the same
job for different statuses are two triggers. They share a ``JobFeed`` (one per event loop and
``(connection, site, job, interval)``): a single task reads the job (J2, one small GET) every
interval and hands each reading to every subscriber. The job's ``last_execution_details`` tell a
subscriber when something changed; only then is the execution listing read, once per change
for all subscribers.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_baas.errors import BaasRateLimitedError
from airflow_provider_baas.polling import PollingPolicy, coalesced, is_transient

FeedKey = tuple[str, str | None, str, float]
_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[FeedKey, JobFeed]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Reading:
    """One poll of the job: its newest execution's signature, or the error the poll met."""

    signature: tuple[Any, ...] | None = None
    error: BaseException | None = None
    consecutive_errors: int = 0


def summary_signature(job: Any) -> tuple[Any, ...] | None:
    """What changes whenever the job's newest execution starts, changes status or ends.

    :param job: the job as read (its ``last_execution_details``).
    """
    last = job.last_execution
    if last is None:
        return None
    return (last.execution_id, last.status, last.end_time)


class JobFeed:
    """Reads one job every ``interval`` seconds while at least one subscriber listens.

    :param key: the connection, site, job and interval it reads.
    :param hook: the async hook it reads with.
    :param polling: the schedule of its reads and error backoff.
    """

    def __init__(self, key: FeedKey, hook: Any, polling: PollingPolicy) -> None:
        self.key = key
        self.hook = hook
        self.polling = polling
        self.subscribers = 0
        self._next: asyncio.Future[Reading] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._listing: tuple[Any, asyncio.Task[list[Any]]] | None = None

    @classmethod
    def for_key(cls, key: FeedKey, hook_factory: Any) -> JobFeed:
        """The running loop's feed for ``key`` (created, with its hook, on first use).

        :param key: the connection, site, job and interval.
        :param hook_factory: makes the hook when the feed is created.
        """
        per_loop = _feeds.setdefault(asyncio.get_running_loop(), {})
        feed = per_loop.get(key)
        if feed is None:
            conn_id, site_id, _job_id, interval = key
            polling = PollingPolicy(poll_interval=interval, first_interval=min(interval, 15.0))
            feed = per_loop[key] = cls(key, hook_factory(conn_id, site_id), polling)
        return feed

    async def readings(self) -> AsyncIterator[Reading]:
        """Every reading from now on, as long as the caller iterates."""
        self.subscribers += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll_forever())
        try:
            while True:
                # shield: one subscriber leaving must not cancel the reading the others wait for
                yield await asyncio.shield(self._next)
        finally:
            self.subscribers -= 1
            if self.subscribers == 0:
                self._stop()

    async def executions(self, signature: Any) -> list[Any]:
        """The job's execution listing as of ``signature``: read once however many ask for it.

        :param signature: the job summary's signature the caller saw.
        """
        if self._listing is None or self._listing[0] != signature or self._listing[1].cancelled():
            job_id, site_id = self.key[2], self.key[1]
            task = asyncio.get_running_loop().create_task(self.hook.alist_job_executions(job_id, site_id))
            self._listing = (signature, task)
        task = self._listing[1]
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and not task.cancelled() and task.exception() is not None:
                self._listing = None  # a failed read is not kept: the next asker reads again
            raise

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        _feeds.get(asyncio.get_running_loop(), {}).pop(self.key, None)

    async def _poll_forever(self) -> None:
        errors = 0
        while True:
            try:
                job = await self.hook.aget_job(self.key[2], self.key[1])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors += 1
                self._publish(Reading(error=exc, consecutive_errors=errors))
                # A rejected token or a wrong site does not heal in seconds: back to the interval.
                wait = self.polling.error_wait(errors) if is_transient(exc) else self.polling.poll_interval
                if isinstance(exc, BaasRateLimitedError) and exc.retry_after:
                    wait = max(wait, exc.retry_after)  # the server said when to come back
            else:
                errors = 0
                self._publish(Reading(signature=summary_signature(job)))
                wait = self.polling.poll_interval
            loop_time = asyncio.get_running_loop().time()
            await asyncio.sleep(coalesced(wait, loop_time, len(_feeds.get(asyncio.get_running_loop(), {}))))

    def _publish(self, reading: Reading) -> None:
        current, self._next = self._next, asyncio.get_running_loop().create_future()
        current.set_result(reading)
