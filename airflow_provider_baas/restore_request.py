"""What a restore asks for, checked before any request: the objects, the options, the name.

Free of I/O and standard library only (DAG files import it through the restore operator). The
operator turns its arguments into a ``RestoreRequest`` when it is built (static input) or when it
runs (templated input); every refusal here happens before the first HTTP call.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_baas.errors import BaasValidationError

# Teradata object names are at most 128 characters (Unicode object names since 14.10).
MAX_IDENTIFIER = 128
# A restore job's name: the API documents no limit; 128 matches Teradata's own names, so a name
# the server might use as an object name fits too.
MAX_RESTORE_NAME = 128
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ObjectType(enum.StrEnum):
    """What a restore may name: only ``DATABASE`` is documented; the others are Teradata's
    object kinds a BaaS listing (O3) may hold."""

    DATABASE = "DATABASE"
    USER = "USER"
    TABLE = "TABLE"
    VIEW = "VIEW"
    MACRO = "MACRO"
    PROCEDURE = "PROCEDURE"
    FUNCTION = "FUNCTION"


# Containers: a bare name ("SALES") means one of these.
CONTAINER_TYPES = frozenset({ObjectType.DATABASE, ObjectType.USER})


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


def check_identifier(value: Any, what: str) -> str:
    """A Teradata object name: 1-128 characters, no control characters, no path separators.

    :param value: the name.
    :param what: what it names, for the error message.
    """
    if not isinstance(value, str) or not value.strip():
        raise BaasValidationError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_IDENTIFIER:
        raise BaasValidationError(
            f"{what} {value[:40]!r}... is {len(value)} characters; "
            f"Teradata names have at most {MAX_IDENTIFIER}"
        )
    return check_characters(value, what)


def check_characters(value: str, what: str) -> str:
    """No control characters and no path separators (names end up in URLs, logs and SQL)."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise BaasValidationError(f"{what} {value!r} contains a control character")
    if "/" in value or "\\" in value:
        raise BaasValidationError(f"{what} {value!r} contains a path separator")
    return value


def check_object_type(value: Any, what: str) -> ObjectType:
    """One of ``ObjectType`` (any case)."""
    try:
        return ObjectType(str(value).strip().upper())
    except ValueError:
        known = ", ".join(t.value for t in ObjectType)
        raise BaasValidationError(f"{what} {value!r} is not an object type; known: {known}") from None


@dataclass(frozen=True)
class ObjectSpec:
    """One object the DAG author asked to restore.

    ``object_type`` None means "whatever the backup holds by that name" (a bare name is a
    database or user, a dotted one a table, view or other object inside ``parent_name``).
    """

    object_name: str
    parent_name: str | None = None
    object_type: ObjectType | None = None
    include_all: bool | None = None
    exclude_objects: tuple[Any, ...] | None = None

    @property
    def label(self) -> str:
        name = f"{self.parent_name}.{self.object_name}" if self.parent_name else self.object_name
        return f"{name} ({self.object_type})" if self.object_type else name

    def matches(self, listed: Any) -> bool:
        """Whether an O3 listing entry is this object (Teradata names compare case-insensitively)."""
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
        raise BaasValidationError(f"objects names {', '.join(dupes)} more than once")
    return specs


def _parse_one(item: Any, where: str) -> ObjectSpec:
    if isinstance(item, str):
        return _parse_name(item, where)
    if isinstance(item, Mapping):
        return _parse_dict(item, where)
    if hasattr(item, "object_name") and hasattr(item, "object_type"):  # a listed BackupObject
        fields = ("object_name", "object_type", "parent_name")
        return _parse_dict({k: getattr(item, k, None) for k in fields}, where)
    raise BaasValidationError(
        f"{where} must be a name, a dict or a BackupObject, got {type(item).__name__}: {item!r}"
    )


def _parse_name(text: str, where: str) -> ObjectSpec:
    """``SALES`` (a database or user) or ``HR.EMPLOYEES`` (an object inside HR)."""
    check_characters(text, where)
    parts = text.split(".")
    if len(parts) > 2:
        raise BaasValidationError(f"{where} {text!r}: write a database as NAME and a table as DATABASE.TABLE")
    if len(parts) == 2:
        parent = check_identifier(parts[0].strip(), f"{where} database")
        return ObjectSpec(check_identifier(parts[1].strip(), f"{where} object name"), parent)
    return ObjectSpec(check_identifier(text.strip(), f"{where} name"))


def _parse_dict(item: Mapping[str, Any], where: str) -> ObjectSpec:
    if unknown := sorted(set(item) - OBJECT_KEYS):
        raise BaasValidationError(f"{where} has unknown keys {unknown}; known: {sorted(OBJECT_KEYS)}")
    name = check_identifier(item.get("object_name"), f"{where} object_name")
    parent = item.get("parent_name")
    parent = None if parent is None else check_identifier(parent, f"{where} parent_name")
    object_type = item.get("object_type")
    checked_type = None if object_type is None else check_object_type(object_type, f"{where} object_type")
    include_all = item.get("include_all")
    if include_all is not None and not isinstance(include_all, bool):
        raise BaasValidationError(f"{where} include_all must be true or false, got {include_all!r}")
    excluded = _exclusions(item.get("exclude_objects"), f"{where} exclude_objects")
    return ObjectSpec(name, parent, checked_type, include_all, excluded)


def _exclusions(value: Any, where: str) -> tuple[Any, ...] | None:
    """``exclude_objects``: names or O3-shaped dicts, passed on as given (the API does not say more)."""
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise BaasValidationError(f"{where} must be a list, got {type(value).__name__}")
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            check_identifier(entry, f"{where}[{i}]")
        elif isinstance(entry, Mapping):
            check_identifier(entry.get("object_name"), f"{where}[{i}].object_name")
        else:
            raise BaasValidationError(f"{where}[{i}] must be a name or a dict, got {entry!r}")
    return tuple(value)


def check_exclusions(value: Any) -> tuple[Any, ...]:
    """The operator-wide ``exclude_objects`` (applied to every object that sets none)."""
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
    """What a backup holds, for an error message: ``SALES (DATABASE), HR.EMPLOYEES (TABLE)``."""
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
    """A restore name unique per task instance, readable, and within ``MAX_RESTORE_NAME``.

    Characters other than letters, digits, ``_ . -`` become ``_``; a name too long keeps a readable
    prefix and ends in a hash of the whole, so two task instances never share a name.
    """
    parts = ["airflow", dag_id, task_id, run_id]
    if map_index is not None and str(map_index) not in ("", "-1"):
        parts.append(str(map_index))
    return fit_name(_NAME_UNSAFE.sub("_", "-".join(str(p) for p in parts)), "-".join(map(str, parts)))


def name_for_try(name: str, try_number: int) -> str:
    """The name a try gives a new restore: the first try's as is, a later one's ends ``-t<try>``
    (a retry after a failed restore, or a cleared task, must not reuse the earlier restore's name)."""
    if try_number <= 1:
        return name
    candidate = f"{name}-t{try_number}"
    return fit_name(candidate, candidate)


def fit_name(name: str, whole: str) -> str:
    if len(name) <= MAX_RESTORE_NAME:
        return name
    digest = hashlib.sha256(whole.encode()).hexdigest()[:16]
    return f"{name[: MAX_RESTORE_NAME - len(digest) - 1]}-{digest}"
