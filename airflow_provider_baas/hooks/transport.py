"""HTTP for the hook: request specs, the retry rules, error mapping, and the two transports.

A request is described once (``RequestSpec``) and sent by either transport: ``requests`` for
workers, ``aiohttp`` for the triggerer. Both transports report failures in the same three kinds,
so the retry rules and the at-most-once execute rule are written once, here and in the hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import logging
import random
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_baas.errors import BaasApiError, BaasTransportError, api_error_for

if TYPE_CHECKING:
    import aiohttp
    import requests

    from airflow_provider_baas.connection import BaasConnectionConfig

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


@dataclass(frozen=True)
class Response:
    """One answer. Its headers and body may echo a credential back, and tracebacks that show frame
    locals (Airflow 3.0's task runner, error reporters) print reprs: only the status is shown."""

    status: int
    headers: Mapping[str, str] = field(repr=False)  # lower-case names
    text: str = field(repr=False)


class NotSent(Exception):
    """The request never reached the server (connection refused, connect timeout): safe to re-send."""


class MaybeSent(Exception):
    """The request may have reached the server (read timeout, dropped connection): its effect is unknown."""


class Fatal(Exception):
    """A transport failure that retrying will not fix (TLS verification, bad proxy URL)."""


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


def error_message(response: Response) -> str:
    """The server's own words: ``message``/``error``/``detail`` of a JSON body, else the raw text."""
    try:
        body = json.loads(response.text) if response.text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error_description", "error", "title"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    return response.text or "(empty body)"


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def to_api_error(spec: RequestSpec, response: Response, secrets: list[str]) -> BaasApiError:
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    message = redact(error_message(response), secrets)
    return api_error_for(response.status, spec.method, spec.path, message, retry_after)


def transport_error(spec: RequestSpec, exc: BaseException, secrets: list[str]) -> BaasTransportError:
    cause = exc.__cause__ or exc
    reason = redact(f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__, secrets)
    return BaasTransportError(spec.method, spec.path, reason)


# ----------------------------------------------------------------------------------------------
# Sync transport (requests)


class SyncTransport:
    """Sends specs with one pooled ``requests.Session`` per hook."""

    def __init__(self, config: BaasConnectionConfig) -> None:
        self._config = config
        self._session: requests.Session | None = None

    def _new_session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.verify = self._config.verify
        session.trust_env = True
        if self._config.proxies:
            session.proxies.update(self._config.proxies)
        return session

    def send(self, spec: RequestSpec, headers: dict[str, str]) -> Response:

        if spec.fresh_connection:
            with self._new_session() as session:
                return self._send_on(session, spec, headers)
        if self._session is None:
            self._session = self._new_session()
        return self._send_on(self._session, spec, headers)

    def _send_on(self, session: requests.Session, spec: RequestSpec, headers: dict[str, str]) -> Response:
        import requests

        try:
            r = session.request(
                spec.method,
                self._config.base_url + spec.path,
                params=spec.params,
                json=spec.json_body,
                headers={"Accept": "application/json", **headers},
                timeout=(self._config.connect_timeout, self._config.read_timeout),
                # Per request: with trust_env, requests would otherwise let $REQUESTS_CA_BUNDLE /
                # $CURL_CA_BUNDLE override the connection's own verify=false or ca_bundle.
                verify=self._config.verify,
                allow_redirects=False,
            )
        except (
            requests.exceptions.SSLError,
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidHeader,
            requests.exceptions.InvalidProxyURL,
        ) as exc:
            raise Fatal(str(exc)) from exc
        except (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError) as exc:
            raise NotSent(str(exc)) from exc
        except requests.exceptions.ConnectionError as exc:
            if _is_connect_failure(exc):
                raise NotSent(str(exc)) from exc
            raise MaybeSent(str(exc)) from exc
        except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise MaybeSent(str(exc)) from exc
        return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


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


def _ssl_setting(verify: bool | str) -> bool | ssl.SSLContext:
    if verify is True:
        return True
    if verify is False:
        return False
    return ssl.create_default_context(cafile=verify)


def shared_session(verify: bool | str) -> aiohttp.ClientSession:
    """The process-wide session for the running loop and these TLS settings."""
    import aiohttp

    loop = asyncio.get_running_loop()
    per_loop = _sessions.setdefault(loop, {})
    session = per_loop.get(verify)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(ssl=_ssl_setting(verify), limit=100, keepalive_timeout=30)
        # trust_env=False: with it, aiohttp reads the proxy variables and ~/.netrc in a worker thread
        # on *every* request (two thread hops per poll). AsyncTransport reads them once instead.
        session = aiohttp.ClientSession(connector=connector, trust_env=False, raise_for_status=False)
        per_loop[verify] = session
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


@dataclass(frozen=True)
class _RequestEnv:
    """What ``trust_env=True`` would add to each request, read once per transport."""

    proxy: str | None
    proxy_headers: Mapping[str, str] | None
    netrc_auth: Any  # aiohttp.BasicAuth | None, for requests without an Authorization header


def _read_request_env(base_url: str, explicit_proxy: str | None) -> _RequestEnv:
    """The environment's proxy (``*_PROXY`` / ``NO_PROXY``) and ~/.netrc entry, as aiohttp reads them.

    Blocking (reads files): call it in a worker thread.
    """
    from aiohttp.helpers import basicauth_from_netrc, get_env_proxy_for_url, netrc_from_env
    from yarl import URL

    url = URL(base_url)
    proxy, proxy_headers = explicit_proxy, None
    if proxy is None:
        with contextlib.suppress(LookupError):
            env_proxy, proxy_auth = get_env_proxy_for_url(url)
            proxy = str(env_proxy)
            if proxy_auth is not None:
                proxy_headers = {"Proxy-Authorization": proxy_auth.encode()}
    netrc_auth = None
    if url.host is not None:
        netrc_obj = netrc_from_env()
        if netrc_obj is not None:
            with contextlib.suppress(LookupError):
                netrc_auth = basicauth_from_netrc(netrc_obj, url.host)
    return _RequestEnv(proxy, proxy_headers, netrc_auth)


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    """One immutable timeout object per setting, shared by every transport."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


class AsyncTransport:
    """Sends specs over the shared aiohttp session of the running event loop.

    Everything that does not change between requests (timeouts, proxy, netrc) is built once: the
    triggerer polls thousands of executions through this path.
    """

    def __init__(self, config: BaasConnectionConfig) -> None:
        self._config = config
        self._env: _RequestEnv | None = None
        self._timeout: aiohttp.ClientTimeout | None = None

    def _proxy(self) -> str | None:
        scheme = self._config.base_url.split("://", 1)[0]
        return self._config.proxies.get(scheme) or self._config.proxies.get("all")

    async def _request_env(self) -> _RequestEnv:
        if self._env is None:
            self._env = await asyncio.to_thread(_read_request_env, self._config.base_url, self._proxy())
        return self._env

    async def send(self, spec: RequestSpec, headers: dict[str, str]) -> Response:
        import aiohttp

        if self._timeout is None:
            self._timeout = _client_timeout(self._config.connect_timeout, self._config.read_timeout)
        url = self._config.base_url + spec.path
        try:
            if spec.fresh_connection:
                kwargs = self._kwargs(spec, headers, None)
                connector = aiohttp.TCPConnector(ssl=_ssl_setting(self._config.verify), force_close=True)
                async with aiohttp.ClientSession(connector=connector, trust_env=True) as session:
                    return await _request(session, spec.method, url, kwargs)
            kwargs = self._kwargs(spec, headers, await self._request_env())
            return await _request(shared_session(self._config.verify), spec.method, url, kwargs)
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, aiohttp.InvalidURL) as exc:
            raise Fatal(str(exc)) from exc
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MaybeSent(f"{type(exc).__name__}: {exc}") from exc

    def _kwargs(self, spec: RequestSpec, headers: dict[str, str], env: _RequestEnv | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "headers": {"Accept": "application/json", **headers},
            "timeout": self._timeout,
            "allow_redirects": False,
        }
        if spec.params:
            kwargs["params"] = {k: str(v) for k, v in spec.params.items()}
        if spec.json_body is not None:
            kwargs["json"] = spec.json_body
        if env is None:  # a session of its own with trust_env=True: aiohttp applies the environment
            kwargs["proxy"] = self._proxy()
            return kwargs
        kwargs["proxy"] = env.proxy
        if env.proxy_headers:
            kwargs["proxy_headers"] = env.proxy_headers
        if env.netrc_auth is not None and not any(k.lower() == "authorization" for k in headers):
            kwargs["auth"] = env.netrc_auth
        return kwargs


async def _request(session: aiohttp.ClientSession, method: str, url: str, kwargs: dict[str, Any]) -> Response:
    async with session.request(method, url, **kwargs) as r:
        text = await r.text(errors="replace")
        return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, text)
