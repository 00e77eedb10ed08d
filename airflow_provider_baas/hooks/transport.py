"""HTTP for the hook: request specs, the retry rules, error mapping, and the two transports.

A request is described once (``RequestSpec``) and sent by either transport: ``requests`` for
workers, ``aiohttp`` for the triggerer. Both transports report failures in the same three kinds,
so the retry rules and the at-most-once execute rule are written once, here and in the hook.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import os
import random
import ssl
import time
import urllib.request
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_provider_baas.errors import BaasApiError, BaasTransportError, api_error_for
from airflow_provider_baas.secrets import Sealed, SecretSet, url_credentials

if TYPE_CHECKING:
    import aiohttp
    import requests

    from airflow_provider_baas.connection import BaasConnectionConfig
    from airflow_provider_baas.hooks.auth import AuthHeaders

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
_RNG = random.Random()


@dataclass(frozen=True)
class RequestSpec:
    """One API call, independent of the transport that sends it."""

    method: str
    path: str  # below the API root, already URL-safe, e.g. "/sites/s1/jobs/34"
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    # False for the execute POST: never re-sent unless it certainly did not reach the server.
    idempotent: bool = True
    fresh_connection: bool = False
    # Headers of this request only (database credentials): sealed, so a repr never shows them.
    headers: Sealed[dict[str, str]] | None = None

    def all_headers(self, auth: AuthHeaders) -> dict[str, str]:
        """The headers to send; call it inline in the library call (no frame of ours keeps them)."""
        extra = self.headers.reveal() if self.headers is not None else {}
        return {"Accept": "application/json", **auth.reveal(), **extra}


@dataclass(frozen=True)
class Response:
    """One answer. Its headers and body may echo a credential back, and tracebacks that show frame
    locals (Airflow 3.0's task runner, error reporters) print reprs: only the status is shown."""

    status: int
    headers: Mapping[str, str] = field(repr=False)  # lower-case names
    text: str = field(repr=False)


class TransportFailure(Exception):
    """A request that failed below HTTP. The message is already redacted, and the library's
    exception is not chained (its frames hold the request's headers).

    :param message: what happened, e.g. ``ConnectTimeout: ...``, with secrets redacted.
    :param cause: the class name of the library's exception.
    """

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause or type(self).__name__


class NotSent(TransportFailure):
    """The request never reached the server (connection refused, connect timeout): safe to re-send."""


class MaybeSent(TransportFailure):
    """The request may have reached the server (read timeout, dropped connection): its effect is unknown."""


class Fatal(TransportFailure):
    """A transport failure that retrying will not fix (TLS verification, bad proxy URL)."""


def failure(kind: type[TransportFailure], exc: BaseException, secrets: SecretSet) -> TransportFailure:
    """``kind`` describing a library exception, redacted; raise it outside the ``except`` block."""
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return kind(secrets.redact(message), type(exc).__name__)


@dataclass(frozen=True)
class Sleep:
    """An instruction from a request plan to its driver: wait, then carry on."""

    seconds: float


def path_segment(value: str) -> str:
    """URL-encode one already-validated path segment."""
    return quote(value, safe="")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total wait."""

    max_attempts: int
    max_total_wait: float
    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    # One shared generator: a fresh random.Random() per request re-seeds from os.urandom each time.
    rng: random.Random = field(default_factory=lambda: _RNG)

    def wait_before_retry(
        self, attempt: int, waited: float, retry_after: float | None = None
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` when retries are spent."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            delay = retry_after
        else:
            delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        if waited + delay > self.max_total_wait:
            return None
        return delay


# Where servers put their own words, top-level first.
MESSAGE_KEYS = ("message", "detail", "error_description", "error", "title")


def error_message(response: Response, secrets: SecretSet) -> str:
    """The server's own words, redacted: ``message``/``detail``/... of a JSON body (also inside a
    top-level ``error`` object), else the whole body, redacted. A JSON body is redacted once decoded,
    so JSON escapes cannot hide a secret."""
    try:
        body = json.loads(response.text) if response.text else None
    except ValueError:
        return secrets.redact(response.text) if response.text else "(empty body)"
    for candidate in (body, body.get("error") if isinstance(body, dict) else None):
        if isinstance(candidate, dict):
            for key in MESSAGE_KEYS:
                if isinstance(candidate.get(key), str) and candidate[key]:
                    return secrets.redact(candidate[key])
    if body is None:
        return "(empty body)"
    return json.dumps(_redact_json(body, secrets), ensure_ascii=False)


def _redact_json(value: Any, secrets: SecretSet) -> Any:
    if isinstance(value, str):
        return secrets.redact(value)
    if isinstance(value, list):
        return [_redact_json(item, secrets) for item in value]
    if isinstance(value, dict):
        return {secrets.redact(str(k)): _redact_json(v, secrets) for k, v in value.items()}
    return value


def to_api_error(spec: RequestSpec, response: Response, secrets: SecretSet) -> BaasApiError:
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return api_error_for(
        response.status, spec.method, spec.path, error_message(response, secrets), retry_after
    )


def transport_error(spec: RequestSpec, exc: BaseException, secrets: SecretSet) -> BaasTransportError:
    reason = str(exc) if isinstance(exc, TransportFailure) else f"{type(exc).__name__}: {exc}"
    return BaasTransportError(spec.method, spec.path, secrets.redact(reason))


# ----------------------------------------------------------------------------------------------
# What both transports share: one rule for the proxy and one for the trusted CAs


CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def trusted_cas(verify: bool | str) -> bool | str:
    """What the workers (requests) and the triggerer (aiohttp) both trust for a connection.

    ``False``: no verification. A path: that CA bundle (file or directory). ``True``: the bundle
    named by ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE`` (first set), else
    certifi's bundle (what requests uses by default).
    """
    if verify is not True:
        return verify
    for name in CA_BUNDLE_VARIABLES:
        if path := os.environ.get(name, "").strip():
            return path
    import certifi

    return certifi.where()


def proxy_for(base_url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy both transports use for the API: the connection's (``proxies`` for the URL's scheme,
    else ``all``), else the environment's (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, honouring
    ``NO_PROXY``). ``~/.netrc`` is never read: the connection's credentials are the only ones sent."""
    scheme = base_url.split("://", 1)[0].lower()
    if chosen := proxies.get(scheme) or proxies.get("all"):
        return chosen
    environment = urllib.request.getproxies_environment()
    host = urlsplit(base_url).netloc
    if urllib.request.proxy_bypass_environment(host, environment):
        return None
    return environment.get(scheme) or environment.get("all")


def _sealed_proxy(config: BaasConnectionConfig) -> Sealed[str | None]:
    """The proxy for ``config``, sealed; credentials of an environment proxy become secrets too."""
    proxy = proxy_for(config.base_url, config.proxies)
    for part in url_credentials(proxy) if proxy else ():
        config.secrets.add(part)
    return Sealed(proxy, "proxy")


# ----------------------------------------------------------------------------------------------
# Sync transport (requests)


class SyncTransport:
    """Sends specs with one pooled ``requests.Session`` per hook.

    ``trust_env`` is off: requests would otherwise let ``HTTP(S)_PROXY`` override the connection's
    proxy and a ``~/.netrc`` entry replace the bearer token. ``proxy_for`` and ``trusted_cas`` apply
    the environment instead, exactly as the async transport does.
    """

    def __init__(self, config: BaasConnectionConfig) -> None:
        self._config = config
        self._session: requests.Session | None = None
        self._proxy = _sealed_proxy(config)
        self._verify = trusted_cas(config.verify)
        self._scheme = config.base_url.split("://", 1)[0]

    def _new_session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.trust_env = False
        return session

    def send(self, spec: RequestSpec, headers: AuthHeaders) -> Response:
        if spec.fresh_connection:
            with self._new_session() as session:
                return self._send_on(session, spec, headers)
        if self._session is None:
            self._session = self._new_session()
        return self._send_on(self._session, spec, headers)

    def _send_on(self, session: requests.Session, spec: RequestSpec, headers: AuthHeaders) -> Response:
        import requests

        try:
            r = session.request(
                spec.method,
                self._config.base_url + spec.path,
                params=spec.params,
                json=spec.json_body,
                headers=spec.all_headers(headers),
                proxies={self._scheme: self._proxy.reveal()} if self._proxy.reveal() else {},
                timeout=(self._config.connect_timeout, self._config.read_timeout),
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            problem = failure(_sync_failure_kind(exc), exc, self._config.secrets)
        else:
            return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text)
        raise problem

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _sync_failure_kind(exc: BaseException) -> type[TransportFailure]:
    import requests

    errors = requests.exceptions
    if isinstance(exc, errors.SSLError | errors.InvalidURL | errors.InvalidHeader | errors.InvalidProxyURL):
        return Fatal
    if isinstance(exc, errors.ConnectTimeout | errors.ProxyError):
        return NotSent
    if isinstance(exc, errors.ConnectionError) and _is_connect_failure(exc):
        return NotSent
    return MaybeSent


def _is_connect_failure(exc: BaseException) -> bool:
    """True when urllib3 failed to open the TCP connection (nothing was sent)."""
    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NewConnectionError | ConnectionRefusedError):
            return True
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return False


# ----------------------------------------------------------------------------------------------
# Async transport (aiohttp): one pooled session per (event loop, TLS settings), shared by every
# hook and trigger in the process. Auth headers, proxies and timeouts are per request, so the
# pooled session never holds a credential.

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


@functools.lru_cache(maxsize=16)
def _ssl_setting(cas: bool | str) -> bool | ssl.SSLContext:
    """One SSL context per CA bundle (loading a bundle costs milliseconds; the triggerer polls often).

    :param cas: what ``trusted_cas`` chose: ``False`` or a path.
    """
    if cas is False or cas is True:
        return cas
    if os.path.isdir(cas):
        return ssl.create_default_context(capath=cas)
    return ssl.create_default_context(cafile=cas)


def shared_session(cas: bool | str) -> aiohttp.ClientSession:
    """The process-wide session for the running loop and these trusted CAs (see ``trusted_cas``)."""
    import aiohttp

    cas = trusted_cas(cas)
    loop = asyncio.get_running_loop()
    per_loop = _sessions.setdefault(loop, {})
    session = per_loop.get(cas)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(ssl=_ssl_setting(cas), limit=100, keepalive_timeout=30)
        # trust_env=False: the environment's proxy is applied by proxy_for (one rule for both
        # transports), and ~/.netrc must not add credentials of its own.
        session = aiohttp.ClientSession(connector=connector, trust_env=False, raise_for_status=False)
        per_loop[cas] = session
    return session


_leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


class shared_session_lease:
    """Held by each running trigger: the loop's pooled sessions close when the last lease ends.

    In the triggerer the loop lives long and leases overlap, so sessions stay open and are shared;
    ``dag.test()`` runs each trigger on a loop of its own, which then closes without leaking.
    A plain class rather than an async generator: thousands of waiting triggers each hold one.
    """

    __slots__ = ("_loop",)

    async def __aenter__(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        _leases[loop] = _leases.get(loop, 0) + 1

    async def __aexit__(self, *exc_info: object) -> None:
        loop = self._loop
        _leases[loop] -= 1
        if _leases[loop] == 0:
            await close_shared_sessions()


async def close_shared_sessions() -> None:
    """Close the running loop's pooled sessions (tests, benchmarks, clean shutdown)."""
    per_loop = _sessions.pop(asyncio.get_running_loop(), {})
    for session in per_loop.values():
        await session.close()


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    """One immutable timeout object per setting, shared by every transport."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


class AsyncTransport:
    """Sends specs over the shared aiohttp session of the running event loop.

    Everything that does not change between requests (timeouts, proxy, trusted CAs) is built once:
    the triggerer polls thousands of executions through this path.
    """

    def __init__(self, config: BaasConnectionConfig) -> None:
        self._config = config
        self._proxy = _sealed_proxy(config)
        self._cas = trusted_cas(config.verify)
        self._timeout: aiohttp.ClientTimeout | None = None

    async def send(self, spec: RequestSpec, headers: AuthHeaders) -> Response:
        import aiohttp

        if self._timeout is None:
            self._timeout = _client_timeout(self._config.connect_timeout, self._config.read_timeout)
        try:
            if spec.fresh_connection:
                connector = aiohttp.TCPConnector(ssl=_ssl_setting(self._cas), force_close=True)
                async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
                    return await self._request(session, spec, headers)
            return await self._request(shared_session(self._cas), spec, headers)
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, aiohttp.InvalidURL) as exc:
            problem = failure(Fatal, exc, self._config.secrets)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            problem = failure(NotSent, exc, self._config.secrets)
        except (TimeoutError, aiohttp.ClientError) as exc:
            problem = failure(MaybeSent, exc, self._config.secrets)
        raise problem

    def _kwargs(self, spec: RequestSpec) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"timeout": self._timeout, "allow_redirects": False}
        if spec.params:
            kwargs["params"] = {k: str(v) for k, v in spec.params.items()}
        if spec.json_body is not None:
            kwargs["json"] = spec.json_body
        return kwargs

    async def _request(
        self, session: aiohttp.ClientSession, spec: RequestSpec, headers: AuthHeaders
    ) -> Response:
        async with session.request(
            spec.method,
            self._config.base_url + spec.path,
            headers=spec.all_headers(headers),
            proxy=self._proxy.reveal(),
            **self._kwargs(spec),
        ) as r:
            text = await r.text(errors="replace")
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, text)
