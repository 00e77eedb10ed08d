"""Typed views of the API's jobs, executions, backed-up objects and restores.

The API's payloads are only loosely documented (mixed key styles, ``"start_time": "string"`` in
samples, ids that are integers in one place and strings in another), so every parser here is
tolerant: unknown keys are kept in ``raw``, odd timestamps become ``None``, ids become strings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime, or ``None`` for a missing, empty or unparseable value."""
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
    """Ids are compared as strings: the API returns the same id as int in one place, str in another."""
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
        ``restore_execution_id`` (its ``backup_job_execution_id`` is the source backup's)."""
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
        """Whether these details describe ``execution_id`` (backup and restore ids both count)."""
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
    """Executions that started at or after ``since`` (queued ones without a start time count too)."""
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


# ----------------------------------------------------------------------------------------------
# Objects of a backup (O1-O3) and restores (R1-R6): see docs/restores.md for what is inferred.


class ObjectType(enum.StrEnum):
    """Object type words: ``DATABASE`` is the one the API documents; ``USER`` because a Teradata
    user is a database with a login (``DBC`` itself is one); ``TABLE`` for what a database holds.
    Any other word the server sends is kept as a plain string (see ``object_type_of``)."""

    DATABASE = "DATABASE"
    USER = "USER"
    TABLE = "TABLE"


def object_type_of(value: Any) -> ObjectType | str | None:
    """A known ``ObjectType``, else the server's word as given (never an error), else ``None``."""
    if not isinstance(value, str) or not value.strip():
        return None
    word = value.strip().upper()
    return ObjectType(word) if word in ObjectType.__members__ else value.strip()


def _first(raw: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The value of the first key present with a non-null value (for undocumented spellings)."""
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    return None


@dataclass(frozen=True)
class BackupObject:
    """One object in a backup execution's save set (an O3 listing item).

    :param object_name: e.g. ``ADW``.
    :param object_type: an ``ObjectType``, or the server's own word when it is not one we know.
    :param parent_name: the containing database (``DBC`` for a top-level database).
    :param parent_type: the parent's type.
    :param byte_count: the object's size in the save set, when the server says.
    """

    object_name: str
    object_type: ObjectType | str | None
    parent_name: str | None = None
    parent_type: ObjectType | str | None = None
    byte_count: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any) -> BackupObject:
        raw = _require_object(raw, "a backup object")
        name = raw.get("object_name")
        if not isinstance(name, str) or not name:
            raise TypeError("backup object has no object_name")
        return cls(
            object_name=name,
            object_type=object_type_of(raw.get("object_type")),
            parent_name=_str_or_none(raw.get("parent_name")),
            parent_type=object_type_of(raw.get("parent_type")),
            byte_count=_int_or_none(raw.get("byte_count")),
            raw=raw,
        )

    def restore_entry(
        self, include_all: bool = True, exclude_objects: Iterable[BackupObject | Mapping[str, Any]] = ()
    ) -> dict[str, Any]:
        """This object as an entry of a restore body's ``job_settings.objects`` (without ``byte_count``).

        :param include_all: the documented flag (its meaning is not documented; ``true`` in the sample:
            restore the object with everything in it).
        :param exclude_objects: objects inside this one to leave out (``BackupObject`` or a dict with
            ``object_name`` and ``object_type``).
        """
        entry: dict[str, Any] = {
            "object_name": self.object_name,
            "object_type": _word(self.object_type),
            "parent_name": self.parent_name,
            "parent_type": _word(self.parent_type),
            "exclude_objects": [_exclusion(item) for item in exclude_objects],
            "include_all": include_all,
        }
        return entry


def _word(value: ObjectType | str | None) -> str | None:
    return None if value is None else str(value)


def _exclusion(item: BackupObject | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, BackupObject):
        return {"object_name": item.object_name, "object_type": _word(item.object_type)}
    return dict(item)


@dataclass(frozen=True)
class ObjectsPreparation:
    """The state of an objects preparation (O2): ``status`` and ``details`` are all the docs show.

    :param status: the server's status word (not documented: see ``PREPARATION_POLICY`` in the hook).
    :param details: the server's explanation, if any.
    """

    status: str | None
    details: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any) -> ObjectsPreparation:
        raw = _require_object(raw, "an objects preparation status")
        details = raw.get("details")
        return cls(
            status=_str_or_none(raw.get("status")),
            details=details if isinstance(details, str) else (None if details is None else str(details)),
            raw=raw,
        )


# Undocumented spellings (R1/R2 bodies are not shown): the first key present wins. The restore's
# own id may be named like the execution ids of last_execution_details; its source backup
# execution like them too. See docs/restores.md.
RESTORE_ID_KEYS = ("restore_id", "restore_execution_id", "id")
RESTORE_NAME_KEYS = ("name", "restore_name", "restore_job_name")
RESTORE_SOURCE_EXECUTION_KEYS = ("backup_job_execution_id", "backup_execution_id", "execution_id")
RESTORE_JOB_KEYS = ("backup_job_id", "job_id")
RESTORE_TARGET_KEYS = ("target_site", "target_site_id")


@dataclass(frozen=True)
class Restore:
    """One restore (R1 body, R2 listing item). Only R6's request body is documented, so the fields
    are read from the likely spellings (``RESTORE_*_KEYS``); everything the server sends is in ``raw``.

    :param restore_id: the restore's own id (what R6's ``x-resource-id`` returns).
    :param name: the name given at creation (unique per caller: the provider finds lost restores by it).
    :param status: the server's status word.
    :param job_id: the backup job whose execution is restored.
    :param execution_id: the backup execution restored.
    :param target_site: where the objects are restored.
    """

    restore_id: str
    name: str | None
    status: str | None
    job_id: str | None
    execution_id: str | None
    target_site: str | None
    start_time: datetime | None
    end_time: datetime | None
    status_detail: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any) -> Restore:
        raw = _require_object(raw, "a restore")
        restore_id = id_str(_first(raw, RESTORE_ID_KEYS))
        if restore_id is None:
            raise TypeError(f"restore object has none of {', '.join(RESTORE_ID_KEYS)}")
        return cls(
            restore_id=restore_id,
            name=_str_or_none(_first(raw, RESTORE_NAME_KEYS)),
            status=_str_or_none(raw.get("status")),
            job_id=id_str(_first(raw, RESTORE_JOB_KEYS)),
            execution_id=id_str(_first(raw, RESTORE_SOURCE_EXECUTION_KEYS)),
            target_site=id_str(_first(raw, RESTORE_TARGET_KEYS)),
            start_time=parse_time(raw.get("start_time")),
            end_time=parse_time(raw.get("end_time")),
            status_detail=_str_or_none(raw.get("status_detail")),
            raw=raw,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record for XCom and trigger events: the server's fields plus normalised ones."""
        record = dict(self.raw)
        record.update(
            restore_id=self.restore_id,
            name=self.name,
            status=self.status,
            job_id=self.job_id,
            execution_id=self.execution_id,
            target_site=self.target_site,
            start_time=_iso(self.start_time),
            end_time=_iso(self.end_time),
            status_detail=self.status_detail,
        )
        return record


DATABASE_NAME_KEYS = ("database_name", "name", "object_name", "databaseName")


@dataclass(frozen=True)
class Database:
    """One database of a site (R4 listing item; the body is undocumented: an object with one of
    ``DATABASE_NAME_KEYS``, or a bare string).

    :param name: the database's name.
    """

    name: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: Any) -> Database:
        if isinstance(raw, str) and raw:
            return cls(name=raw, raw={"name": raw})
        raw = _require_object(raw, "a database")
        name = _first(raw, DATABASE_NAME_KEYS)
        if not isinstance(name, str) or not name:
            raise TypeError(f"database object has none of {', '.join(DATABASE_NAME_KEYS)}")
        return cls(name=name, raw=raw)
