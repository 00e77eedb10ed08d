"""Input checks: every public call of the hook checks its input with these before any request.

Imports nothing heavy (operators call them at construction time, during DAG parsing).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_baas.errors import BaasValidationError
from airflow_provider_baas.models import BackupObject

# Whitespace (as str.isspace sees it) and control characters; then what would leave or escape the
# segment. Compiled once: the triggerer validates ids on every poll of thousands of waits.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PATH_ESCAPE = re.compile(r"[/\\%]|\.\.")

#: Teradata object names (databases, users, tables) are at most 128 characters.
MAX_OBJECT_NAME_CHARS = 128
#: A restore's name: the API documents no limit; DSA job names are Teradata names, so the same 128.
MAX_RESTORE_NAME_CHARS = 128
#: Object type words: letters, digits, ``_`` and inner spaces (``STORED PROCEDURE``), at most 64.
_OBJECT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_ ]{0,63}")
#: Keys of a restore body's ``objects[]`` entry that the provider fills or checks itself.
OBJECT_ENTRY_KEYS = (
    "object_name",
    "object_type",
    "parent_name",
    "parent_type",
    "exclude_objects",
    "include_all",
)


def validate_path_id(value: Any, what: str) -> str:
    """A non-empty id that is safe as one URL path segment."""
    if value is None or isinstance(value, bool):
        raise BaasValidationError(f"{what} is required, got {value!r}")
    text = str(value)
    if not text.strip():
        raise BaasValidationError(f"{what} must not be empty")
    if _SPACE_OR_CONTROL.search(text):
        raise BaasValidationError(f"{what} {text!r} must not contain whitespace or control characters")
    if text == "." or _PATH_ESCAPE.search(text):
        raise BaasValidationError(f"{what} {text!r} must not contain '/', '\\', '..' or '%'")
    return text


def validate_job_id(value: Any) -> str:
    """Job ids are positive integers in the API (``"job_id": 34``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise BaasValidationError(f"job_id must be a positive integer, got {value}")
        return str(value)
    text = validate_path_id(value, "job_id")
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise BaasValidationError(f"job_id must be a positive integer, got {text!r}")
    return str(int(text))


def validate_restore_name(value: Any) -> str:
    """A restore's name: non-empty, at most ``MAX_RESTORE_NAME_CHARS``, no control characters and
    no surrounding whitespace (it is the restore's identity when an answer is lost)."""
    if not isinstance(value, str) or not value.strip():
        raise BaasValidationError(f"restore name must be a non-empty string, got {value!r}")
    if value != value.strip():
        raise BaasValidationError(f"restore name {value!r} must not start or end with whitespace")
    if _CONTROL.search(value):
        raise BaasValidationError(f"restore name {value!r} must not contain control characters")
    if len(value) > MAX_RESTORE_NAME_CHARS:
        raise BaasValidationError(
            f"restore name must be at most {MAX_RESTORE_NAME_CHARS} characters, got {len(value)}"
        )
    return value


def validate_object_name(value: Any, what: str = "object_name") -> str:
    """A Teradata object name: 1 to 128 characters, no control characters, no ``/`` or ``\\``."""
    if not isinstance(value, str) or not value.strip():
        raise BaasValidationError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_OBJECT_NAME_CHARS:
        raise BaasValidationError(
            f"{what} {value[:40]!r}... is {len(value)} characters; Teradata names have at most "
            f"{MAX_OBJECT_NAME_CHARS}"
        )
    if _CONTROL.search(value):
        raise BaasValidationError(f"{what} {value!r} must not contain control characters")
    if "/" in value or "\\" in value:
        raise BaasValidationError(f"{what} {value!r} is not a Teradata name: it contains '/' or '\\'")
    return value


def validate_object_type(value: Any, what: str = "object_type") -> str:
    """An object type word. Types are an open set (the server may list words we do not know, and
    what it lists must be restorable), so only the word's shape is checked; it is sent upper-case."""
    text = str(value).strip() if isinstance(value, str) else ""
    if not _OBJECT_TYPE.fullmatch(text):
        raise BaasValidationError(
            f"{what} must be a word such as DATABASE or TABLE (letters, digits, '_', spaces), got {value!r}"
        )
    return text.upper()


def validate_json_value(value: Any, what: str) -> Any:
    """``value`` if it is plain JSON (no NaN or infinity, string keys), else a clear error."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BaasValidationError(f"{what} is not JSON-serialisable: {exc}") from None
    if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover - allow_nan above
        raise BaasValidationError(f"{what} is not a finite number")
    return value


def restore_object_entries(objects: Any) -> list[dict[str, Any]]:
    """The body's ``job_settings.objects`` from ``BackupObject``s or dicts, checked.

    A dict keeps any extra key (the rename key is undocumented), loses ``byte_count`` (a listing
    field, not a restore setting), and gets ``exclude_objects=[]`` and ``include_all=true`` when
    it does not say.
    """
    if isinstance(objects, str | bytes | Mapping | BackupObject) or not isinstance(objects, Iterable):
        raise BaasValidationError(
            f"objects must be a list of BackupObject or dict entries, got {type(objects).__name__}"
        )
    entries = [_object_entry(item, i) for i, item in enumerate(objects)]
    if not entries:
        raise BaasValidationError("objects must name at least one object to restore")
    return entries


def _object_entry(item: Any, index: int) -> dict[str, Any]:
    where = f"objects[{index}]"
    if isinstance(item, BackupObject):
        entry = item.restore_entry()
    elif isinstance(item, Mapping):
        entry = {k: v for k, v in item.items() if k != "byte_count"}
        for key in entry:
            if not isinstance(key, str):
                raise BaasValidationError(f"{where} has a key that is not a string: {key!r}")
        entry.setdefault("exclude_objects", [])
        entry.setdefault("include_all", True)
    else:
        raise BaasValidationError(f"{where} must be a BackupObject or a dict, got {type(item).__name__}")
    entry["object_name"] = validate_object_name(entry.get("object_name"), f"{where}.object_name")
    entry["object_type"] = validate_object_type(entry.get("object_type"), f"{where}.object_type")
    for key in ("parent_name", "parent_type"):
        if entry.get(key) is None:
            entry[key] = None
    if entry["parent_name"] is not None:
        entry["parent_name"] = validate_object_name(entry["parent_name"], f"{where}.parent_name")
    if entry["parent_type"] is not None:
        entry["parent_type"] = validate_object_type(entry["parent_type"], f"{where}.parent_type")
    if not isinstance(entry["include_all"], bool):
        raise BaasValidationError(f"{where}.include_all must be true or false, got {entry['include_all']!r}")
    entry["exclude_objects"] = _exclusions(entry["exclude_objects"], where)
    return validate_json_value(entry, where)


def _exclusions(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise BaasValidationError(f"{where}.exclude_objects must be a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        what = f"{where}.exclude_objects[{i}]"
        if isinstance(item, BackupObject):
            item = {"object_name": item.object_name, "object_type": str(item.object_type or "")}
        if not isinstance(item, Mapping):
            raise BaasValidationError(f"{what} must be a BackupObject or a dict, got {type(item).__name__}")
        entry = dict(item)
        entry["object_name"] = validate_object_name(entry.get("object_name"), f"{what}.object_name")
        entry["object_type"] = validate_object_type(entry.get("object_type"), f"{what}.object_type")
        out.append(entry)
    return out


def restore_settings(settings: Any) -> dict[str, Any]:
    """Extra ``job_settings`` keys, merged over the documented defaults: a JSON object whose keys
    the caller chose (the operator maps friendly names; the hook sends what it is given)."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise BaasValidationError(
            f"settings must be a dict of job_settings keys, got {type(settings).__name__}"
        )
    for key in settings:
        if not isinstance(key, str) or not key.strip():
            raise BaasValidationError(f"settings keys must be non-empty strings, got {key!r}")
    if "objects" in settings:
        raise BaasValidationError("settings must not contain 'objects': pass them as objects=")
    return {key: validate_json_value(value, f"settings[{key!r}]") for key, value in settings.items()}
