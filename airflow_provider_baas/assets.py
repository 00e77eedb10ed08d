"""Data-aware scheduling on "backup done": ``baas://<host>/<site_id>/jobs/<job_id>`` assets.

A downstream DAG scheduled on ``baas_asset(host, site_id, job_id)`` runs when a task that lists the
same asset in its ``outlets`` (the operator, or the freshness gate through an alias) reports a
successful backup; the event's extra carries the execution id, status and backup size.
On Airflow 3, ``baas_backup_asset`` is the same asset with a watcher: it also gets an event for
every backup BaaS runs on its own schedule. The scheme is registered in the provider info with
``sanitize_uri`` as its normaliser.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult

from airflow_provider_baas._compat import asset, asset_alias, asset_watcher, has_asset_watchers
from airflow_provider_baas.connection_form import DEFAULT_CONN_ID

SCHEME = "baas"
_PATH = re.compile(r"^/(?P<site>[^/\s]+)/jobs/(?P<job>[1-9][0-9]*)$")


def backup_asset_uri(host: str, site_id: str, job_id: int | str) -> str:
    """The canonical URI of one job's backups; ``host`` is the API host (no scheme, path or port:
    the same API reached on ``host`` and ``host:443`` is one asset).

    :param host: the API host.
    :param site_id: the site.
    :param job_id: the job.
    """
    host = _without_port(host.split("://", 1)[-1].split("/", 1)[0].strip().lower())
    if not host:
        raise ValueError("backup_asset_uri needs the BaaS API host, e.g. 'baas.example.com'")
    return f"{SCHEME}://{host}/{site_id}/jobs/{int(job_id)}"


def baas_asset(host: str, site_id: str, job_id: int | str, **kwargs: Any) -> Any:
    """An ``Asset`` (Airflow 3) or ``Dataset`` (Airflow 2.11) for one job's backups.

    :param host: the API host, as in the connection (scheme, port and path are dropped).
    :param site_id: the site.
    :param job_id: the job.
    :param kwargs: passed to ``Asset``/``Dataset``, e.g. ``extra``.
    """
    return asset(backup_asset_uri(host, site_id, job_id), **kwargs)


def baas_backup_asset(
    host: str,
    site_id: str,
    job_id: int | str,
    *,
    statuses: tuple[str, ...] | list[str] = ("SUCCESSFUL",),
    poll_interval: float = 60.0,
    baas_conn_id: str = DEFAULT_CONN_ID,
    **kwargs: Any,
) -> Any:
    """The job's backup ``Asset`` with an ``AssetWatcher``: an event per backup, whoever started it.

    Airflow 3 only (event-driven scheduling); on 2.11 it raises ``AirflowException``. Each ended
    execution in ``statuses`` (ended after the watcher first started) becomes one asset event whose
    ``extra["payload"]`` holds the execution (see ``BaasBackupEventTrigger``). Do not also list this
    asset in a ``BaasExecuteJobOperator``'s outlets: the watcher sees those backups too, and the
    downstream DAG would get two events for one backup.

    :param host: the BaaS API host, as in ``baas_asset``.
    :param site_id: the job's site.
    :param job_id: the job to watch.
    :param statuses: final statuses that fire an event (add e.g. ``"FAILED"`` to react to failures).
    :param poll_interval: seconds between two reads of the job in the triggerer.
    :param baas_conn_id: the Airflow connection the triggerer reads BaaS with.
    :param kwargs: passed to ``Asset`` (e.g. ``name``, ``group``, ``extra``).
    """
    from airflow_provider_baas.triggers.events import BaasBackupEventTrigger

    trigger = BaasBackupEventTrigger(
        job_id=job_id,
        site_id=site_id,
        baas_conn_id=baas_conn_id,
        statuses=statuses,
        poll_interval=poll_interval,
    )
    name = f"baas_backup_{site_id}_{trigger.job_id}_{'_'.join(trigger.statuses).lower()}"
    return asset(backup_asset_uri(host, site_id, job_id), watchers=[asset_watcher(name, trigger)], **kwargs)


def backup_watchers_supported() -> bool:
    """Whether ``baas_backup_asset`` works on this Airflow (3.x: yes; 2.11: no)."""
    return has_asset_watchers()


def baas_asset_alias(name: str) -> Any:
    """An ``AssetAlias`` (``DatasetAlias`` on 2.11): lets the gate emit only when it ran a backup.

    :param name: the alias's name.
    """
    return asset_alias(name)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``baas://``: lower-case host, no trailing slash, a valid job path.

    :param uri: the split URI Airflow hands over.
    :raises ValueError: for a URI without host, site or job.
    """
    if not uri.netloc:
        raise ValueError("A baas:// asset URI needs the API host: baas://<host>/<site_id>/jobs/<job_id>")
    path = uri.path.rstrip("/")
    if not _PATH.match(path):
        raise ValueError(
            f"A baas:// asset URI must look like baas://<host>/<site_id>/jobs/<job_id>, got {uri.path!r}"
        )
    if uri.query or uri.fragment:
        raise ValueError("A baas:// asset URI takes no query or fragment")
    return uri._replace(netloc=_without_port(uri.netloc.lower()), path=path)


def _without_port(host: str) -> str:
    """``host`` without ``:port`` (an IPv6 literal keeps its brackets)."""
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.split(":", 1)[0]


def matches_job(uri: str, site_id: str, job_id: str) -> bool:
    """Whether an outlet URI names this site's job (any host spelling).

    :param uri: an outlet's URI.
    :param site_id: the site.
    :param job_id: the job.
    """
    if not uri.startswith(f"{SCHEME}://"):
        return False
    path = "/" + uri[len(SCHEME) + 3 :].split("/", 1)[-1].rstrip("/")
    match = _PATH.match(path)
    return bool(match) and match.group("site") == site_id and match.group("job") == str(job_id)


def event_extra(record: dict[str, Any], backup_started: bool = True) -> dict[str, Any]:
    """The ``extra`` of an asset event for one execution.

    :param record: the execution record (``execution_id``, ``job_id``, ``status``, ...).
    :param backup_started: whether this task started (or joined) the backup, rather than finding
        a fresh one.
    """
    return {
        "execution_id": record.get("execution_id"),
        "job_id": record.get("job_id"),
        "status": record.get("status"),
        "backup_set_size": record.get("backup_set_size"),
        "end_time": record.get("end_time"),
        "backup_started": backup_started,
    }


def annotate_outlet_events(context: Any, outlets: list[Any], site_id: str, job_id: str, record: dict) -> int:
    """Put the execution's details into the events of declared ``baas://`` outlets for this job.

    Aliases among the outlets receive an event for this job's asset (used by the freshness gate,
    which emits only when it actually ran a backup). Returns how many events were annotated.

    :param context: the task's context (its ``outlet_events``).
    :param outlets: the task's outlets.
    :param site_id: the site of the execution.
    :param job_id: the job of the execution.
    :param record: the execution record the task returns.
    """
    events = context.get("outlet_events") if hasattr(context, "get") else None
    if events is None:
        return 0
    annotated = 0
    for outlet in outlets or []:
        uri = getattr(outlet, "uri", None)
        if uri is not None and matches_job(uri, site_id, job_id):
            events[outlet].extra.update(event_extra(record))
            annotated += 1
    return annotated


def emit_to_aliases(
    context: Any, outlets: list[Any], host: str, site_id: str, job_id: str, record: dict
) -> int:
    """Add this job's asset event to every alias among ``outlets``.

    :param context: the task's context (its ``outlet_events``).
    :param outlets: the task's outlets.
    :param host: the API host of the job's asset.
    :param site_id: the site.
    :param job_id: the job.
    :param record: the execution record the task returns.
    :return: how many aliases got the event.
    """
    events = context.get("outlet_events") if hasattr(context, "get") else None
    if events is None:
        return 0
    emitted = 0
    for outlet in outlets or []:
        if getattr(outlet, "uri", None) is None and getattr(outlet, "name", None) and _is_alias(outlet):
            events[outlet].add(baas_asset(host, site_id, job_id), extra=event_extra(record))
            emitted += 1
    return emitted


def _is_alias(outlet: Any) -> bool:
    return type(outlet).__name__ in ("AssetAlias", "DatasetAlias")
