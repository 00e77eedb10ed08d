"""BaasRestoreTrigger: wait for one restore in the triggerer, with the one wait loop of every trigger.

Polls R1 (``get_restore``) through the async hook. Its kwargs hold ids, the BaaS connection id and
the absolute deadline only: polling a restore needs no database credentials, so none are passed.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_baas.polling import (
    DEFAULT_FIRST_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    Decision,
    RestoreWatch,
)
from airflow_provider_baas.triggers.baas import BaasWaitTrigger, _shared_polling

NO_CANCEL_RESTORE = (
    "The BaaS API has no cancel endpoint: restore {restore_id} (of execution {execution_id} of job "
    "{job_id}) goes on on the server."
)


class BaasRestoreTrigger(BaasWaitTrigger):
    """Polls one restore until it succeeds, fails, the deadline passes, or errors exhaust the budget.

    Fires exactly one event: ``{"status": "success" | "failed" | "timeout" | "error", "message",
    "job_id", "execution_id", "restore_id", "site_id", "execution": <the restore's record or None>,
    "elapsed_seconds", "deadline_kind"}`` (``execution`` is the record key of every wait's event).

    :param job_id: the backup job whose execution is restored.
    :param execution_id: the backup execution restored.
    :param restore_id: the restore to wait for.
    :param poll_interval: the longest wait between two polls (seconds).
    :param first_interval: the first waits (seconds), growing to ``poll_interval``.
    :param wait: the arguments of every wait (see ``BaasWaitTrigger``).
    """

    waiting = 0

    def __init__(
        self,
        *,
        job_id: str,
        execution_id: str,
        restore_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        first_interval: float = DEFAULT_FIRST_INTERVAL,
        **wait: Any,
    ) -> None:
        super().__init__(job_id=job_id, **wait)
        self.execution_id = str(execution_id)
        self.restore_id = str(restore_id)
        self.poll_interval = poll_interval
        self.first_interval = first_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The classpath and JSON kwargs (no secret) that re-create this trigger after a restart."""
        return (
            self._classpath(),
            {
                **self._common_kwargs(),
                "execution_id": self.execution_id,
                "restore_id": self.restore_id,
                "poll_interval": self.poll_interval,
                "first_interval": self.first_interval,
            },
        )

    def _watch(self) -> RestoreWatch:
        return RestoreWatch(
            job_id=self.job_id,
            execution_id=self.execution_id,
            restore_id=self.restore_id,
            status_policy=self.status_policy,
            polling=_shared_polling(self.poll_interval, self.first_interval),
            started_at=self.started_at,
            deadline=self.deadline,
            max_consecutive_errors=self.max_consecutive_errors,
            error_window=self.error_window,
        )

    async def _read(self, hook: Any) -> Any:
        return await hook.aget_restore(self.job_id, self.execution_id, self.restore_id, self.site_id)

    def _judge(self, watch: RestoreWatch, result: Any) -> Decision:
        return watch.observe(result)

    def _event(self, decision: Decision, watch: RestoreWatch) -> dict[str, Any]:
        return {
            "status": decision.state,
            "message": decision.message,
            "job_id": self.job_id,
            "execution_id": self.execution_id,
            "restore_id": self.restore_id,
            "site_id": self.site_id,
            "execution": decision.execution,
            "elapsed_seconds": round(watch.elapsed(), 3),
            "deadline_kind": self.deadline_kind,
        }

    async def on_kill(self) -> None:
        """Airflow 3.3: the user marked the deferred task failed or cleared; nothing can be cancelled."""
        self.log.warning(
            NO_CANCEL_RESTORE.format(
                restore_id=self.restore_id, execution_id=self.execution_id, job_id=self.job_id
            )
        )
