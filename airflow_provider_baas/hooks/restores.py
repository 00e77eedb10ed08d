"""What a backup holds, and restores of chosen objects: the hook's O1-O3 and R1-R4/R6 calls.

A mixin of ``BaasHook``: the same request plans, drivers, retries, redaction and at-most-once rule
as the job calls. What the API documents and what is inferred is listed in docs/restores.md.

Creating a restore is at most once, like executing a job: a POST whose answer is lost (timeout,
dropped connection, 5xx after sending) is never re-sent. The restore is found instead by its
``name``, which callers keep unique (the operator derives it from the task instance), and a 409 on
the name is resolved the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_baas.credentials import DatabaseCredentials, adatabase_credentials, database_credentials
from airflow_provider_baas.errors import (
    BaasAuthError,
    BaasConflictError,
    BaasError,
    BaasLookupError,
    BaasObjectsPreparationFailed,
    BaasResponseError,
    BaasRestoreOutcomeUnknown,
    BaasRestorePermissionDenied,
    BaasValidationError,
    BaasWaitTimeout,
)
from airflow_provider_baas.hooks.transport import MaybeSent, RequestSpec, Response, Sleep, path_segment
from airflow_provider_baas.models import BackupObject, Database, ObjectsPreparation, Restore
from airflow_provider_baas.secrets import Sealed
from airflow_provider_baas.status import Outcome, StatusPolicy
from airflow_provider_baas.validation import (
    restore_object_entries,
    restore_settings,
    validate_job_id,
    validate_path_id,
    validate_restore_name,
)

if TYPE_CHECKING:
    from airflow_provider_baas.connection import BaasConnectionConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
Plan = Generator[RequestSpec | Sleep, Response | None, T]

#: O2's status words are not documented: these end a preparation well; the usual failure words
#: (FAILED, ERROR, ...) end it badly; any other word is waited on (never success) until the timeout.
PREPARATION_POLICY = StatusPolicy.build(
    success_statuses={"SUCCESSFUL", "SUCCESS", "COMPLETED", "COMPLETE", "READY", "DONE", "PREPARED"}
)
#: How O2 is told which preparation: O1's ``x-resource-id`` is sent both as this query parameter and
#: as this header (the docs do not say; the simulator accepts either). See docs/restores.md.
PREPARATION_ID_PARAM = "resource-id"
PREPARATION_ID_HEADER = "x-resource-id"
DEFAULT_PREPARATION_TIMEOUT = 300.0
DEFAULT_PREPARATION_POLL_INTERVAL = 5.0
#: The documented ``job_settings`` flags of R6 (``skip_statstics`` is the docs' spelling), sent
#: unless the caller's ``settings`` override them.
DOCUMENTED_RESTORE_SETTINGS: dict[str, Any] = {
    "continue_job_on_access_right_violation": False,
    "run_as_a_copy_job": False,
    "skip_statstics": False,
    "skip_join_or_hash_indexes": False,
}
#: After a lost create-restore answer: how often and how long to look for the restore by name.
RESTORE_LOOKUP_ATTEMPTS = 4
RESTORE_LOOKUP_INTERVAL = 5.0
#: Where an R6 answer without ``x-resource-id`` may carry the new restore's id (undocumented).
CREATED_ID_KEYS = ("restore_id", "restore_execution_id", "id", "resource_id")
#: R3's answer is undocumented: a JSON object with one of these set to false is a denial.
PERMISSION_FLAGS = ("has_permission", "has_permissions", "permitted", "allowed", "is_allowed", "can_restore")


def _rows(path: str, parser: Callable[[Any], T], rows: list[Any]) -> list[T]:
    """Parse listing rows; a row of the wrong shape is a response error naming the path."""
    try:
        return [parser(row) for row in rows]
    except TypeError as exc:
        raise BaasResponseError(200, "GET", path, f"unexpected payload: {exc}") from None


def _one(spec: RequestSpec, response: Response, parser: Callable[[Any], T], raw: Any) -> T:
    try:
        return parser(raw)
    except TypeError as exc:
        raise BaasResponseError(
            response.status, spec.method, spec.path, f"unexpected payload: {exc}"
        ) from None


def _credentials(value: Any) -> DatabaseCredentials:
    if not isinstance(value, DatabaseCredentials):
        raise BaasValidationError(
            "credentials must be DatabaseCredentials: load them with "
            "BaasHook.get_database_credentials(teradata_conn_id)"
        )
    return value


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise BaasValidationError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


class BaasRestoreMixin:
    """The objects and restores calls of ``BaasHook`` (sync, and ``a``-prefixed async twins)."""

    # Provided by BaasHook.
    config: BaasConnectionConfig
    baas_conn_id: str
    _run: Callable[..., Any]
    _arun: Callable[..., Any]
    _site_path: Callable[[str | None], str]
    resolve_site_id: Callable[..., str]
    _json: Callable[[RequestSpec, Response], Any]
    _plan_paged: Callable[..., Plan[list[Any]]]

    # -- database credentials

    def get_database_credentials(self, teradata_conn_id: str) -> DatabaseCredentials:
        """The database user and password of a ``teradata`` connection, for restores.

        :param teradata_conn_id: the Airflow connection (type ``teradata``: Login and Password).
        """
        return database_credentials(teradata_conn_id)

    async def aget_database_credentials(self, teradata_conn_id: str) -> DatabaseCredentials:
        """``get_database_credentials`` without blocking the event loop.

        :param teradata_conn_id: the Airflow connection (type ``teradata``: Login and Password).
        """
        return await adatabase_credentials(teradata_conn_id)

    # -- public API (sync)

    def prepare_objects(self, job_id: Any, execution_id: Any, site_id: str | None = None) -> str:
        """Ask the API to prepare the object list of a backup execution (O1).

        :param job_id: the backup job.
        :param execution_id: the backup execution whose save set is listed.
        :param site_id: the site (default: the hook's, else the connection's).
        :return: the preparation id (O1's ``x-resource-id``); ``""`` when the server sent none.
        """
        return self._run(self._plan_prepare_objects(job_id, execution_id, site_id))

    def get_objects_preparation_status(
        self, preparation_id: str | None = None, site_id: str | None = None
    ) -> ObjectsPreparation:
        """The state of an objects preparation (O2).

        :param preparation_id: what ``prepare_objects`` returned; sent as query parameter
            ``resource-id`` and header ``x-resource-id``. ``None``: the site's current preparation.
        :param site_id: the site (default: the hook's, else the connection's).
        """
        return self._run(self._plan_preparation_status(preparation_id, site_id))

    def list_backup_objects(
        self,
        job_id: Any,
        execution_id: Any,
        site_id: str | None = None,
        *,
        prepare: bool = True,
        timeout: float = DEFAULT_PREPARATION_TIMEOUT,
        poll_interval: float = DEFAULT_PREPARATION_POLL_INTERVAL,
    ) -> list[BackupObject]:
        """The objects a backup execution holds: prepare (O1), wait for the preparation (O2), list (O3).

        :param job_id: the backup job.
        :param execution_id: the backup execution.
        :param site_id: the site (default: the hook's, else the connection's).
        :param prepare: False to list without preparing (the objects were prepared before).
        :param timeout: seconds to wait for the preparation; past it, ``BaasWaitTimeout``.
        :param poll_interval: seconds between two preparation status calls.
        :raises BaasObjectsPreparationFailed: the preparation ended in a failure status.
        """
        return self._run(
            self._plan_list_backup_objects(job_id, execution_id, site_id, prepare, timeout, poll_interval)
        )

    def create_restore(
        self,
        job_id: Any,
        execution_id: Any,
        *,
        name: str,
        objects: Any,
        target_site: str | None = None,
        settings: dict[str, Any] | None = None,
        credentials: DatabaseCredentials,
        site_id: str | None = None,
    ) -> str:
        """Create and run a restore of chosen objects of a backup execution (R6); returns its id.

        At most once: a request whose answer is lost is never re-sent; the restore it may have
        created is found by ``name`` (so keep names unique), else ``BaasRestoreOutcomeUnknown``.

        :param job_id: the backup job.
        :param execution_id: the backup execution to restore from.
        :param name: the restore's name: its identity, unique per caller (at most 128 characters).
        :param objects: what to restore: ``BackupObject``s (from ``list_backup_objects``) or dicts
            shaped like the body's ``job_settings.objects[]`` entries.
        :param target_site: where to restore (default: the source site).
        :param settings: more ``job_settings`` keys, merged over the documented flags (sent as given).
        :param credentials: the database user sent as ``x-auth-credentials`` (see
            ``get_database_credentials``).
        :param site_id: the source site (default: the hook's, else the connection's).
        :raises BaasRestorePermissionDenied: the API answered 403.
        """
        return self._run(
            self._plan_create_restore(
                job_id, execution_id, name, objects, target_site, settings, credentials, site_id
            )
        )

    def get_restore(
        self, job_id: Any, execution_id: Any, restore_id: Any, site_id: str | None = None
    ) -> Restore:
        """One restore (R1).

        :param job_id: the backup job.
        :param execution_id: the backup execution restored.
        :param restore_id: the restore (what ``create_restore`` returned).
        :param site_id: the site (default: the hook's, else the connection's).
        """
        return self._run(self._plan_get_restore(job_id, execution_id, restore_id, site_id))

    def list_restores(self, site_id: str | None = None) -> list[Restore]:
        """Every restore of the site (R2), all pages.

        :param site_id: the site (default: the hook's, else the connection's).
        """
        return self._run(self._plan_list_restores(site_id))

    def find_restore_by_name(self, name: str, site_id: str | None = None) -> Restore | None:
        """The restore named exactly ``name``; ``None`` when there is none.

        :param name: the name given at creation.
        :param site_id: the site (default: the hook's, else the connection's).
        :raises BaasLookupError: several restores have that name.
        """
        return self._run(self._plan_find_restore_by_name(name, site_id))

    def check_restore_permissions(
        self,
        job_id: Any,
        execution_id: Any,
        *,
        objects: Any,
        target_site: str | None = None,
        credentials: DatabaseCredentials,
        site_id: str | None = None,
    ) -> dict[str, Any]:
        """Ask whether the database user may restore these objects (R3). Its body is undocumented:
        ``job_id``, ``execution_id``, ``target_site`` and ``job_settings.objects`` as in R6.

        :param job_id: the backup job.
        :param execution_id: the backup execution.
        :param objects: as for ``create_restore``.
        :param target_site: where to restore (default: the source site).
        :param credentials: the database user sent as ``x-auth-credentials``.
        :param site_id: the source site (default: the hook's, else the connection's).
        :return: the server's answer (a JSON object; ``{}`` for an empty body).
        :raises BaasRestorePermissionDenied: a 403, or an answer whose permission flag is false.
        """
        return self._run(
            self._plan_check_restore_permissions(
                job_id, execution_id, objects, target_site, credentials, site_id
            )
        )

    def list_databases(self, site_id: str | None = None) -> list[Database]:
        """The site's databases (R4).

        :param site_id: the site (default: the hook's, else the connection's).
        """
        return self._run(self._plan_list_databases(site_id))

    # -- public API (async twins)

    async def aprepare_objects(self, job_id: Any, execution_id: Any, site_id: str | None = None) -> str:
        """Async ``prepare_objects``."""
        return await self._arun(self._plan_prepare_objects(job_id, execution_id, site_id))

    async def aget_objects_preparation_status(
        self, preparation_id: str | None = None, site_id: str | None = None
    ) -> ObjectsPreparation:
        """Async ``get_objects_preparation_status``."""
        return await self._arun(self._plan_preparation_status(preparation_id, site_id))

    async def alist_backup_objects(
        self,
        job_id: Any,
        execution_id: Any,
        site_id: str | None = None,
        *,
        prepare: bool = True,
        timeout: float = DEFAULT_PREPARATION_TIMEOUT,
        poll_interval: float = DEFAULT_PREPARATION_POLL_INTERVAL,
    ) -> list[BackupObject]:
        """Async ``list_backup_objects``."""
        return await self._arun(
            self._plan_list_backup_objects(job_id, execution_id, site_id, prepare, timeout, poll_interval)
        )

    async def acreate_restore(
        self,
        job_id: Any,
        execution_id: Any,
        *,
        name: str,
        objects: Any,
        target_site: str | None = None,
        settings: dict[str, Any] | None = None,
        credentials: DatabaseCredentials,
        site_id: str | None = None,
    ) -> str:
        """Async ``create_restore`` (at most once, like it)."""
        return await self._arun(
            self._plan_create_restore(
                job_id, execution_id, name, objects, target_site, settings, credentials, site_id
            )
        )

    async def aget_restore(
        self, job_id: Any, execution_id: Any, restore_id: Any, site_id: str | None = None
    ) -> Restore:
        """Async ``get_restore``."""
        return await self._arun(self._plan_get_restore(job_id, execution_id, restore_id, site_id))

    async def alist_restores(self, site_id: str | None = None) -> list[Restore]:
        """Async ``list_restores``."""
        return await self._arun(self._plan_list_restores(site_id))

    async def afind_restore_by_name(self, name: str, site_id: str | None = None) -> Restore | None:
        """Async ``find_restore_by_name``."""
        return await self._arun(self._plan_find_restore_by_name(name, site_id))

    async def acheck_restore_permissions(
        self,
        job_id: Any,
        execution_id: Any,
        *,
        objects: Any,
        target_site: str | None = None,
        credentials: DatabaseCredentials,
        site_id: str | None = None,
    ) -> dict[str, Any]:
        """Async ``check_restore_permissions``."""
        return await self._arun(
            self._plan_check_restore_permissions(
                job_id, execution_id, objects, target_site, credentials, site_id
            )
        )

    async def alist_databases(self, site_id: str | None = None) -> list[Database]:
        """Async ``list_databases``."""
        return await self._arun(self._plan_list_databases(site_id))

    # -- request plans: objects

    def _execution_path(self, job_id: Any, execution_id: Any, site_id: str | None) -> str:
        job = validate_job_id(job_id)
        execution = path_segment(validate_path_id(execution_id, "execution_id"))
        return f"{self._site_path(site_id)}/jobs/{job}/executions/{execution}"

    def _plan_prepare_objects(self, job_id: Any, execution_id: Any, site_id: str | None) -> Plan[str]:
        # Preparing twice only prepares again: safe to retry on a 5xx or a lost answer.
        spec = RequestSpec("POST", f"{self._execution_path(job_id, execution_id, site_id)}/prepare-objects")
        response = yield spec
        preparation_id = (response.headers.get("x-resource-id") or "").strip()
        if not preparation_id:
            log.warning(
                "BaaS prepare-objects answered HTTP %s without x-resource-id: the site's current "
                "preparation will be followed",
                response.status,
            )
        return preparation_id

    def _plan_preparation_status(
        self, preparation_id: str | None, site_id: str | None
    ) -> Plan[ObjectsPreparation]:
        params: dict[str, Any] = {}
        headers = None
        if preparation_id:
            wanted = validate_path_id(preparation_id, "preparation_id")
            params[PREPARATION_ID_PARAM] = wanted
            headers = Sealed({PREPARATION_ID_HEADER: wanted}, "preparation id")
        spec = RequestSpec(
            "GET", f"{self._site_path(site_id)}/objects-preparation-status", params or None, headers=headers
        )
        response = yield spec
        return _one(spec, response, ObjectsPreparation.from_dict, self._json(spec, response))

    def _plan_list_backup_objects(
        self,
        job_id: Any,
        execution_id: Any,
        site_id: str | None,
        prepare: bool,
        timeout: float,
        poll_interval: float,
    ) -> Plan[list[BackupObject]]:
        path = f"{self._execution_path(job_id, execution_id, site_id)}/objects"
        if prepare:
            timeout = _positive(timeout, "timeout")
            poll_interval = _positive(poll_interval, "poll_interval")
            preparation_id = yield from self._plan_prepare_objects(job_id, execution_id, site_id)
            yield from self._plan_wait_preparation(preparation_id, site_id, timeout, poll_interval)
        rows = yield from self._plan_paged(path, {})
        return _rows(path, BackupObject.from_dict, rows)

    def _plan_wait_preparation(
        self, preparation_id: str, site_id: str | None, timeout: float, poll_interval: float
    ) -> Plan[ObjectsPreparation]:
        """Poll O2 until the preparation ends; the clock is the longer of real time and time slept."""
        started, slept = time.monotonic(), 0.0
        label = preparation_id or "(no id: the site's current one)"
        redact = self.config.secrets.redact  # the server's words, like every API error's
        while True:
            preparation = yield from self._plan_preparation_status(preparation_id or None, site_id)
            outcome = PREPARATION_POLICY.classify(preparation.status)
            details = redact(preparation.details or "")
            if outcome is Outcome.SUCCESS:
                return preparation
            if outcome is Outcome.FAILED:
                raise BaasObjectsPreparationFailed(preparation_id, str(preparation.status), details or None)
            elapsed = max(time.monotonic() - started, slept)
            if elapsed + poll_interval > timeout:
                raise BaasWaitTimeout(
                    f"Preparation {label} of the backup's objects did not finish within {timeout:g} s "
                    f"(last status {preparation.status or '(none)'}: {details or 'no details'})"
                )
            yield Sleep(poll_interval)
            slept += poll_interval

    # -- request plans: restores

    def _restore_body(
        self, name: Any, objects: Any, target_site: str | None, settings: Any, site: str
    ) -> dict[str, Any]:
        """R6's body as documented: the caller's ``settings`` merged over the documented flags."""
        extra = restore_settings(settings)
        return {
            "name": validate_restore_name(name),
            "target_site": _target_site(target_site, site),
            "job_settings": {
                "objects": restore_object_entries(objects),
                **DOCUMENTED_RESTORE_SETTINGS,
                **extra,
            },
        }

    def _protect(self, credentials: DatabaseCredentials) -> None:
        """Make the hook's redaction (errors, logs) cover every form of the credentials."""
        for value in credentials.secret_values():
            self.config.secrets.add(value)

    def _plan_create_restore(
        self,
        job_id: Any,
        execution_id: Any,
        name: Any,
        objects: Any,
        target_site: str | None,
        settings: Any,
        credentials: Any,
        site_id: str | None,
    ) -> Plan[str]:
        path = f"{self._execution_path(job_id, execution_id, site_id)}/restores"
        site = self.resolve_site_id(site_id)
        body = self._restore_body(name, objects, target_site, settings, site)
        creds = _credentials(credentials)
        self._protect(creds)
        source = (validate_job_id(job_id), str(execution_id))
        name = body["name"]
        spec = RequestSpec(
            "POST", path, json_body=body, idempotent=False, fresh_connection=True, headers=creds.header()
        )
        try:
            response = yield spec
        except MaybeSent as exc:
            reason = self.config.secrets.redact(str(exc))
            log.warning(
                "Create-restore request %r got no answer (%s); looking for the restore by name instead of "
                "re-sending it",
                name,
                reason,
            )
            return (yield from self._plan_recover_restore(name, site, source, reason))
        except BaasConflictError as exc:
            log.warning(
                "Create-restore %r answered HTTP 409 (%s); looking for the restore by name", name, exc.message
            )
            return (yield from self._plan_restore_after_conflict(name, site, source, exc))
        except BaasAuthError as exc:
            raise _restore_auth_error(exc, self.config.secrets.redact) from None
        restore_id = self._created_id(spec, response)
        if restore_id:
            log.info("Created BaaS restore %r on site %s: restore %s", name, site, restore_id)
            return restore_id
        log.warning("Create-restore %r answered HTTP %s without a restore id", name, response.status)
        return (yield from self._plan_recover_restore(name, site, source, "the answer had no restore id"))

    def _created_id(self, spec: RequestSpec, response: Response) -> str | None:
        """R6's answer is undocumented: ``x-resource-id`` (as J3 and O1), else an id in a JSON body."""
        header = (response.headers.get("x-resource-id") or "").strip()
        if header:
            return header
        if not response.text.strip():
            return None
        try:
            data = self._json(spec, response)
        except BaasResponseError:
            return None
        if isinstance(data, dict):
            for key in CREATED_ID_KEYS:
                if data.get(key) not in (None, "") and not isinstance(data[key], bool):
                    return str(data[key]).strip() or None
        return None

    def _plan_recover_restore(self, name: str, site: str, source: tuple[str, str], reason: str) -> Plan[str]:
        """Find the restore a lost create answer may have started; never re-send the POST."""
        last = ""
        for attempt in range(1, RESTORE_LOOKUP_ATTEMPTS + 1):
            if attempt > 1:
                yield Sleep(RESTORE_LOOKUP_INTERVAL)
            try:
                found = yield from self._plan_find_restore_by_name(name, site)
            except BaasLookupError as exc:
                raise BaasRestoreOutcomeUnknown(name, site, f"{reason}; {exc}", source[0]) from None
            except BaasError as exc:
                last = f"; listing restores failed: {exc}"
                continue
            if found is not None:
                _check_source(found, name, source)
                log.warning("Recovered BaaS restore %s (%r) after: %s", found.restore_id, name, reason)
                return found.restore_id
            last = f"; no restore named {name!r} is listed"
        raise BaasRestoreOutcomeUnknown(name, site, reason + last, source[0])

    def _plan_restore_after_conflict(
        self, name: str, site: str, source: tuple[str, str], conflict: BaasConflictError
    ) -> Plan[str]:
        """A 409: the name is taken, most likely by this caller's earlier attempt whose answer was lost."""
        found = yield from self._plan_find_restore_by_name(name, site)
        if found is None:
            raise conflict
        _check_source(found, name, source)
        log.warning(
            "BaaS restore %r already exists (restore %s): using it, not creating another",
            name,
            found.restore_id,
        )
        return found.restore_id

    def _plan_get_restore(
        self, job_id: Any, execution_id: Any, restore_id: Any, site_id: str | None
    ) -> Plan[Restore]:
        wanted = path_segment(validate_path_id(restore_id, "restore_id"))
        spec = RequestSpec("GET", f"{self._execution_path(job_id, execution_id, site_id)}/restores/{wanted}")
        response = yield spec
        return _one(spec, response, Restore.from_dict, self._json(spec, response))

    def _plan_list_restores(self, site_id: str | None) -> Plan[list[Restore]]:
        path = f"{self._site_path(site_id)}/restores"
        rows = yield from self._plan_paged(path, {})
        return _rows(path, Restore.from_dict, rows)

    def _plan_find_restore_by_name(self, name: Any, site_id: str | None) -> Plan[Restore | None]:
        wanted = validate_restore_name(name)
        restores = yield from self._plan_list_restores(site_id)
        matches = [r for r in restores if r.name == wanted]
        if len(matches) > 1:
            ids = ", ".join(r.restore_id for r in matches)
            raise BaasLookupError(f"{len(matches)} BaaS restores are named {wanted!r} (ids {ids})")
        return matches[0] if matches else None

    def _plan_check_restore_permissions(
        self,
        job_id: Any,
        execution_id: Any,
        objects: Any,
        target_site: str | None,
        credentials: Any,
        site_id: str | None,
    ) -> Plan[dict[str, Any]]:
        job = validate_job_id(job_id)
        execution = validate_path_id(execution_id, "execution_id")
        site = self.resolve_site_id(site_id)
        # Undocumented: R6's objects and target, plus the backup (R3's path does not name it).
        body = {
            "job_id": int(job),
            "execution_id": execution,
            "target_site": _target_site(target_site, site),
            "job_settings": {"objects": restore_object_entries(objects)},
        }
        creds = _credentials(credentials)
        self._protect(creds)
        spec = RequestSpec(
            "POST", f"{self._site_path(site)}/restore-permissions", json_body=body, headers=creds.header()
        )
        try:
            response = yield spec
        except BaasAuthError as exc:
            raise _restore_auth_error(exc, self.config.secrets.redact) from None
        answer = self._json(spec, response) if response.text.strip() else {}
        if not isinstance(answer, dict):
            raise BaasResponseError(
                response.status,
                spec.method,
                spec.path,
                f"expected a JSON object, got {type(answer).__name__}",
            )
        for flag in PERMISSION_FLAGS:
            if answer.get(flag) is False:
                said = answer.get("message") or answer.get("details") or f"{flag} is false"
                raise BaasRestorePermissionDenied(
                    response.status, spec.method, spec.path, self.config.secrets.redact(str(said))
                )
        return answer

    def _plan_list_databases(self, site_id: str | None) -> Plan[list[Database]]:
        path = f"{self._site_path(site_id)}/databases"
        rows = yield from self._plan_paged(path, {})
        return _rows(path, Database.from_dict, rows)


def _target_site(target_site: str | None, site: str) -> str:
    """Where to restore: the source site unless the caller names another."""
    return site if target_site is None else validate_path_id(target_site, "target_site")


def _check_source(found: Restore, name: str, source: tuple[str, str]) -> None:
    """A restore found by name must restore our execution (when the server says which)."""
    job, execution = source
    if (found.job_id not in (None, job)) or (found.execution_id not in (None, execution)):
        raise BaasConflictError(
            409,
            "POST",
            f"/jobs/{job}/executions/{execution}/restores",
            f"a restore named {name!r} already exists for job {found.job_id}, execution {found.execution_id} "
            f"(restore {found.restore_id}): choose another name",
        )


def _restore_auth_error(exc: BaasAuthError, redact: Callable[[str], str]) -> BaasAuthError:
    """403 on a restore call is a denial of the restore; 401 may be the token or the database user."""
    if exc.status == 403:
        return BaasRestorePermissionDenied(exc.status, exc.method, exc.path, exc.message)
    return BaasAuthError(
        exc.status,
        exc.method,
        exc.path,
        redact(
            f"{exc.message} (the API token, or the database user sent in x-auth-credentials, was rejected)"
        ),
    )


__all__ = [
    "DOCUMENTED_RESTORE_SETTINGS",
    "PREPARATION_ID_HEADER",
    "PREPARATION_ID_PARAM",
    "PREPARATION_POLICY",
    "BaasRestoreMixin",
]
