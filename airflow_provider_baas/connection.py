"""The ``baas`` connection's parsed settings, validated once per hook.

Nothing here imports requests, aiohttp or jwt.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

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
from airflow_provider_baas.console import console_url_problem
from airflow_provider_baas.errors import BaasConfigurationError
from airflow_provider_baas.secrets import (
    Sealed,
    SecretSet,
    credential_problem,
    looks_secret,
    proxy_credentials,
    secret_field,
)

log = logging.getLogger(__name__)

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
    token: str | None = secret_field(default=None)
    pat: str | None = secret_field(default=None)
    private_key: str | None = secret_field(default=None)
    key_id: str | None = None
    subject: str | None = None
    org_claim_name: str = DEFAULT_ORG_CLAIM
    org_claim_value: str | None = None
    issuer: str = "airflow-provider-baas"
    audience: tuple[str, ...] = (DEFAULT_AUDIENCE,)
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    # Plain headers are not secret (Airflow shows them); credentials go in secret_headers.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    secret_headers: dict[str, str] = secret_field(default_factory=dict)
    verify: bool | str = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    proxies: dict[str, str] = secret_field(default_factory=dict, extract=proxy_credentials)
    allow_insecure_http: bool = False
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    page_size: int = DEFAULT_PAGE_SIZE
    # The console page template of an execution (not secret); None: the operator shows no link.
    console_url: str | None = None
    # Every credential above and every JWT minted from them (see airflow_provider_baas.secrets).
    secrets: SecretSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", SecretSet.of(self))

    def identity(self) -> str:
        """A digest of every setting: equal for two reads of an unchanged connection, and safe to keep
        as a key (it holds no credential)."""
        settings = {f.name: getattr(self, f.name) for f in fields(self) if f.compare}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()

    @classmethod
    def from_connection(cls, conn: Any) -> BaasConnectionConfig:
        """The settings of an Airflow connection, checked: a bad value raises before any request.

        :param conn: an Airflow ``Connection`` (or any object with its attributes).
        :raises BaasConfigurationError: naming the connection and the setting that is wrong.
        """
        view = _ConnectionView.read(conn)
        del conn  # Airflow 3's Connection repr shows the password: no frame that may raise keeps it
        opt = _ExtraReader(view.extra, conn_id=view.conn_id)
        if view.extra_problem:
            raise opt.error(view.extra_problem)
        auth_mode = (opt.text("auth_mode") or AUTH_TOKEN).lower()
        connect_timeout, read_timeout = _timeouts(opt)
        if auth_mode not in AUTH_MODES:
            raise opt.error(f"auth_mode must be one of {', '.join(AUTH_MODES)}, got {auth_mode!r}")
        allow_insecure_http = opt.flag("allow_insecure_http", False)
        # Credentials are read inline, as arguments: a later refusal must find none in this frame.
        config = cls(
            base_url=base_url_from(view.host, view.port, view.schema, opt.conn_id, allow_insecure_http),
            site_id=opt.text("site_id"),
            auth_mode=auth_mode,
            token=_credential(opt, "the API token (Password field)", Sealed(view.password)),
            # The form's name (Airflow redacts it by name); "pat" is the older spelling.
            pat=_credential(
                opt,
                "personal_access_token",
                Sealed(opt.extra.get("personal_access_token") or opt.extra.get("pat")),
            ),
            private_key=_private_key(opt),
            key_id=opt.text("key_id"),
            subject=opt.text("subject") or view.login,
            org_claim_name=opt.text("org_claim_name") or DEFAULT_ORG_CLAIM,
            org_claim_value=opt.text("org_claim_value"),
            issuer=opt.text("issuer") or "airflow-provider-baas",
            audience=_audience(opt.extra.get("audience")),
            token_lifetime=opt.number("token_lifetime", DEFAULT_TOKEN_LIFETIME, int, minimum=60),
            headers=_plain_headers(opt),
            secret_headers=_secret_headers(opt),
            verify=_verify(opt),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            proxies=_proxies(opt),
            allow_insecure_http=allow_insecure_http,
            max_attempts=opt.number("max_attempts", DEFAULT_MAX_ATTEMPTS, int, minimum=1),
            max_retry_wait=opt.number("max_retry_wait", DEFAULT_MAX_RETRY_WAIT, float, minimum=0),
            page_size=opt.number("page_size", DEFAULT_PAGE_SIZE, int, minimum=1),
            console_url=_console_url(opt),
        )
        config.check_auth(opt)
        return config

    def check_auth(self, opt: _ExtraReader) -> None:
        """Refuse an auth mode whose credentials are missing.

        :param opt: the connection's extra reader (it words the error).
        :raises BaasConfigurationError: for token mode without a token or secret header, or PAT mode
            without its PAT, private key, key id, subject or organisation.
        """
        if self.auth_mode == AUTH_TOKEN and not self.token and not self.secret_headers:
            raise opt.error(
                "auth_mode=token needs the API token in the Password field (or a 'secret_headers' credential)"
            )
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


def base_url_from(
    host: str | None, port: int | None, schema: str | None, conn_id: str, allow_insecure_http: bool = False
) -> str:
    """``https://<api-path>/data-protection/v2`` from the connection's host (a path prefix is kept).

    :param host: the connection's host (with or without a scheme).
    :param port: the connection's port, used when the host has none.
    :param schema: the connection's schema field; not read: the scheme comes from the host, else
        https.
    :param conn_id: the connection's id, for error messages.
    :param allow_insecure_http: allow ``http://`` to a host that is not loopback.
    """
    text = (host or "").strip()
    if not text:
        raise BaasConfigurationError(
            f"Connection {conn_id!r} has no host: set it to the BaaS API base, e.g. https://<api-path>"
        )
    if "://" not in text:
        text = f"https://{text}"
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise BaasConfigurationError(
            f"Connection {conn_id!r}: host scheme must be https or http, got {scheme!r}"
        )
    netloc, _, path = rest.partition("/")
    if not netloc or any(c.isspace() for c in netloc):
        raise BaasConfigurationError(f"Connection {conn_id!r}: host {host!r} is not a valid URL")
    if _HOST_ESCAPES.search(rest):
        # A query or fragment would make the API path part of it, and user info would be shown with
        # the URL: the token would be sent wherever the rest of the host points.
        raise BaasConfigurationError(
            f"Connection {conn_id!r}: the host must not contain '?', '#', '@' or control characters"
        )
    if scheme == "http" and not allow_insecure_http and not is_loopback(netloc):
        raise BaasConfigurationError(
            f"Connection {conn_id!r}: an http:// host would send the credentials in clear text; use "
            'https://, or set "allow_insecure_http": true in the extra to accept that'
        )
    if port and ":" not in netloc.rsplit("]", 1)[-1]:
        netloc = f"{netloc}:{port}"
    prefix = "/" + path.strip("/") if path.strip("/") else ""
    if schema and schema.strip("/") and not prefix:
        prefix = "/" + schema.strip("/")
    if not prefix.endswith(API_ROOT):
        prefix += API_ROOT
    return f"{scheme}://{netloc}{prefix}"


_HOST_ESCAPES = re.compile(r"[?#@\x00-\x1f\x7f]")


def is_loopback(netloc: str) -> bool:
    """True for ``localhost`` and loopback addresses (with or without a port).

    :param netloc: a host, optionally with a port.
    """
    name = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") and netloc.count(":") == 1 else netloc
    name = name.split("]")[0].lstrip("[").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _ConnectionView:
    """What the config reads from an Airflow connection; ``repr`` shows no credential."""

    conn_id: str
    host: str | None
    port: int | None
    schema: str | None
    login: str | None
    password: str | None = field(repr=False)
    extra: dict[str, Any] = field(repr=False)
    extra_problem: str | None = None

    @classmethod
    def read(cls, conn: Any) -> _ConnectionView:
        """Never raises: the caller drops ``conn`` before anything can fail."""
        try:
            extra, problem = _extra_dict(conn), None
        except (TypeError, ValueError):
            extra, problem = {}, "the extra is not a JSON object"
        return cls(
            conn_id=getattr(conn, "conn_id", None) or "?",
            host=getattr(conn, "host", None),
            port=getattr(conn, "port", None),
            schema=getattr(conn, "schema", None),
            login=getattr(conn, "login", None) or None,
            password=getattr(conn, "password", None) or None,
            extra=extra,
            extra_problem=problem,
        )


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
    extra: dict[str, Any] = field(repr=False)
    conn_id: str = "?"

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

    def flag(self, name: str, default: bool) -> bool:
        value = self.extra.get(name)
        if value is None or value == "":
            return default
        flag = _flag(value)
        if flag is None:
            raise self.error(f"{name} must be true or false, got {value!r}")
        return flag

    def mapping(self, name: str) -> dict[str, str]:
        """A JSON object of strings (or a JSON text of one). Values are never quoted in errors."""
        problem = _mapping_problem(name, self.extra.get(name))
        if problem:
            raise self.error(problem)
        return _as_mapping(self.extra.get(name))


_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else None
    return None


def _as_mapping(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    return {str(k).strip(): str(v).strip() for k, v in (value or {}).items()}


def _mapping_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a JSON object of strings, without quoting it; never raises."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return f"{name} must be a JSON object"
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        return f"{name} must be a JSON object, got {type(value).__name__}"
    for key, item in value.items():
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            return f"{name}[{str(key)!r}] must be a string, got {type(item).__name__}"
    return None


def _headers_problem(extra: dict[str, Any]) -> str | None:
    """Why the ``headers`` / ``secret_headers`` extras cannot be sent, quoting no value; never raises."""
    for name in ("headers", "secret_headers"):
        problem = _mapping_problem(name, extra.get(name))
        if problem:
            return problem
        for key, value in _as_mapping(extra.get(name)).items():
            if not _HEADER_NAME.match(key):
                return f"{name}: {key!r} is not a valid header name"
            if name == "secret_headers" or looks_secret(key):
                problem = credential_problem(value)
            elif _CONTROL_CHARACTERS.search(value):
                problem = "contains a control character"
            if problem:
                return f"{name}[{key!r}] {problem}"
    return None


_WARNED_HEADERS: set[tuple[str, ...]] = set()
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _check_headers(opt: _ExtraReader) -> None:
    problem = _headers_problem(opt.extra)
    if problem:
        raise opt.error(problem)


def _plain_headers(opt: _ExtraReader) -> dict[str, str]:
    """``headers`` that are not credentials (Airflow's UI and API show them in clear)."""
    _check_headers(opt)
    plain = _as_mapping(opt.extra.get("headers"))
    moved = sorted(name for name in plain if looks_secret(name))
    if moved and (opt.conn_id, *moved) not in _WARNED_HEADERS:  # once per process, not per trigger
        _WARNED_HEADERS.add((opt.conn_id, *moved))
        log.warning(
            "Connection %r: header(s) %s look like credentials but are in 'headers', which Airflow's "
            "UI and API may show in clear: move them to 'secret_headers'",
            opt.conn_id,
            ", ".join(moved),
        )
    return {name: value for name, value in plain.items() if name not in moved}


def _secret_headers(opt: _ExtraReader) -> dict[str, str]:
    """``secret_headers`` (Airflow hides the extra by its name), and any plain header whose name
    names a credential (``x-api-key``, ``x-gateway-key``, ...): both are redacted like the token."""
    _check_headers(opt)
    plain = _as_mapping(opt.extra.get("headers"))
    moved = {name: value for name, value in plain.items() if looks_secret(name)}
    return {**moved, **_as_mapping(opt.extra.get("secret_headers"))}


def _credential(opt: _ExtraReader, what: str, value: Sealed[Any]) -> str | None:
    """A credential without surrounding whitespace (secrets backends and env files add newlines).

    :param value: sealed, so that the frame raising a refusal does not hold it.
    """
    if value.reveal() is None or not str(value.reveal()).strip():
        return None
    problem = credential_problem(str(value.reveal()))
    if problem:
        raise opt.error(f"{what} {problem}")
    return str(value.reveal()).strip()


def _proxies(opt: _ExtraReader) -> dict[str, str]:
    """``proxies``: scheme (or ``all``) to proxy URL. A bad URL is reported without its credentials."""
    problem = _mapping_problem("proxies", opt.extra.get("proxies")) or _proxies_problem(
        _as_mapping(opt.extra.get("proxies"))
    )
    if problem:
        raise opt.error(problem)
    return _as_mapping(opt.extra.get("proxies"))


def _proxies_problem(proxies: dict[str, str]) -> str | None:
    for scheme, url in proxies.items():
        problem = _proxy_url_problem(url)
        if problem:
            return f"proxies[{scheme!r}] {problem}"
    return None


def _proxy_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL (not shown: it may hold credentials)"
    if parts.scheme.lower() not in ("http", "https", "socks5", "socks5h", "socks4") or not parts.hostname:
        return "must be a URL like http://proxy:3128 (not shown: it may hold credentials)"
    return None


def _console_url(opt: _ExtraReader) -> str | None:
    template = opt.text("console_url")
    problem = console_url_problem(template) if template else None
    if problem:
        raise opt.error(problem)
    return template


def _verify(opt: _ExtraReader) -> bool | str:
    """``verify``: true (also null or absent), false, or a CA bundle path; anything else is refused."""
    value = opt.extra.get("verify")
    if value is None or (isinstance(value, str) and not value.strip()):
        value = True
    elif isinstance(value, str):
        # any other string is a CA bundle path (requests' convention)
        value = _flag(value) if value.strip().lower() in (*_TRUE_WORDS, *_FALSE_WORDS) else value.strip()
    elif not isinstance(value, bool):
        raise opt.error(f"verify must be true, false or a CA bundle path, got {value!r}")
    if value is True and (bundle := opt.text("ca_bundle")):
        return bundle
    return value


def _private_key(opt: _ExtraReader) -> str | None:
    if opt.text("private_key"):
        problem = credential_problem(opt.extra["private_key"], multiline=True)
        if problem:
            raise opt.error(f"private_key {problem}")
        return normalise_pem(str(opt.extra["private_key"]).strip().replace("\\n", "\n"))
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

    :param text: the key as stored.
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
