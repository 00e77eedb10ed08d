"""Typed views of the API's jobs and executions.

The API's payloads are only loosely documented (mixed key styles, ``"start_time": "string"`` in
samples, ids that are integers in one place and strings in another), so every parser here is
tolerant: unknown keys are kept in ``raw``, odd timestamps become ``None``, ids become strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime, or ``None`` for a missing, empty or unparseable value.

    :param value: the API's time value.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def id_str(value: Any) -> str | None:
    """Ids are compared as strings: the API returns the same id as int in one place, str in another.

    :param value: an id as int or str (None stays None).
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _require_object(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError(f"expected a JSON object for {what}, got {type(raw).__name__}")
    return raw


@dataclass(frozen=True)
class LastExecution:
    """A job's ``last_execution_details``: the cheapest view of its newest execution."""

    execution_id: str | None
    status: str | None
    start_time: datetime | None
    end_time: datetime | None
    backup_set_size: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any, job_type: str | None = None) -> LastExecution | None:
        """The details of a job of ``job_type``: a RESTORE job's own execution is its
        ``restore_execution_id`` (its ``backup_job_execution_id`` is the source backup's).

        :param raw: the job's ``last_execution_details``.
        :param job_type: the job's type (BACKUP or RESTORE).
        """
        if not isinstance(raw, dict) or not raw:
            return None
        backup_id = id_str(raw.get("backup_job_execution_id"))
        restore_id = id_str(raw.get("restore_execution_id"))
        is_restore = (job_type or "").strip().upper() == "RESTORE"
        execution_id = (restore_id or backup_id) if is_restore else (backup_id or restore_id)
        return cls(
            execution_id=execution_id,
            status=_str_or_none(raw.get("status")),
            start_time=parse_time(raw.get("start_time")),
            end_time=parse_time(raw.get("end_time")),
            backup_set_size=_int_or_none(raw.get("backup_set_size")),
            raw=raw,
        )

    def refers_to(self, execution_id: str) -> bool:
        """Whether these details describe ``execution_id`` (backup and restore ids both count).

        :param execution_id: the execution.
        """
        wanted = id_str(execution_id)
        return wanted is not None and wanted in (
            id_str(self.raw.get("backup_job_execution_id")),
            id_str(self.raw.get("restore_execution_id")),
        )


@dataclass(frozen=True)
class Job:
    """A BACKUP or RESTORE job (J1 listing item or J2 detail)."""

    job_id: str
    name: str | None
    job_type: str | None
    site_id: str | None
    is_active: bool | None
    backup_type: str | None
    last_execution: LastExecution | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any) -> Job:
        """A job from the API's JSON (unknown keys kept in ``raw``).

        :param raw: the job as the API returns it.
        """
        raw = _require_object(raw, "a job")
        job_id = id_str(raw.get("job_id"))
        if job_id is None:
            raise TypeError("job object has no job_id")
        is_active = raw.get("is_active")
        return cls(
            job_id=job_id,
            name=_str_or_none(raw.get("name")),
            job_type=_str_or_none(raw.get("job_type")),
            site_id=id_str(raw.get("site_id")),
            is_active=is_active if isinstance(is_active, bool) else None,
            backup_type=_str_or_none(raw.get("backup_type")),
            last_execution=LastExecution.from_dict(
                raw.get("last_execution_details"), _str_or_none(raw.get("job_type"))
            ),
            raw=raw,
        )


@dataclass(frozen=True)
class Execution:
    """One run of a job (J4/J5 listing item)."""

    execution_id: str
    job_id: str | None
    job_name: str | None
    job_type: str | None
    status: str | None
    status_detail: str | None
    start_time: datetime | None
    end_time: datetime | None
    backup_set_size: int | None
    run_type: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any) -> Execution:
        """An execution from the API's JSON (unknown keys kept in ``raw``).

        :param raw: the execution as the API returns it.
        """
        raw = _require_object(raw, "an execution")
        execution_id = id_str(raw.get("execution_id"))
        if execution_id is None:
            raise TypeError("execution object has no execution_id")
        return cls(
            execution_id=execution_id,
            job_id=id_str(raw.get("job_id")),
            job_name=_str_or_none(raw.get("job_name")),
            job_type=_str_or_none(raw.get("job_type")),
            status=_str_or_none(raw.get("status")),
            status_detail=_str_or_none(raw.get("status_detail")),
            start_time=parse_time(raw.get("start_time")),
            end_time=parse_time(raw.get("end_time")),
            backup_set_size=_int_or_none(raw.get("backup_set_size")),
            run_type=_str_or_none(raw.get("run_type")),
            raw=raw,
        )

    @classmethod
    def from_job_summary(cls, raw_job: Any, execution_id: str) -> Execution | None:
        """The partial record of ``execution_id`` in a job's ``last_execution_details`` (J2).

        ``None`` when the details describe another execution or none. This is the triggerer's
        per-poll path, so it reads only the few fields it returns and parses each once.

        :param raw_job: the job as J2 returns it.
        :param execution_id: the execution polled for.
        """
        raw_job = _require_object(raw_job, "a job")
        job_id = id_str(raw_job.get("job_id"))
        if job_id is None:
            raise TypeError("job object has no job_id")
        last = LastExecution.from_dict(raw_job.get("last_execution_details"))
        if last is None or not last.refers_to(execution_id):
            return None
        # The id asked for: a restore job's details carry its source backup's execution id too.
        wanted = str(id_str(execution_id))
        raw = {
            "execution_id": wanted,
            "job_id": job_id,
            "job_name": raw_job.get("name"),
            "job_type": raw_job.get("job_type"),
            "site_id": raw_job.get("site_id"),
            **{k: last.raw.get(k) for k in ("status", "start_time", "end_time", "backup_set_size")},
        }
        return cls(
            execution_id=wanted,
            job_id=job_id,
            job_name=_str_or_none(raw["job_name"]),
            job_type=_str_or_none(raw["job_type"]),
            status=last.status,
            status_detail=None,
            start_time=last.start_time,
            end_time=last.end_time,
            backup_set_size=last.backup_set_size,
            run_type=None,
            raw=raw,
        )

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end (None until both are known)."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record for XCom and trigger events: the server's fields plus normalised ones."""
        record = dict(self.raw)
        record.update(
            execution_id=self.execution_id,
            job_id=self.job_id,
            status=self.status,
            status_detail=self.status_detail,
            start_time=_iso(self.start_time),
            end_time=_iso(self.end_time),
            backup_set_size=self.backup_set_size,
            duration_seconds=self.duration_seconds,
        )
        return record


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def executions_started_since(executions: Iterable[Execution], since: datetime) -> list[Execution]:
    """Executions that started at or after ``since`` (queued ones without a start time count too).

    :param executions: the job's executions.
    :param since: when the request was sent.
    """
    return [e for e in executions if e.start_time is None or e.start_time >= since]


def executions_a_request_may_have_started(
    executions: Iterable[Execution],
    since: datetime,
    run_type: str | None = None,
    known_before: Iterable[str] | None = None,
) -> list[Execution]:
    """The executions an execute request sent at ``since`` (or later) may have started.

    Never one listed before the request (``known_before``), nor one of another run type (someone
    else's DELTA run is not our FULL backup). A queued execution (no start time) qualifies only
    when ``known_before`` says it is new: its age cannot be told otherwise.

    :param executions: the job's executions.
    :param since: when the request was sent.
    :param run_type: the request's run type (None: any).
    :param known_before: ids listed before the request.
    """
    known = None if known_before is None else {str(i) for i in known_before}
    wanted_type = (run_type or "").strip().upper()

    def may_be_ours(execution: Execution) -> bool:
        if known is not None and execution.execution_id in known:
            return False
        if wanted_type and execution.run_type and execution.run_type.strip().upper() != wanted_type:
            return False
        if execution.start_time is None:
            return known is not None
        return execution.start_time >= since

    return [e for e in executions if may_be_ours(e)]
