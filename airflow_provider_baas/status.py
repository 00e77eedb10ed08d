"""What an execution's status word means: the one place that decides success, failure or waiting.

Only ``SUCCESSFUL`` is documented. Related Teradata products also report FAILED, ABORTED, WARNING,
RUNNING/EXECUTING, QUEUED, ABORTING. An unknown word is never taken for success: it counts as
"still running" (so a timeout bounds it) and is logged once per process so it gets noticed.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_SUCCESS_STATUSES = frozenset({"SUCCESSFUL"})
# WARNING is a failure by default: a backup "completed with warnings" is not a safe pre-ETL gate
# unless the DAG author says so (success_statuses={"SUCCESSFUL", "WARNING"}).
DEFAULT_FAILURE_STATUSES = frozenset({"FAILED", "ABORTED", "ERROR", "CANCELLED", "CANCELED", "WARNING"})
KNOWN_RUNNING_STATUSES = frozenset(
    {"QUEUED", "PENDING", "SUBMITTED", "STARTING", "RUNNING", "EXECUTING", "IN_PROGRESS", "ABORTING"}
)

_reported_unknown: set[str] = set()


class Outcome(enum.StrEnum):
    """What a status word means for a wait: success, failure, or still running."""

    SUCCESS = "success"
    FAILED = "failed"
    RUNNING = "running"


def _normalise(statuses: Iterable[str]) -> frozenset[str]:
    if isinstance(statuses, str):
        statuses = [statuses]
    words = frozenset(str(s).strip().upper() for s in statuses if str(s).strip())
    if not words:
        raise ValueError("a status set must contain at least one status")
    return words


@dataclass(frozen=True)
class StatusPolicy:
    """Classifies status words; both sets are overridable per task, case-insensitively."""

    success: frozenset[str] = DEFAULT_SUCCESS_STATUSES
    failure: frozenset[str] = DEFAULT_FAILURE_STATUSES

    @classmethod
    def build(
        cls, success_statuses: Iterable[str] | None = None, failure_statuses: Iterable[str] | None = None
    ) -> StatusPolicy:
        """A policy from the task's status sets; a word in neither set is still running.

        :param success_statuses: words that are success (None: ``SUCCESSFUL``).
        :param failure_statuses: words that are failure (None: the default failure words, less the
            success words).
        :raises ValueError: when a word is in both sets.
        """
        success = _normalise(success_statuses) if success_statuses is not None else DEFAULT_SUCCESS_STATUSES
        failure = _normalise(failure_statuses) if failure_statuses is not None else DEFAULT_FAILURE_STATUSES
        failure = failure - success if failure_statuses is None else failure
        if overlap := success & failure:
            raise ValueError(f"statuses {sorted(overlap)} are in both success_statuses and failure_statuses")
        return cls(success=success, failure=failure)

    def classify(self, status: str | None) -> Outcome:
        """What one status word means; an unknown word is running (never success) and is logged once.

        :param status: the word, any case (None: running).
        """
        word = (status or "").strip().upper()
        if word in self.success:
            return Outcome.SUCCESS
        if word in self.failure:
            return Outcome.FAILED
        if word not in KNOWN_RUNNING_STATUSES:
            _report_unknown(word)
        return Outcome.RUNNING

    def to_kwargs(self) -> dict[str, list[str]]:
        """JSON-able form, for trigger kwargs."""
        return {"success_statuses": sorted(self.success), "failure_statuses": sorted(self.failure)}


def _report_unknown(word: str) -> None:
    if word in _reported_unknown:
        return
    _reported_unknown.add(word)
    log.warning(
        "BaaS execution status %r is not a known status: treating it as still running. If it is final, "
        "add it to success_statuses or failure_statuses.",
        word or "<empty>",
    )
