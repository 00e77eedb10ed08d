"""The ``baas`` connection's parsed settings, validated once per hook.

Nothing here imports requests, aiohttp or jwt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from airflow_provider_baas.connection_form import (
    API_ROOT,
    AUTH_MODES,
    AUTH_PAT,
    AUTH_TOKEN,
    CONN_TYPE,
    DEFAULT_AUDIENCE,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_ORG_CLAIM,
    DEFAULT_PAGE_SIZE,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TOKEN_LIFETIME,
)
from airflow_provider_baas.errors import BaasConfigurationError

# Extra keys whose name differs from the config attribute, for error messages.
_EXTRA_NAMES = {"pat": "personal_access_token (or pat)"}

# ----------------------------------------------------------------------------------------------
# Parsed settings


@dataclass(frozen=True)
class BaasConnectionConfig:
    """Everything the hook needs from a ``baas`` connection, validated once."""

    base_url: str
    site_id: str | None
    auth_mode: str
    token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    key_id: str | None = None
    subject: str | None = None
    org_claim_name: str = DEFAULT_ORG_CLAIM
    org_claim_value: str | None = None
    issuer: str = "airflow-provider-baas"
    audience: tuple[str, ...] = (DEFAULT_AUDIENCE,)
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    verify: bool | str = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    proxies: dict[str, str] = field(default_factory=dict)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    page_size: int = DEFAULT_PAGE_SIZE

    def identity(self) -> tuple[Any, ...]:
        """Every setting, hashable: equal for two reads of an unchanged connection."""
        return tuple(
            tuple(sorted(value.items())) if isinstance(value, dict) else value
            for value in (getattr(self, f.name) for f in fields(self))
        )

    @property
    def secrets(self) -> list[str]:
        """Every secret value this connection holds, for masking and redaction."""
        values = [self.token, self.pat, self.private_key, *self.headers.values()]
        return [v for v in values if v]

    @classmethod
    def from_connection(cls, conn: Any) -> BaasConnectionConfig:
        extra = _extra_dict(conn)
        opt = _ExtraReader(extra, conn_id=getattr(conn, "conn_id", None) or "?")
        auth_mode = (opt.text("auth_mode") or AUTH_TOKEN).lower()
        connect_timeout, read_timeout = _timeouts(opt)
        if auth_mode not in AUTH_MODES:
            raise opt.error(f"auth_mode must be one of {', '.join(AUTH_MODES)}, got {auth_mode!r}")
        config = cls(
            base_url=base_url_from(
                conn.host, getattr(conn, "port", None), getattr(conn, "schema", None), opt.conn_id
            ),
            site_id=opt.text("site_id"),
            auth_mode=auth_mode,
            token=conn.password or None,
            # The form's name (Airflow redacts it by name); "pat" is the older spelling.
            pat=opt.text("personal_access_token") or opt.text("pat"),
            private_key=_private_key(opt),
            key_id=opt.text("key_id"),
            subject=opt.text("subject") or (conn.login or None),
            org_claim_name=opt.text("org_claim_name") or DEFAULT_ORG_CLAIM,
            org_claim_value=opt.text("org_claim_value"),
            issuer=opt.text("issuer") or "airflow-provider-baas",
            audience=_audience(extra.get("audience")),
            token_lifetime=opt.number("token_lifetime", DEFAULT_TOKEN_LIFETIME, int, minimum=60),
            headers=opt.mapping("headers"),
            verify=_verify(opt),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            proxies=opt.mapping("proxies"),
            max_attempts=opt.number("max_attempts", DEFAULT_MAX_ATTEMPTS, int, minimum=1),
            max_retry_wait=opt.number("max_retry_wait", DEFAULT_MAX_RETRY_WAIT, float, minimum=0),
            page_size=opt.number("page_size", DEFAULT_PAGE_SIZE, int, minimum=1),
        )
        config.check_auth(opt)
        return config

    def check_auth(self, opt: _ExtraReader) -> None:
        if self.auth_mode == AUTH_TOKEN and not self.token and not self.headers:
            raise opt.error("auth_mode=token needs the API token in the Password field (or static 'headers')")
        if self.auth_mode == AUTH_PAT:
            missing = [
                _EXTRA_NAMES.get(n, n)
                for n in ("pat", "private_key", "key_id", "subject", "org_claim_value")
                if not getattr(self, n)
            ]
            if missing:
                raise opt.error(f"auth_mode=pat needs {', '.join(missing)} in the connection's extra")


def _timeouts(opt: _ExtraReader) -> tuple[float, float]:
    """``connect_timeout``/``read_timeout``, or requests' own ``"timeout": 30`` / ``[10, 30]`` forms."""
    value = opt.extra.get("timeout")
    if value is None:
        return (
            opt.number("connect_timeout", DEFAULT_CONNECT_TIMEOUT, float, minimum=0.1),
            opt.number("read_timeout", DEFAULT_READ_TIMEOUT, float, minimum=0.1),
        )
    pair = value if isinstance(value, list | tuple) else [value, value]
    try:
        connect, read = float(pair[0]), float(pair[1])
    except (TypeError, ValueError, IndexError):
        raise opt.error(f"timeout must be seconds or [connect, read], got {value!r}") from None
    if connect <= 0 or read <= 0:
        raise opt.error(f"timeout must be positive, got {value!r}")
    return connect, read


def base_url_from(host: str | None, port: int | None, schema: str | None, conn_id: str) -> str:
    """``https://<api-path>/data-protection/v2`` from the connection's host (a path prefix is kept)."""
    text = (host or "").strip()
    if not text:
        raise BaasConfigurationError(
            f"Connection {conn_id!r} has no host: set it to the BaaS API base, e.g. https://<api-path>"
        )
    if "://" not in text:
        text = f"https://{text}"
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in ("http", "https"):
        raise BaasConfigurationError(
            f"Connection {conn_id!r}: host scheme must be https or http, got {scheme!r}"
        )
    netloc, _, path = rest.partition("/")
    if not netloc or any(c.isspace() for c in netloc):
        raise BaasConfigurationError(f"Connection {conn_id!r}: host {host!r} is not a valid URL")
    if port and ":" not in netloc.rsplit("]", 1)[-1]:
        netloc = f"{netloc}:{port}"
    prefix = "/" + path.strip("/") if path.strip("/") else ""
    if schema and schema.strip("/") and not prefix:
        prefix = "/" + schema.strip("/")
    if not prefix.endswith(API_ROOT):
        prefix += API_ROOT
    return f"{scheme.lower()}://{netloc}{prefix}"


def _extra_dict(conn: Any) -> dict[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    # Airflow 2's form may store fields as extra__baas__<name>: accept both spellings.
    prefix = f"extra__{CONN_TYPE}__"
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in extra.items()}


@dataclass
class _ExtraReader:
    extra: dict[str, Any]
    conn_id: str

    def error(self, message: str) -> BaasConfigurationError:
        return BaasConfigurationError(f"Connection {self.conn_id!r}: {message}")

    def text(self, name: str) -> str | None:
        value = self.extra.get(name)
        if value is None:
            return None
        return str(value).strip() or None

    def number(self, name: str, default: Any, kind: type, minimum: float) -> Any:
        value = self.extra.get(name)
        if value is None or value == "":
            return default
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise self.error(f"{name} must be a number, got {value!r}") from None
        if number < minimum:
            raise self.error(f"{name} must be at least {minimum}, got {value!r}")
        return number

    def mapping(self, name: str) -> dict[str, str]:
        value = self.extra.get(name) or {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise self.error(f"{name} must be a JSON object") from None
        if not isinstance(value, dict):
            raise self.error(f"{name} must be a JSON object, got {type(value).__name__}")
        return {str(k): str(v) for k, v in value.items()}


def _verify(opt: _ExtraReader) -> bool | str:
    value = opt.extra.get("verify", True)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on", ""):
            value = True
        elif lowered in ("false", "0", "no", "off"):
            value = False
        # any other string is a CA bundle path (requests' convention)
    if value is True and (bundle := opt.text("ca_bundle")):
        return bundle
    return value if isinstance(value, bool | str) else bool(value)


def _private_key(opt: _ExtraReader) -> str | None:
    if key := opt.text("private_key"):
        return normalise_pem(key.replace("\\n", "\n"))
    if path := opt.text("private_key_path"):
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read()
        except OSError as exc:
            raise opt.error(f"cannot read private_key_path {path!r}: {exc.strerror}") from None
    return None


_PEM_ONE_LINE = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----$", re.S)


def normalise_pem(text: str) -> str:
    """A PEM key that lost its line breaks (pasted into a one-line field) with them restored.

    Browsers turn the newlines of a key pasted into an ``<input>`` (Airflow's masked fields) into
    spaces or drop them. A key that already has line breaks is returned unchanged.
    """
    stripped = text.strip()
    if "\n" in stripped:
        return text
    match = _PEM_ONE_LINE.match(stripped)
    if not match:
        return text
    label, body = match.group(1), "".join(match.group(2).split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def _audience(value: Any) -> tuple[str, ...]:
    if not value:
        return (DEFAULT_AUDIENCE,)
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)
