"""Shared constants, payload builders and helpers for the BaasHook tests (no fixtures here)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

HOST = "api.example.com"
BASE = f"https://{HOST}/data-protection/v2"
SITE = "s1"
TOKEN = "fake-token-1234567"
CONN_ID = "baas_test"
# Sleeps are patched (see conftest), so a generous budget keeps attempt counts deterministic.
DEFAULT_EXTRA: dict[str, Any] = {"site_id": SITE, "page_size": 2, "max_retry_wait": 100}

JOBS_URL = f"{BASE}/sites/{SITE}/jobs"
EXECUTIONS_URL = f"{BASE}/sites/{SITE}/executions"


def job_url(job_id: Any = 34, site: str = SITE) -> str:
    return f"{BASE}/sites/{site}/jobs/{job_id}"


def job_executions_url(job_id: Any = 34, site: str = SITE) -> str:
    return f"{job_url(job_id, site)}/executions"


def execute_url(job_id: Any = 34, site: str = SITE) -> str:
    return f"{job_url(job_id, site)}/execute"


def set_connection(
    monkeypatch: Any,
    conn_id: str = CONN_ID,
    *,
    host: str | None = HOST,
    password: str | None = TOKEN,
    extra: dict[str, Any] | None = None,
    base_extra: bool = True,
    drop: Sequence[str] = (),
    **fields: Any,
) -> str:
    """Define an Airflow connection through ``AIRFLOW_CONN_<ID>`` (Airflow's JSON form)."""
    merged = {**(DEFAULT_EXTRA if base_extra else {}), **(extra or {})}
    for key in drop:
        merged.pop(key, None)
    conn: dict[str, Any] = {"conn_type": "baas", "extra": merged, **fields}
    if host is not None:
        conn["host"] = host
    if password is not None:
        conn["password"] = password
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def iso(when: datetime) -> str:
    """The API's timestamp format: ``2022-12-07T11:35:00.000000Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_payload(job_id: Any = 34, name: str = "test_backup_plan", **overrides: Any) -> dict[str, Any]:
    """A J1 listing item shaped like the seed sample."""
    payload: dict[str, Any] = {
        "site_id": SITE,
        "auto_abort_in_minutes": 0,
        "backup_type": "FULL",
        "description": "test backup plan for employee database",
        "is_active": True,
        "is_auto_abort_active": False,
        "job_id": job_id,
        "job_type": "BACKUP",
        "last_execution_details": {
            "end_time": "2022-12-07T11:35:00.000000Z",
            "start_time": "2022-12-07T11:31:00.000000Z",
            "status": "SUCCESSFUL",
            "backup_set_size": 1000000,
            "backup_job_id": job_id,
            "backup_job_execution_id": 121,
            "restore_execution_id": 121,
        },
        "name": name,
        "next_run_time": "2022-12-08T11:31:02.282298Z",
        "no_of_retention_copies": 2,
        "priority": 1,
        "siteTargetType": "AWS",
        "backup_mechanism": "DSA",
        "targetSiteDetails": {
            "target_site_id": "string",
            "target_retention_copies_count": 0,
            "target_retention_source": "string",
        },
    }
    payload.update(overrides)
    return payload


def execution_payload(
    execution_id: Any,
    job_id: Any = 34,
    start_time: str | datetime | None = "2022-12-07T11:31:00.000000Z",
    status: str = "SUCCESSFUL",
    **overrides: Any,
) -> dict[str, Any]:
    """A J4/J5 listing item shaped like the seed sample."""
    payload: dict[str, Any] = {
        "site_id": SITE,
        "target_site": "string",
        "job_id": job_id,
        "job_name": "test_backup_plan",
        "backup_mechanism": "DSA",
        "job_type": "BACKUP",
        "execution_id": execution_id,
        "execution_name": "string",
        "start_time": iso(start_time) if isinstance(start_time, datetime) else start_time,
        "end_time": None,
        "backup_set_size": 0,
        "server_execution_id": "string",
        "parent_execution_id": "string",
        "status": status,
        "saveset_replication_status": "FAILED",
        "is_saveset_retained": True,
        "is_saveset_deleted": False,
        "saveset_id": 0,
        "run_type": "FULL",
        "site_type": "string",
        "status_detail": "string",
    }
    payload.update(overrides)
    return payload


def query(request: Any) -> dict[str, str]:
    """A recorded request's query string, case preserved (requests-mock's ``qs`` lower-cases values)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}


def path(request: Any) -> str:
    return urlsplit(request.url).path


def paged(pages: Sequence[list[Any]]) -> Callable[[Any, Any], list[Any]]:
    """A requests-mock JSON callback serving ``pages[page - 1]`` (``[]`` past the end)."""

    def respond(request: Any, context: Any) -> list[Any]:
        page = int(query(request).get("page", "1"))
        return list(pages[page - 1]) if page <= len(pages) else []

    return respond


def bearer(request: Any) -> str:
    value = request.headers.get("Authorization", "")
    assert value.startswith("Bearer "), value
    return value[len("Bearer ") :]


@functools.cache
def rsa_key_pair() -> tuple[str, Any]:
    """One RSA key pair for the whole run: (private PEM, public key)."""
    return new_rsa_key_pair()


def new_rsa_key_pair() -> tuple[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


def decode_jwt(token: str, public_key: Any, *, verify_time: bool = True) -> dict[str, Any]:
    """Verify the RS256 signature and audience; returns the claims."""
    return jwt.decode(
        token,
        public_key,
        algorithms=["RS256"],
        audience="td:service:authentication",
        options={"verify_exp": verify_time, "verify_iat": verify_time, "verify_nbf": verify_time},
    )


def redact(text: str) -> str:
    """Airflow's own secrets masker (the instance ``mask_secret`` registers with)."""
    from tests.airflow_version import AIRFLOW_V_3

    if AIRFLOW_V_3:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    else:
        from airflow.utils.log.secrets_masker import _secrets_masker
    return str(_secrets_masker().redact(text))
