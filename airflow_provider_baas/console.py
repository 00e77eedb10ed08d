"""The BaaS console page of an execution: the connection's ``console_url`` template, checked and filled.

The REST API's URL answers 401 in a browser, so the operator's extra link points at the console only
when the connection says where the console is; Teradata documents no console URL scheme, so this is a
template the user copies from their console. Standard library only (imported at DAG parse time).
"""

from __future__ import annotations

import string
from urllib.parse import quote, urlsplit

#: The only placeholders a ``console_url`` template may contain.
PLACEHOLDERS = ("site_id", "job_id", "execution_id")


def console_url_problem(template: str) -> str | None:
    """Why ``template`` is not a usable ``console_url``, or None; never raises.

    :param template: e.g. ``https://console.example/sites/{site_id}/jobs/{job_id}/executions/{execution_id}``.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as err:  # an unmatched brace
        return f"console_url is not a valid template ({err}); write a literal brace as {{{{ or }}}}"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            return f"console_url may only contain the placeholders {allowed}, got {{{name}}}"
    return _scheme_problem(template)


def _scheme_problem(template: str) -> str | None:
    """https only: a console link over http would be followed from any browser; loopback is local."""
    from airflow_provider_baas.connection import is_loopback

    parts = urlsplit(render_console_url(template, site_id="s", job_id="1", execution_id="e"))
    if not parts.hostname:
        return "console_url must be an absolute URL, e.g. https://<console>/...{execution_id}"
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.netloc)):
        return None
    return f"console_url must start with https:// (http only for localhost), got {parts.scheme}://"


def render_console_url(template: str, *, site_id: str, job_id: str, execution_id: str) -> str:
    """The console page of one execution; each value is URL-quoted, so it cannot change the URL's shape.

    :param template: a ``console_url`` that :func:`console_url_problem` accepted.
    :param site_id: the BaaS site.
    :param job_id: the job.
    :param execution_id: the execution.
    """
    values = {"site_id": site_id, "job_id": job_id, "execution_id": execution_id}
    return template.format(**{k: quote(str(v), safe="") for k, v in values.items()})
