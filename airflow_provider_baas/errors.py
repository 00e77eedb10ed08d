"""One exception hierarchy for everything the provider raises.

Every error is an ``AirflowException`` so Airflow fails (and, where configured, retries) the
task. API errors carry the HTTP status, method, path and the server's own message, truncated and
with secrets masked, because "HTTP 403" alone tells a DAG author nothing.
"""

from __future__ import annotations

from airflow_provider_baas._compat import AirflowException

MAX_MESSAGE_CHARS = 500


class BaasError(AirflowException):
    """Base class of every error raised by this provider."""


class BaasValidationError(BaasError, ValueError):
    """Bad input, detected before any HTTP request is sent."""


class BaasConfigurationError(BaasValidationError):
    """The ``baas`` connection (or a task argument standing in for it) is incomplete or invalid."""


class BaasLookupError(BaasError):
    """A job looked up by name was not found, or the name is ambiguous."""


class BaasTransportError(BaasError):
    """The request could not be completed (connection refused, timeout, dropped) after retries."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method, self.path, self.reason = method, path, reason
        super().__init__(f"BaaS API {method} {path} failed: {reason}")


class BaasTransportSetupError(BaasTransportError, BaasConfigurationError):
    """The request cannot be made as configured (TLS verification, invalid URL, proxy or header):
    retrying will not help, so neither the hook nor a wait retries it."""


class BaasApiError(BaasError):
    """The API answered with an error status (or an unusable body)."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = truncate(message)
        super().__init__(f"BaaS API {method} {path} returned HTTP {status}: {self.message}")


class BaasAuthError(BaasApiError):
    """401 or 403: credentials missing, wrong, expired, or without access to the site."""


class BaasNotFoundError(BaasApiError):
    """404: the site, job or path does not exist."""


class BaasExecutionNotFound(BaasNotFoundError):
    """The execution is not (yet) in its job's listing; a just-started one may take a moment."""


class BaasConflictError(BaasApiError):
    """409: typically the job is already running."""


class BaasRateLimitedError(BaasApiError):
    """429 after every retry was spent."""

    def __init__(self, status: int, method: str, path: str, message: str, retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(status, method, path, message)


class BaasServerError(BaasApiError):
    """5xx after every retry was spent."""


class BaasResponseError(BaasApiError):
    """A success status with a body we cannot use (not JSON, or JSON of the wrong shape)."""


class BaasExecuteOutcomeUnknown(BaasError):
    """The execute request may or may not have started a backup, and no execution proves either.

    Raised instead of re-sending the request: a second POST could start a second, paid backup.
    """

    def __init__(self, job_id: str, site_id: str, reason: str) -> None:
        self.job_id, self.site_id, self.reason = job_id, site_id, reason
        super().__init__(
            f"Outcome of executing BaaS job {job_id} on site {site_id} is unknown: {reason}. "
            "The request may have started a backup, so it was NOT re-sent. Check the job's executions "
            "in the BaaS console before running it again."
        )


class BaasRestoreOutcomeUnknown(BaasExecuteOutcomeUnknown):
    """The create-restore request may or may not have started a restore, and no restore of that
    name proves either. Raised instead of re-sending the request: a second POST could start a
    second restore over the same database objects.

    :param name: the restore's name (its identity: unique per caller).
    :param site_id: the site the request went to.
    :param reason: what was lost and what the lookup found.
    :param job_id: the backup job whose execution was to be restored.
    """

    def __init__(self, name: str, site_id: str, reason: str, job_id: str = "") -> None:
        self.name = name
        self.job_id, self.site_id, self.reason = job_id, site_id, reason
        BaasError.__init__(
            self,
            f"Outcome of creating BaaS restore {name!r} on site {site_id} is unknown: {reason}. "
            "The request may have started a restore, so it was NOT re-sent. Check the site's restores "
            "in the BaaS console before running it again.",
        )


class BaasObjectsPreparationFailed(BaasError):
    """Preparing a backup execution's object list (O1/O2) ended in a failure status.

    :param preparation_id: the id the prepare call returned (``""`` when the server gave none).
    :param status: the final status word.
    :param details: the server's ``details``.
    """

    def __init__(self, preparation_id: str, status: str, details: str | None) -> None:
        self.preparation_id, self.status, self.details = preparation_id, status, details
        super().__init__(
            f"Preparing the objects of a backup (preparation {preparation_id or '(no id)'}) ended with "
            f"status {status}: {truncate(details or '(no details)')}"
        )


class BaasRestorePermissionDenied(BaasAuthError):
    """The API refused a restore: HTTP 403 on a restore call, or a permission check that said no.

    Carries the status, method, path and the server's own message, like every ``BaasApiError``.
    """


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Keep error messages readable when a server answers with a whole HTML page."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


API_ERROR_BY_STATUS: dict[int, type[BaasApiError]] = {
    401: BaasAuthError,
    403: BaasAuthError,
    404: BaasNotFoundError,
    409: BaasConflictError,
}


def api_error_for(
    status: int, method: str, path: str, message: str, retry_after: float | None = None
) -> BaasApiError:
    """The exception class that fits an HTTP status."""
    if status == 429:
        return BaasRateLimitedError(status, method, path, message, retry_after)
    if status >= 500:
        return BaasServerError(status, method, path, message)
    return API_ERROR_BY_STATUS.get(status, BaasApiError)(status, method, path, message)


class BaasExecutionFailed(BaasError):
    """The execution ended in a failure status; the message carries the server's ``status_detail``."""


class BaasWaitTimeout(BaasError):
    """The task's wait ``timeout`` passed before the execution finished (it goes on on the server)."""


class BaasInvalidEvent(BaasError):
    """A trigger event that is missing or not one this provider emits."""
