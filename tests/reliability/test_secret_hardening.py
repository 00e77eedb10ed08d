"""Issue 18: secrets and TLS hardening, one test (or family) per finding of the security review.

Leaks are checked by scanning what a user or an error reporter sees: exception text (``str``,
``repr``, the formatted chain) and, for item 1, the frame locals of the raised exception as
``traceback.TracebackException(..., capture_locals=True)`` renders them (what Sentry and Airflow
3.0's console renderer record). The simulator and small scripted servers answer over real HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import traceback
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_baas.errors import (
    BaasConfigurationError,
    BaasError,
    BaasExecuteOutcomeUnknown,
    BaasTransportError,
)
from airflow_provider_baas.hooks import transport as transport_module
from airflow_provider_baas.hooks.baas import BaasHook
from tests.airflow_version import AIRFLOW_V_3

from ._support import (
    JOB,
    StaticServer,
    find_leaks,
    json_answer,
    leak_needles,
)
from .conftest import PAT

pytestmark = pytest.mark.usefixtures("close_sessions", "quick_backoff")

# A token with the characters that escaping changes ('/', '+', '=').
TOKEN = "tok/HARDENING+9f3c1e5a7b=="
GATEWAY_KEY = "gw-HARDENING-4e8d2a6c0b"
PROXY_PASSWORD = "proxy-HARDENING-1a2b3c"


def everything_shown(exc: BaseException) -> str:
    """What an error reporter can show of an exception: its text, repr, and the formatted chain
    with every frame's locals."""
    te = traceback.TracebackException.from_exception(exc, capture_locals=True)
    return "\n".join([str(exc), repr(exc), "".join(te.format())])


def assert_no_leak(seen: dict[str, str], secrets: list[str], jwts: list[str] = ()) -> None:  # type: ignore[assignment]
    needles = leak_needles(secrets, jwts)
    assert find_leaks(seen, needles) == []


async def call(hook: BaasHook, how: str, method: str = "get_job") -> Any:
    if how == "async":
        return await getattr(hook, f"a{method}")(JOB)
    return getattr(hook, method)(JOB)


def raised(how: str, hook: BaasHook, method: str = "get_job") -> Any:
    """A coroutine that returns the exception ``method`` raises."""

    async def run() -> BaseException:
        with pytest.raises(BaseException) as info:
            await call(hook, how, method)
        return info.value

    return run()


# ---------------------------------------------------------------------------------------------
# Item 1: no secret in the locals of a frame that raises


def echo_answer(server: Any, status: int) -> Any:
    def answer(method: str, path: str, query: dict[str, str]) -> Any:
        sent = server.headers[-1]
        return json_answer(
            {"message": f"rejected {sent.get('Authorization')} {sent.get('x-gateway-key')}"}, status
        )

    return answer


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("status", [401, 403, 400, 503])
async def test_frame_locals_of_an_api_error_hold_no_secret(
    make_sim: Any, pat_extra: dict[str, Any], mints: list[str], how: str, status: int
) -> None:
    server = StaticServer(lambda m, p, q: (500, {}, b""))
    server.answer = echo_answer(server, status)
    with server:
        extra = {**pat_extra, "secret_headers": {"x-gateway-key": GATEWAY_KEY}}
        make_sim(conn_changes={"host": server.url}, conn_extra=extra)
        exc = await raised(how, BaasHook())
    assert isinstance(exc, BaasError) and "rejected Bearer *** ***" in str(exc)
    assert mints
    assert_no_leak({"shown": everything_shown(exc)}, [PAT, pat_extra["private_key"], GATEWAY_KEY], mints)


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_frame_locals_of_a_failed_jwt_signature_hold_no_pat_or_key(
    make_sim: Any, pat_extra: dict[str, Any], how: str
) -> None:
    """The key parses as PEM but is no RSA key: signing fails inside ``_mint``."""
    bad_key = (
        "-----BEGIN PRIVATE KEY-----\n"
        + base64.b64encode(b"K" * 120).decode()
        + "\n-----END PRIVATE KEY-----\n"
    )
    make_sim(conn_extra={**pat_extra, "private_key": bad_key})
    exc = await raised(how, BaasHook())
    assert isinstance(exc, BaasConfigurationError) and "Cannot sign a JWT" in str(exc)
    assert_no_leak({"shown": everything_shown(exc)}, [PAT, bad_key.splitlines()[1]])


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_frame_locals_of_a_transport_error_hold_no_secret(
    make_sim: Any, unused_port: int, how: str
) -> None:
    make_sim(
        token=TOKEN,
        conn_changes={"host": f"http://127.0.0.1:{unused_port}"},
        conn_extra={"secret_headers": {"x-gateway-key": GATEWAY_KEY}, "max_attempts": 1},
    )
    exc = await raised(how, BaasHook())
    assert isinstance(exc, BaasTransportError)
    assert_no_leak({"shown": everything_shown(exc)}, [TOKEN, GATEWAY_KEY])


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize(
    ("changes", "extra", "reason"),
    [
        ({}, {"timeout": "soon"}, "timeout"),  # refused before the credentials are read
        ({"host": "ftp://127.0.0.1"}, {}, "scheme"),  # refused after
        ({}, {"page_size": 0}, "page_size"),
        ({}, {"auth_mode": "pat"}, "auth_mode=pat needs"),  # refused once the config is built
    ],
)
async def test_frame_locals_of_a_connection_error_hold_no_secret(
    make_sim: Any, how: str, changes: dict[str, Any], extra: dict[str, Any], reason: str
) -> None:
    """Airflow 3's ``Connection`` repr shows the password and the extra."""
    make_sim(
        token=TOKEN,
        conn_changes=changes,
        conn_extra={**extra, "secret_headers": {"x-gateway-key": GATEWAY_KEY}, "personal_access_token": PAT},
    )
    exc = await raised(how, BaasHook())
    assert isinstance(exc, BaasConfigurationError) and reason in str(exc)
    assert_no_leak({"shown": everything_shown(exc)}, [TOKEN, GATEWAY_KEY, PAT])


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Item 2: a credential with a trailing newline (secrets backends, env files)


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_a_token_and_a_header_with_a_trailing_newline_are_stripped(make_sim: Any, how: str) -> None:
    sim = make_sim(
        token=TOKEN,
        required_headers={"x-gateway-key": GATEWAY_KEY},
        conn_changes={"password": TOKEN + "\n"},
        conn_extra={"secret_headers": {"x-gateway-key": GATEWAY_KEY + "\r\n"}},
    )
    hook = BaasHook()
    assert (await call(hook, how)).job_id == str(JOB)
    assert hook.test_connection()[0] is True
    assert [r.status for r in sim.requests] == [200, 200]


@pytest.mark.parametrize(
    ("changes", "extra", "field"),
    [
        ({"password": "tok-with\ncontrol-char"}, {}, "API token"),
        ({}, {"secret_headers": {"x-gateway-key": "gw-with\x01control"}}, "x-gateway-key"),
        ({}, {"headers": {"x-api-key": "key-with\x7fcontrol"}}, "x-api-key"),
        ({}, {"headers": {"x-team": "dwh-team-7\nx"}}, "x-team"),
    ],
)
async def test_a_credential_with_a_control_character_is_refused_without_quoting_it(
    make_sim: Any, caplog: Any, changes: dict[str, Any], extra: dict[str, Any], field: str
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(conn_changes=changes, conn_extra=extra)
    hook = BaasHook()
    ok, message = hook.test_connection()
    assert not ok and field in message and "control character" in message
    exc = await raised("sync", hook)  # a helper frame: this test's own locals hold the value
    assert isinstance(exc, BaasConfigurationError)
    value = changes.get("password") or next(iter(next(iter(extra.values())).values()))
    part = re.split(r"[\x00-\x1f\x7f]", value)[0]
    assert_no_leak({"shown": everything_shown(exc), "test": message, "log": caplog.text}, [part])
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------
# Item 3: secret headers have a field that Airflow redacts by name; plain headers are not secret


def airflow_redact(value: Any) -> Any:

    if AIRFLOW_V_3:
        from airflow.sdk._shared.secrets_masker import redact
    else:
        from airflow.utils.log.secrets_masker import redact
    return redact(value)


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_secret_headers_are_sent_redacted_and_hidden_by_airflow(make_sim: Any, how: str) -> None:
    extra = {"secret_headers": {"Ocp-Apim-Subscription-Key": GATEWAY_KEY}, "headers": {"x-team": "dwh"}}
    sim = make_sim(required_headers={"Ocp-Apim-Subscription-Key": GATEWAY_KEY}, conn_extra=extra)
    hook = BaasHook()
    assert (await call(hook, how)).job_id == str(JOB)
    assert len(sim.requests) == 1
    # Airflow's connection API and UI hide an extra by its name: all of secret_headers, not headers.
    shown = json.dumps(airflow_redact(extra))
    assert GATEWAY_KEY not in shown and "dwh" in shown
    assert GATEWAY_KEY not in hook.config.secrets.redact(f"key {GATEWAY_KEY}")


def test_a_credential_header_in_plain_headers_is_redacted_and_a_warning_says_where_it_belongs(
    make_sim: Any, caplog: Any
) -> None:
    make_sim(conn_id="baas_warned", conn_extra={"headers": {"x-gateway-key": GATEWAY_KEY}})
    hook = BaasHook("baas_warned")  # the warning comes once per connection and process
    assert hook.config.secrets.redact(GATEWAY_KEY) == "***"
    assert "x-gateway-key" in caplog.text and "secret_headers" in caplog.text
    assert GATEWAY_KEY not in caplog.text


@pytest.mark.parametrize("value", ["d", "de", "site"])
def test_a_short_plain_header_value_does_not_mangle_messages(make_sim: Any, value: str) -> None:
    make_sim(conn_extra={"headers": {"x-team": value}})
    with pytest.raises(BaasError) as info:
        BaasHook().get_job(999)
    assert "job 999 not found in site demo-site" in str(info.value)
    assert "***" not in str(info.value)


def test_a_credential_too_short_to_redact_is_refused(make_sim: Any) -> None:
    make_sim(conn_extra={"secret_headers": {"x-gateway-key": "k1"}})
    with pytest.raises(BaasConfigurationError, match=r"x-gateway-key.*shorter than 8 characters"):
        BaasHook().get_job(JOB)


# ---------------------------------------------------------------------------------------------
# Item 4: echoed credentials in escaped or encoded forms


ECHOES = {
    "json-escaped-slash-no-message": lambda s: (
        "application/json",
        json.dumps({"errors": [{"reason": "bad credential TOKEN"}]}).replace(
            "TOKEN", json.dumps(s).replace("/", "\\/")[1:-1]
        ),
    ),
    "url-encoded": lambda s: ("text/html", f"<a href='/login?token={quote(s, safe='')}'>login</a>"),
    "url-encoded-lower-hex": lambda s: ("text/plain", "t=" + quote(s, safe="").replace("%2F", "%2f")),
    "repr-escaped": lambda s: ("text/plain", f"header was {s.encode()!r} ({s + chr(10)!r})"),
    "base64-of-the-header": lambda s: ("text/plain", base64.b64encode(f"Bearer {s}".encode()).decode()),
    "nested-error-object": lambda s: ("application/json", json.dumps({"error": {"message": f"no {s}"}})),
}


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("form", sorted(ECHOES))
async def test_every_echoed_form_of_a_credential_is_redacted(
    make_sim: Any, caplog: Any, how: str, form: str
) -> None:
    caplog.set_level(logging.DEBUG)
    content_type, body = ECHOES[form](TOKEN)
    with StaticServer(lambda m, p, q: (400, {"Content-Type": content_type}, body.encode())) as server:
        make_sim(token=TOKEN, conn_changes={"host": server.url})
        hook = BaasHook()
        exc = await raised(how, hook)
        ok, message = hook.test_connection()
    assert isinstance(exc, BaasError) and "HTTP 400" in str(exc) and not ok
    escaped = {
        json.dumps(TOKEN).replace("/", "\\/")[1:-1],
        quote(TOKEN, safe=""),
        quote(TOKEN, safe="").lower(),
        repr(TOKEN.encode())[2:-1],
        base64.b64encode(f"Bearer {TOKEN}".encode()).decode()[12:-4],
    }
    seen = {"shown": everything_shown(exc), "test_connection": message, "log": caplog.text}
    assert [f for f in escaped if any(f in text for text in seen.values())] == []
    assert_no_leak(seen, [TOKEN])


def test_a_json_body_without_a_message_is_shown_decoded_not_raw(make_sim: Any) -> None:
    """JSON may escape '/' as '\\/': only the decoded body shows the token as it is registered."""
    body = json.dumps({"errors": [{"code": "E1", "reason": f"token {TOKEN} revoked"}]}).replace("/", "\\/")
    with StaticServer(lambda m, p, q: (400, {"Content-Type": "application/json"}, body.encode())) as server:
        make_sim(token=TOKEN, conn_changes={"host": server.url})
        with pytest.raises(BaasError) as info:
            BaasHook().get_job(JOB)
    assert '"code": "E1"' in str(info.value) and "token *** revoked" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Item 5: proxy credentials


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize(
    "proxy",
    [
        f"http://alice:{PROXY_PASSWORD}@proxy.corp:31x28",  # malformed port
        f"http//alice:{PROXY_PASSWORD}@proxy.corp:3128",  # no scheme
        f"http://alice:{PROXY_PASSWORD}@127.0.0.1:9",  # well formed, nothing listens
    ],
)
async def test_proxy_credentials_are_never_shown(make_sim: Any, caplog: Any, how: str, proxy: str) -> None:
    caplog.set_level(logging.DEBUG)
    make_sim(token=TOKEN, conn_extra={"proxies": {"http": proxy}, "max_attempts": 1})
    hook = BaasHook()
    exc = await raised(how, hook)
    ok, message = hook.test_connection()
    assert isinstance(exc, BaasError) and not ok
    seen = {"text": f"{exc}\n{exc!r}", "test_connection": message, "log": caplog.text}
    assert_no_leak(seen, [PROXY_PASSWORD, TOKEN])
    assert_no_leak({"frame locals": everything_shown(exc)}, [PROXY_PASSWORD, TOKEN])


def test_proxy_credentials_are_registered_with_airflows_masker(make_sim: Any) -> None:
    make_sim(conn_extra={"proxies": {"https": f"http://alice:{PROXY_PASSWORD}@proxy.corp:3128"}})
    assert BaasHook().config.base_url
    assert PROXY_PASSWORD not in str(airflow_redact(f"proxy password {PROXY_PASSWORD}"))


# ---------------------------------------------------------------------------------------------
# Item 6: the execute path redacts a transport error


class EchoingStatusLineServer:
    """Answers every request with a malformed status line that echoes its Authorization header."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                auth = next(
                    (
                        line.split(b":", 1)[1].strip()
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"authorization:")
                    ),
                    b"",
                )
                conn.sendall(b"HTTP/1.1 2x2 " + auth + b"\r\nContent-Length: 0\r\n\r\n")

    def __enter__(self) -> EchoingStatusLineServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.mark.usefixtures("fast_lookup")
@pytest.mark.parametrize("how", ["sync", "async"])
async def test_the_execute_path_redacts_a_transport_error(make_sim: Any, caplog: Any, how: str) -> None:
    caplog.set_level(logging.DEBUG)
    with EchoingStatusLineServer() as server:
        make_sim(token=TOKEN, conn_changes={"host": server.url})
        exc = await raised(how, BaasHook(), "execute_job")
    assert isinstance(exc, BaasExecuteOutcomeUnknown)
    assert_no_leak({"shown": everything_shown(exc), "log": caplog.text}, [TOKEN])


# ---------------------------------------------------------------------------------------------
# Item 7: "verify": null means the default; other non-bool values are refused


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_verify_null_keeps_tls_verification_on(
    make_sim: Any, https_server: StaticServer, how: str
) -> None:
    make_sim(conn_changes={"host": https_server.url}, conn_extra={"verify": None})
    hook = BaasHook()
    assert hook.config.verify is True
    exc = await raised(how, hook)
    assert isinstance(exc, BaasTransportError) and "certificate verify failed" in str(exc).lower()
    assert https_server.requests == []


@pytest.mark.parametrize("value", [[], {}, 0, 1, 0.0])
def test_verify_that_is_neither_a_bool_nor_a_path_is_refused(make_sim: Any, value: Any) -> None:
    sim = make_sim(conn_extra={"verify": value})
    with pytest.raises(BaasConfigurationError, match="verify must be true, false or a CA bundle path"):
        BaasHook().get_job(JOB)
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------
# Item 9: no bearer token over plain HTTP to a host that is not loopback, unless opted in


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("http://api.example.com", False),
        ("http://10.0.0.5:8080", False),
        ("http://[2001:db8::1]", False),
        ("http://127.0.0.1:{port}", True),
        ("http://localhost:{port}", True),
    ],
)
def test_an_http_host_that_is_not_loopback_is_refused(make_sim: Any, host: str, loopback: bool) -> None:
    """Loopback (the simulator, a local tunnel) keeps working over plain HTTP."""
    sim = make_sim()
    make_sim(conn_id="baas_http", conn_changes={"host": host.format(port=sim.port)})
    if loopback:
        assert BaasHook("baas_http").get_job(JOB).job_id == str(JOB)
        return
    with pytest.raises(BaasConfigurationError, match=r"credentials in clear text.*allow_insecure_http"):
        BaasHook("baas_http").get_job(JOB)
    assert sim.requests == []


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_an_http_host_is_accepted_only_when_the_connection_opts_in(make_sim: Any, how: str) -> None:
    """The simulator plays a proxy, so a host that is not loopback can be reached over HTTP."""
    sim = make_sim()
    make_sim(
        conn_id="baas_plain",
        conn_changes={"host": "http://baas-api.invalid"},
        conn_extra={"proxies": {"http": sim.url}},
    )
    assert isinstance(await raised(how, BaasHook("baas_plain")), BaasConfigurationError)
    make_sim(
        conn_id="baas_plain",
        conn_changes={"host": "http://baas-api.invalid"},
        conn_extra={"allow_insecure_http": True, "proxies": {"http": sim.url}},
    )
    assert (await call(BaasHook("baas_plain"), how)).job_id == str(JOB)


# ---------------------------------------------------------------------------------------------
# Item 11: '?' or '#' in the host


@pytest.mark.parametrize(
    "host",
    [
        "https://evil.example/?x=",
        "https://api.example.com/baas#",
        "https://api.example.com?",
        "https://user:pw@api.example.com",
    ],
)
def test_a_host_with_a_query_fragment_or_user_info_is_refused(make_sim: Any, host: str) -> None:
    make_sim(conn_changes={"host": host})
    hook = BaasHook()
    with pytest.raises(BaasConfigurationError, match="must not contain '\\?', '#', '@'"):
        hook.get_job(JOB)
    ok, message = hook.test_connection()
    assert not ok and "must not contain" in message


# ---------------------------------------------------------------------------------------------
# Notes: the same CA store in both paths, and no private aiohttp helpers


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
async def test_workers_and_the_triggerer_trust_the_same_ca_bundle(
    make_sim: Any,
    https_server: StaticServer,
    tls: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    how: str,
) -> None:
    for name in transport_module.CA_BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, tls[0])
    make_sim(conn_changes={"host": https_server.url})
    assert (await call(BaasHook(), how)).name == "tls"


def test_the_transport_uses_no_private_aiohttp_helper() -> None:
    import inspect

    source = inspect.getsource(transport_module)
    assert "aiohttp.helpers" not in source and "from aiohttp." not in source
