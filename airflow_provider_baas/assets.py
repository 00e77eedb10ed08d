"""Data-aware scheduling on "backup done": ``baas://<host>/<site_id>/jobs/<job_id>`` assets.

A downstream DAG scheduled on ``baas_asset(host, site_id, job_id)`` runs when a task that lists the
same asset in its ``outlets`` (the operator, or the freshness gate through an alias) reports a
successful backup; the event's extra carries the execution id, status and backup size.
The scheme is registered in the provider info with ``sanitize_uri`` as its normaliser.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult

from airflow_provider_baas._compat import AIRFLOW_V_3

SCHEME = "baas"
_PATH = re.compile(r"^/(?P<site>[^/\s]+)/jobs/(?P<job>[1-9][0-9]*)$")


def backup_asset_uri(host: str, site_id: str, job_id: int | str) -> str:
    """The canonical URI of one job's backups; ``host`` is the API host (no scheme, path or port:
    the same API reached on ``host`` and ``host:443`` is one asset)."""
    host = _without_port(host.split("://", 1)[-1].split("/", 1)[0].strip().lower())
    if not host:
        raise ValueError("backup_asset_uri needs the BaaS API host, e.g. 'baas.example.com'")
    return f"{SCHEME}://{host}/{site_id}/jobs/{int(job_id)}"


def baas_asset(host: str, site_id: str, job_id: int | str, **kwargs: Any) -> Any:
    """An ``Asset`` (Airflow 3) or ``Dataset`` (Airflow 2.11) for one job's backups."""
    uri = backup_asset_uri(host, site_id, job_id)
    if AIRFLOW_V_3:
        from airflow.sdk import Asset

        return Asset(uri=uri, **kwargs)
    from airflow.datasets import Dataset

    return Dataset(uri=uri, **kwargs)


def baas_asset_alias(name: str) -> Any:
    """An ``AssetAlias`` (``DatasetAlias`` on 2.11): lets the gate emit only when it ran a backup."""
    if AIRFLOW_V_3:
        from airflow.sdk import AssetAlias

        return AssetAlias(name=name)
    from airflow.datasets import DatasetAlias

    return DatasetAlias(name=name)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``baas://``: lower-case host, no trailing slash, a valid job path."""
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
    """Whether an outlet URI names this site's job (any host spelling)."""
    if not uri.startswith(f"{SCHEME}://"):
        return False
    path = "/" + uri[len(SCHEME) + 3 :].split("/", 1)[-1].rstrip("/")
    match = _PATH.match(path)
    return bool(match) and match.group("site") == site_id and match.group("job") == str(job_id)


def event_extra(record: dict[str, Any], backup_started: bool = True) -> dict[str, Any]:
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
    """Add this job's asset event to every alias among ``outlets``."""
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
