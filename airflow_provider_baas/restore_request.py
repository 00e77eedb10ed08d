"""What a restore asks for, checked before any request: the objects, the options, the name.

Free of I/O and of heavy imports (DAG files import it through the restore operator). The operator
checks its arguments here when it is built (static input) and again when it runs (templated
input); every refusal here happens before the first HTTP call. Name and type rules are the hook's
(``validation``); this module adds what only the operator's argument shapes need.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_baas.errors import BaasValidationError
from airflow_provider_baas.models import BackupObject, ObjectType
from airflow_provider_baas.validation import (
    MAX_RESTORE_NAME_CHARS,
    validate_object_name,
    validate_object_type,
)

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# What a DAG author may name as an object's type: the vocabulary the API's objects use. An object
# of another type that a backup lists is restored by passing its ``BackupObject`` itself.
KNOWN_TYPES = frozenset(ObjectType)
CONTAINER_TYPES = frozenset({ObjectType.DATABASE, ObjectType.USER})
# A bare name in ``exclude_objects`` is a table inside the restored database.
EXCLUDED_NAME_TYPE = ObjectType.TABLE


class RestoreOption(enum.StrEnum):
    """The documented restore options, by their correctly spelled parameter names."""

    SKIP_STATISTICS = "skip_statistics"
    CONTINUE_JOB_ON_ACCESS_RIGHT_VIOLATION = "continue_job_on_access_right_violation"
    RUN_AS_A_COPY_JOB = "run_as_a_copy_job"
    SKIP_JOIN_OR_HASH_INDEXES = "skip_join_or_hash_indexes"


# The key each option is sent as: the API spells statistics "statstics" (documented so).
API_KEYS: dict[RestoreOption, str] = {
    RestoreOption.SKIP_STATISTICS: "skip_statstics",
    RestoreOption.CONTINUE_JOB_ON_ACCESS_RIGHT_VIOLATION: "continue_job_on_access_right_violation",
    RestoreOption.RUN_AS_A_COPY_JOB: "run_as_a_copy_job",
    RestoreOption.SKIP_JOIN_OR_HASH_INDEXES: "skip_join_or_hash_indexes",
}
# Keys of a restore object dict (O3's fields, plus the restore body's own two).
OBJECT_KEYS = frozenset(
    {
        "object_name",
        "object_type",
        "parent_name",
        "parent_type",
        "byte_count",
        "include_all",
        "exclude_objects",
    }
)


def check_object_type(value: Any, what: str) -> ObjectType:
    """One of ``ObjectType`` (any case): a DAG author's word for a type the API's objects use.

    :param value: the type word.
    :param what: where it was given, for the error.
    """
    word = validate_object_type(value, what)
    if word not in KNOWN_TYPES:
        known = ", ".join(sorted(KNOWN_TYPES))
        raise BaasValidationError(
            f"{what} {value!r} is not a known object type ({known}); to restore an object of another "
            "type the backup lists, pass its BackupObject from list_backup_objects"
        )
    return ObjectType(word)


@dataclass(frozen=True)
class ObjectSpec:
    """One object the DAG author asked to restore.

    ``object_type`` None means "whatever the backup holds by that name" (a bare name is a
    database or user, a dotted one a table, view or other object inside ``parent_name``).
    """

    object_name: str
    parent_name: str | None = None
    object_type: ObjectType | str | None = None
    include_all: bool | None = None
    exclude_objects: tuple[Any, ...] | None = None

    @property
    def label(self) -> str:
        """The object as messages name it: ``PARENT.NAME (TYPE)``."""
        name = f"{self.parent_name}.{self.object_name}" if self.parent_name else self.object_name
        return f"{name} ({self.object_type})" if self.object_type else name

    def matches(self, listed: Any) -> bool:
        """Whether an O3 listing entry is this object (Teradata names compare case-insensitively).

        :param listed: a ``BackupObject`` the backup lists.
        """
        if not _same(listed.object_name, self.object_name):
            return False
        listed_type = str(listed.object_type or "").upper()
        if self.object_type is not None:
            if listed_type != self.object_type:
                return False
        elif (self.parent_name is None) != (listed_type in CONTAINER_TYPES):
            return False
        return self.parent_name is None or _same(listed.parent_name, self.parent_name)


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold()


def parse_objects(objects: Any) -> list[ObjectSpec]:
    """The ``objects`` argument as specs: names ("SALES", "HR.EMPLOYEES"), dicts or BackupObjects.

    :param objects: a non-empty list; a single string is refused (it would be read letter by letter).
    """
    if isinstance(objects, str | bytes | Mapping) or not isinstance(objects, Sequence):
        raise BaasValidationError(
            f'objects must be a list, e.g. ["SALES", "HR.EMPLOYEES"], got {type(objects).__name__}'
        )
    if not objects:
        raise BaasValidationError("objects is empty: name at least one database or table to restore")
    specs = [_parse_one(item, f"objects[{i}]") for i, item in enumerate(objects)]
    labels = [s.label.casefold() for s in specs]
    dupes = sorted({spec.label for spec, key in zip(specs, labels, strict=True) if labels.count(key) > 1})
    if dupes:
        raise BaasValidationError(f"objects lists {', '.join(dupes)} more than once")
    return specs


def _parse_one(item: Any, where: str) -> ObjectSpec:
    if isinstance(item, str):
        return _parse_name(item, where)
    if isinstance(item, Mapping):
        return _parse_dict(item, where)
    if isinstance(item, BackupObject):  # listed by the server: its type is restorable as it is
        return ObjectSpec(
            validate_object_name(item.object_name, f"{where} object_name"),
            item.parent_name if str(item.object_type or "").upper() not in CONTAINER_TYPES else None,
            str(item.object_type).upper() if item.object_type else None,
        )
    raise BaasValidationError(
        f"{where} must be a name, a dict or a BackupObject, got {type(item).__name__}: {item!r}"
    )


def _parse_name(text: str, where: str) -> ObjectSpec:
    """``SALES`` (a database or user) or ``HR.EMPLOYEES`` (an object inside HR)."""
    parts = text.split(".")
    if len(parts) > 2:
        for part in parts:  # a path separator or control character is the clearer reason
            if part:
                validate_object_name(part, f"{where} name")
        raise BaasValidationError(f"{where} {text!r}: write a database as NAME and a table as DATABASE.TABLE")
    if len(parts) == 2:
        parent = validate_object_name(parts[0].strip(), f"{where} database")
        return ObjectSpec(validate_object_name(parts[1].strip(), f"{where} object name"), parent)
    return ObjectSpec(validate_object_name(text.strip(), f"{where} name"))


def _parse_dict(item: Mapping[str, Any], where: str) -> ObjectSpec:
    if unknown := sorted(set(item) - OBJECT_KEYS):
        raise BaasValidationError(f"{where} has unknown keys {unknown}; known: {sorted(OBJECT_KEYS)}")
    name = validate_object_name(item.get("object_name"), f"{where} object_name")
    parent = item.get("parent_name")
    parent = None if parent is None else validate_object_name(parent, f"{where} parent_name")
    object_type = item.get("object_type")
    checked_type = None if object_type is None else check_object_type(object_type, f"{where} object_type")
    include_all = item.get("include_all")
    if include_all is not None and not isinstance(include_all, bool):
        raise BaasValidationError(f"{where} include_all must be true or false, got {include_all!r}")
    excluded = _exclusions(item.get("exclude_objects"), f"{where} exclude_objects")
    return ObjectSpec(name, parent, checked_type, include_all, excluded)


def _exclusions(value: Any, where: str) -> tuple[Any, ...] | None:
    """``exclude_objects``: table names, or O3-shaped dicts with ``object_name`` and ``object_type``
    (the API does not say more); each becomes a dict."""
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise BaasValidationError(f"{where} must be a list, got {type(value).__name__}")
    entries = []
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            name = validate_object_name(entry, f"{where}[{i}]")
            entries.append({"object_name": name, "object_type": str(EXCLUDED_NAME_TYPE)})
        elif isinstance(entry, Mapping):
            validate_object_name(entry.get("object_name"), f"{where}[{i}].object_name")
            checked = validate_object_type(entry.get("object_type"), f"{where}[{i}].object_type")
            entries.append({**entry, "object_type": checked})
        else:
            raise BaasValidationError(f"{where}[{i}] must be a name or a dict, got {entry!r}")
    return tuple(entries)


def check_exclusions(value: Any) -> tuple[Any, ...]:
    """The operator-wide ``exclude_objects`` (applied to every object that sets none).

    :param value: the DAG author's ``exclude_objects``.
    """
    return _exclusions(value, "exclude_objects") or ()


def restore_settings(options: Mapping[str, Any], job_settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``job_settings`` keys besides ``objects``: documented options under their API keys, then
    the raw ``job_settings`` on top (a raw key wins, so a key the docs spell differently can be sent).

    :param options: ``RestoreOption`` names to bool (None: not sent, the server's default).
    :param job_settings: raw API keys, sent as given; ``objects`` is refused (use ``objects=``).
    """
    settings: dict[str, Any] = {}
    for name, value in options.items():
        option = RestoreOption(name)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise BaasValidationError(f"{name} must be True or False, got {value!r}")
        settings[API_KEYS[option]] = value
    if job_settings is None:
        return settings
    if not isinstance(job_settings, Mapping) or not all(isinstance(k, str) for k in job_settings):
        raise BaasValidationError(f"job_settings must be a dict with string keys, got {job_settings!r}")
    if "objects" in job_settings:
        raise BaasValidationError("job_settings must not hold 'objects': pass them as objects=")
    return {**settings, **job_settings}


def match_backup_objects(specs: Iterable[ObjectSpec], listing: Sequence[Any]) -> list[tuple[ObjectSpec, Any]]:
    """Each asked object paired with the listing entry that is it; a clear refusal naming what the
    backup holds when any is missing or ambiguous.

    :param specs: what the DAG asked for.
    :param listing: the backup execution's objects (O3), e.g. ``BackupObject`` entries.
    """
    pairs, missing = [], []
    for spec in specs:
        found = [entry for entry in listing if spec.matches(entry)]
        if len(found) > 1:
            kinds = ", ".join(sorted(str(e.object_type) for e in found))
            raise BaasValidationError(
                f"{spec.label} is more than one object in the backup ({kinds}): pass a dict with object_type"
            )
        if found:
            pairs.append((spec, found[0]))
        else:
            missing.append(spec.label)
    if missing:
        raise BaasValidationError(
            f"Not in the backup: {', '.join(missing)}. It holds: {describe_listing(listing)}"
        )
    return pairs


def describe_listing(listing: Sequence[Any], limit: int = 50) -> str:
    """What a backup holds, for an error message: ``SALES (DATABASE), HR.EMPLOYEES (TABLE)``.

    :param listing: the backup's objects (O3).
    :param limit: how many are named before the rest are counted.
    """
    if not listing:
        return "nothing (the backup lists no objects)"
    names = [f"{_qualified(e)} ({e.object_type})" for e in listing]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _qualified(entry: Any) -> str:
    """``HR.EMPLOYEES`` for an object in a database; a database alone by its own name."""
    inside = entry.parent_name and str(entry.object_type).upper() not in CONTAINER_TYPES
    return f"{entry.parent_name}.{entry.object_name}" if inside else str(entry.object_name)


def default_restore_name(dag_id: str, task_id: str, run_id: str, map_index: Any) -> str:
    """A restore name unique per task instance, readable, and within ``MAX_RESTORE_NAME_CHARS``.

    Characters other than letters, digits, ``_ . -`` become ``_``; a name too long keeps a readable
    prefix and ends in a hash of the whole, so two task instances never share a name.

    :param dag_id: the DAG.
    :param task_id: the task.
    :param run_id: the DAG run.
    :param map_index: the mapped task's index (-1 or None: not mapped).
    """
    parts = ["airflow", dag_id, task_id, run_id]
    if map_index is not None and str(map_index) not in ("", "-1"):
        parts.append(str(map_index))
    return _fit_name(_NAME_UNSAFE.sub("_", "-".join(str(p) for p in parts)), "-".join(map(str, parts)))


def name_for_try(name: str, try_number: int) -> str:
    """The name a try gives a new restore: the first try's as is, a later one's ends ``-t<try>``
    (a retry after a failed restore, or a cleared task, must not reuse the earlier restore's name).

    :param name: the task instance's restore name.
    :param try_number: the try.
    """
    if try_number <= 1:
        return name
    candidate = f"{name}-t{try_number}"
    return _fit_name(candidate, candidate)


def _fit_name(name: str, whole: str) -> str:
    if len(name) <= MAX_RESTORE_NAME_CHARS:
        return name
    digest = hashlib.sha256(whole.encode()).hexdigest()[:16]
    return f"{name[: MAX_RESTORE_NAME_CHARS - len(digest) - 1]}-{digest}"
