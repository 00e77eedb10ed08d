"""What backups hold, and restores, in the BaaS simulator (standard library only).

Endpoints O1-O3, R1-R6 of docs/restores.md. Like executions, preparations and restores have a
creation instant, a duration and an outcome; their status at any instant follows from the clock.
Where the API leaves a choice open, the simulator does what the provider decided (see
docs/restores.md): O2 takes the preparation id from query parameter ``resource-id`` or header
``x-resource-id`` (neither: the site's newest preparation); R6 answers 202 with ``x-resource-id``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_baas.testing.constants import (
    DEFAULT_DB_LOGIN,
    DEFAULT_DB_PASSWORD,
    FAILED,
    PREPARED,
    PREPARING,
    QUEUED,
    RUNNING,
    SUCCESSFUL,
)
from airflow_provider_baas.testing.scenario import (
    DEFAULT_STATUS_DETAILS,
    Outcome,
    Scenario,
    default_backup_objects,
)
from airflow_provider_baas.testing.state import SimError, iso

if TYPE_CHECKING:
    from airflow_provider_baas.testing.state import Execution, SimState

#: First preparation and restore ids handed out (numeric strings, increasing).
FIRST_PREPARATION_ID = 7001
FIRST_RESTORE_ID = 9001
#: Share of a restore's duration spent QUEUED before it runs.
RESTORE_QUEUED_SHARE = 0.1
#: The header R3 and R6 require.
CREDENTIALS_HEADER = "x-auth-credentials"


@dataclass
class Preparation:
    """One O1 call: prepares the object list of ``execution``."""

    id: int
    site_id: str
    execution: Execution
    created: float
    duration: float
    failure: str | None  # None: it succeeds

    def snapshot(self, now: float) -> dict[str, Any]:
        if now < self.created + self.duration:
            return {"status": PREPARING, "details": f"Preparing the objects of execution {self.execution.id}"}
        if self.failure is not None:
            return {"status": FAILED, "details": self.failure}
        return {"status": PREPARED, "details": f"Objects of execution {self.execution.id} are ready"}

    def ready(self, now: float) -> bool:
        return self.failure is None and now >= self.created + self.duration


@dataclass
class SimRestore:
    """One restore created through R6."""

    id: int
    site_id: str
    name: str
    execution: Execution
    target_site: str
    job_settings: dict[str, Any]
    db_user: str
    created: float
    duration: float
    outcome: Outcome

    def to_dict(self, now: float) -> dict[str, Any]:
        elapsed = now - self.created
        queued = self.duration * RESTORE_QUEUED_SHARE
        start = self.created + queued if elapsed >= queued else None
        if elapsed >= self.duration:
            status, end = self.outcome.status, self.created + self.duration
            detail = self.outcome.status_detail or DEFAULT_STATUS_DETAILS.get(status)
        else:
            status, end, detail = (RUNNING if start is not None else QUEUED), None, None
        return {
            "restore_id": str(self.id),
            "name": self.name,
            "site_id": self.site_id,
            "target_site": self.target_site,
            "job_id": self.execution.job.spec.job_id,
            "backup_job_execution_id": str(self.execution.id),
            "status": status,
            "status_detail": detail,
            "start_time": iso(start),
            "end_time": iso(end),
            "db_user": self.db_user,
            "job_settings": self.job_settings,
        }


@dataclass
class RestoreBook:
    """Preparations, restores, backed-up objects and restore permissions of one simulator.

    Shares the ``SimState`` lock and clock: every method takes the lock.
    """

    state: SimState
    scenario: Scenario
    preparations: dict[str, Preparation] = field(default_factory=dict)
    restores: list[SimRestore] = field(default_factory=list)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per execution id
    preparation_failure: str | None = None
    started: int = 0  # restores created (index into restore_outcomes)

    def __post_init__(self) -> None:
        creds = self.scenario.database_credentials or {
            "login": DEFAULT_DB_LOGIN,
            "password": DEFAULT_DB_PASSWORD,
        }
        self.db_login, self.db_password = creds["login"], creds["password"]
        self.denied_users = set(self.scenario.restore_denied_users)
        self.denied_sites = set(self.scenario.restore_denied_sites)
        self.restore_outcomes = list(self.scenario.restore_outcomes)
        self._next_preparation = FIRST_PREPARATION_ID
        self._next_restore = FIRST_RESTORE_ID

    # -- lookups

    def _execution(self, site_id: str, job_id: str, execution_id: str) -> Execution:
        job = self.state.job(site_id, job_id)
        execution = self.state.by_id.get(execution_id)
        if execution is None or execution.job is not job:
            raise SimError(404, f"execution {execution_id} of job {job_id} not found in site {site_id}")
        return execution

    def backup_objects(self, execution: Execution) -> list[dict[str, Any]]:
        """What ``execution`` holds: set explicitly, else the job's ``objects``, else generated."""
        key = str(execution.id)
        if key in self.objects:
            return self.objects[key]
        spec = execution.job.spec
        if spec.objects is not None:
            return [dict(o) for o in spec.objects]
        return default_backup_objects(spec, execution.final_size)

    def _no_save_set(self, execution: Execution, now: float) -> str | None:
        """Why ``execution`` has nothing to restore, or None."""
        status = execution.snapshot(now)[0]
        if not execution.job.is_backup:
            return f"execution {execution.id} is a restore, not a backup"
        if not execution.is_final(now) or execution.final_status != SUCCESSFUL:
            return f"execution {execution.id} has no save set (status {status})"
        return None

    # -- O1-O3

    def prepare(self, site_id: str, job_id: str, execution_id: str) -> Preparation:
        with self.state.lock:
            execution = self._execution(site_id, job_id, execution_id)
            now = self.state.clock.now()
            failure = self._no_save_set(execution, now) or self.preparation_failure
            preparation = Preparation(
                self._next_preparation, site_id, execution, now, self.scenario.preparation_duration, failure
            )
            self._next_preparation += 1
            self.preparations[str(preparation.id)] = preparation
            return preparation

    def preparation_status(self, site_id: str, preparation_id: str | None) -> dict[str, Any]:
        with self.state.lock:
            self.state.site(site_id)
            if preparation_id:
                preparation = self.preparations.get(preparation_id)
                if preparation is None or preparation.site_id != site_id:
                    raise SimError(404, f"objects preparation {preparation_id} not found in site {site_id}")
            else:
                mine = [p for p in self.preparations.values() if p.site_id == site_id]
                if not mine:
                    raise SimError(404, f"no objects preparation in site {site_id}")
                preparation = mine[-1]
            return preparation.snapshot(self.state.clock.now())

    def list_objects(self, site_id: str, job_id: str, execution_id: str) -> list[dict[str, Any]]:
        with self.state.lock:
            execution = self._execution(site_id, job_id, execution_id)
            now = self.state.clock.now()
            ready = any(p.execution is execution and p.ready(now) for p in self.preparations.values())
            if not ready:
                raise SimError(
                    409,
                    f"the objects of execution {execution_id} are not prepared: call prepare-objects first",
                )
            return self.backup_objects(execution)

    # -- credentials and permissions

    def check_credentials(self, headers: Mapping[str, str]) -> str:
        """The database user of a valid ``x-auth-credentials`` header; 400 without one, 401 if wrong."""
        value = headers.get(CREDENTIALS_HEADER)
        if not value:
            raise SimError(400, f"the {CREDENTIALS_HEADER} header is required")
        scheme, _, encoded = value.partition(" ")
        try:
            login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            login, sep, password = "", "", ""
        if scheme.lower() != "basic" or not sep:
            raise SimError(401, f"{CREDENTIALS_HEADER} must be 'Basic base64(user:password)'")
        good = hmac.compare_digest(login.encode(), self.db_login.encode()) and hmac.compare_digest(
            password.encode(), self.db_password.encode()
        )
        if not good:
            raise SimError(401, f"database logon failed for user {login!r}: wrong user or password")
        return login

    def check_permission(self, db_user: str, target_site: str) -> None:
        if db_user in self.denied_users:
            raise SimError(403, f"user {db_user} does not have the rights to restore")
        if target_site in self.denied_sites:
            raise SimError(403, f"restores to site {target_site} are not allowed for user {db_user}")

    def permissions(self, site_id: str, headers: Mapping[str, str], body: Any) -> dict[str, Any]:
        """R3: the body names the backup (``job_id``, ``execution_id``), ``target_site`` and objects."""
        with self.state.lock:
            data = _json_object(body)
            execution = self._execution(site_id, str(data.get("job_id")), str(data.get("execution_id")))
            target = self._target(data, site_id)
            _objects(data, execution, self)
            user = self.check_credentials(headers)
            self.check_permission(user, target)
            return {"has_permission": True, "message": f"user {user} may restore to site {target}"}

    # -- restores

    def _target(self, data: Mapping[str, Any], site_id: str) -> str:
        target = data.get("target_site", site_id)
        if not isinstance(target, str) or target not in self.state.sites:
            raise SimError(400, f"target_site {target!r} is not a site")
        return target

    def create(
        self, site_id: str, job_id: str, execution_id: str, headers: Mapping[str, str], body: Any
    ) -> SimRestore:
        with self.state.lock:
            execution = self._execution(site_id, job_id, execution_id)
            data = _json_object(body)
            name = data.get("name")
            if not isinstance(name, str) or not name.strip():
                raise SimError(400, "name is required")
            target = self._target(data, site_id)
            settings = data.get("job_settings")
            if not isinstance(settings, dict):
                raise SimError(400, "job_settings must be a JSON object")
            _objects(settings, execution, self)
            now = self.state.clock.now()
            if reason := self._no_save_set(execution, now):
                raise SimError(400, reason)
            user = self.check_credentials(headers)
            self.check_permission(user, target)
            for existing in self.restores:
                if existing.site_id == site_id and existing.name == name:
                    raise SimError(
                        409, f"a restore named {name!r} already exists", restore_id=str(existing.id)
                    )
            outcome = self.restore_outcomes[min(self.started, len(self.restore_outcomes) - 1)]
            self.started += 1
            duration = self.scenario.restore_duration if outcome.duration is None else outcome.duration
            restore = SimRestore(
                self._next_restore, site_id, name, execution, target, settings, user, now, duration, outcome
            )
            self._next_restore += 1
            self.restores.append(restore)
            return restore

    def restore(self, site_id: str, job_id: str, execution_id: str, restore_id: str) -> dict[str, Any]:
        with self.state.lock:
            execution = self._execution(site_id, job_id, execution_id)
            for r in self.restores:
                if str(r.id) == restore_id and r.execution is execution and r.site_id == site_id:
                    return r.to_dict(self.state.clock.now())
            raise SimError(404, f"restore {restore_id} of execution {execution_id} not found")

    def listing(
        self, site_id: str, execution_id: str | None = None, job_id: str | None = None
    ) -> list[dict[str, Any]]:
        """R2 (a site's restores) or R5 (one execution's), newest first."""
        with self.state.lock:
            self.state.site(site_id)
            execution = None if execution_id is None else self._execution(site_id, str(job_id), execution_id)
            now = self.state.clock.now()
            return [
                r.to_dict(now)
                for r in reversed(self.restores)
                if r.site_id == site_id and (execution is None or r.execution is execution)
            ]

    def databases(self, site_id: str) -> list[dict[str, Any]]:
        """R4: DBC and every database the site's backup jobs hold."""
        with self.state.lock:
            site = self.state.site(site_id)
            names = {"DBC"}
            for job in site.jobs.values():
                if job.is_backup:
                    for o in (
                        default_backup_objects(job.spec, 0) if job.spec.objects is None else job.spec.objects
                    ):
                        if str(o.get("object_type", "")).upper() == "DATABASE":
                            names.add(o["object_name"])
            return [{"database_name": n, "parent_name": None if n == "DBC" else "DBC"} for n in sorted(names)]


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SimError(400, "request body must be a JSON object")
    return body


def _objects(settings: Mapping[str, Any], execution: Execution, book: RestoreBook) -> None:
    """The body's objects must be non-empty and each one held by the execution's backup."""
    objects = (
        settings.get("objects")
        if "objects" in settings
        else (settings.get("job_settings") or {}).get("objects")
    )
    if not isinstance(objects, list) or not objects:
        raise SimError(400, "job_settings.objects must be a non-empty array")
    held = {(o["object_name"], str(o.get("object_type", "")).upper()) for o in book.backup_objects(execution)}
    for i, entry in enumerate(objects):
        if not isinstance(entry, dict) or not isinstance(entry.get("object_name"), str):
            raise SimError(400, f"objects[{i}] must be an object with object_name and object_type")
        key = (entry["object_name"], str(entry.get("object_type", "")).upper())
        if key not in held:
            raise SimError(
                400, f"objects[{i}] {key[0]} ({key[1]}) is not in the backup of execution {execution.id}"
            )


def objects_of(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Backed-up objects as O3 lists them, from dicts (``object_name`` and ``object_type`` required)."""
    out = []
    for item in items:
        if not isinstance(item.get("object_name"), str) or not isinstance(item.get("object_type"), str):
            raise ValueError(f"a backed-up object needs object_name and object_type, got {dict(item)!r}")
        out.append(
            {
                "object_name": item["object_name"],
                "object_type": item["object_type"],
                "parent_name": item.get("parent_name"),
                "parent_type": item.get("parent_type"),
                "byte_count": item.get("byte_count", 0),
                **{k: v for k, v in item.items() if k not in ("object_name", "object_type")},
            }
        )
    return out


__all__ = ["CREDENTIALS_HEADER", "Preparation", "RestoreBook", "SimRestore", "objects_of"]
