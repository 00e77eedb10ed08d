"""Secrets never leak, and TLS verification stays on unless the connection turns it off.

Runs the operator (both modes), the trigger and the hook with known fake secrets (a token, a static
header, a PAT, an RSA private key, and every JWT minted from them), with faults and with servers
that echo credentials back in error bodies, then scans everything a user or an operator could see:
task and library logs at DEBUG (stdlib records and stdout/stderr), XCom values, template fields,
trigger kwargs, events, return values, exception texts and tracebacks, and the request logs. Each
secret is also looked for in its base64 forms and each JWT by its segments. docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_baas._compat import TaskDeferred
from airflow_provider_baas.errors import BaasError, BaasTransportError
from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.operators.baas import BaasExecuteJobOperator
from airflow_provider_baas.testing import BaasSimulator

from ._support import (
    JOB,
    FakeStateStore,
    FakeTI,
    Finisher,
    StaticServer,
    find_leaks,
    json_answer,
    jwt_forms,
    leak_needles,
    make_context,
    rebuild_trigger,
    record_log,
    secret_forms,
    single_event,
)
from .conftest import KEY_ID, PAT

pytestmark = pytest.mark.usefixtures("close_sessions", "quick_backoff")

TOKEN = "tok-RELIABILITY-c4f1a9e27b66"
HEADER_SECRET = "hdr-RELIABILITY-77aa01bd3c"


class Exposure:
    """Everything a flow showed to the outside world, as text, by where it was seen."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=repr, sort_keys=True)
        self.seen[where] = self.seen.get(where, "") + "\n" + text

    def add_exception(self, where: str, exc: BaseException) -> None:
        self.add(where, str(exc))
        self.add(where, repr(exc))
        self.add(where, "".join(traceback.format_exception(exc)))

    def add_operator(self, where: str, op: Any, ti: FakeTI, log: Any) -> None:
        self.add(f"{where}: xcom", ti.xcoms)
        self.add(f"{where}: template fields", {f: getattr(op, f) for f in op.template_fields})
        self.add(f"{where}: task log", log.text())

    def add_sim(self, sim: BaasSimulator) -> None:
        self.add("simulator request log", [repr(r) for r in sim.requests])


@pytest.fixture
def exposure(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Exposure]:
    """An ``Exposure`` that also receives every log record (DEBUG and up) and all of stdout/stderr."""
    caplog.set_level(logging.DEBUG)
    seen = Exposure()
    yield seen


def scan(
    exposure: Exposure, caplog: pytest.LogCaptureFixture, capfd: Any, secrets: list[str], jwts: list[str] = ()
) -> None:  # type: ignore[assignment]
    out, err = capfd.readouterr()
    exposure.add("stdout", out)
    exposure.add("stderr", err)
    exposure.add("log records", caplog.text)
    exposure.add("log records (args)", [str(r.args) for r in caplog.records])
    needles = leak_needles(secrets, jwts)
    assert len(exposure.seen) >= 5
    assert find_leaks(exposure.seen, needles) == []


def op_for(mode: str, **kwargs: Any) -> BaasExecuteJobOperator:
    options: dict[str, Any] = {"task_id": "backup", "job_id": JOB, "poll_interval": 0.1, "timeout": 60}
    options.update(deferrable=mode == "deferrable", **kwargs)
    return BaasExecuteJobOperator(**options)


async def run_and_expose(exposure: Exposure, where: str, op: BaasExecuteJobOperator, ti: FakeTI) -> Any:
    """One try of the task; records its result or exception, XCom, template fields, log, trigger."""
    log = record_log(op)
    context = make_context(ti, FakeStateStore())
    outcome: Any = None
    try:
        try:
            outcome = op.execute(context)
        except TaskDeferred as deferred:
            classpath, kwargs = deferred.trigger.serialize()
            exposure.add(f"{where}: trigger kwargs", [classpath, kwargs])
            trigger = rebuild_trigger(deferred.trigger)
            trigger_log = record_log(trigger)
            event = await single_event(trigger)
            exposure.add(f"{where}: trigger event", event)
            exposure.add(f"{where}: trigger log", trigger_log.text())
            outcome = op.execute_complete(context, event)
        exposure.add(f"{where}: return value", outcome)
    except BaasError as exc:
        exposure.add_exception(f"{where}: exception", exc)
        outcome = exc
    exposure.add_operator(where, op, ti, log)
    return outcome


# ---------------------------------------------------------------------------------------------
# Token and static header


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
async def test_token_and_header_never_leak(
    make_sim: Any, exposure: Exposure, caplog: Any, capfd: Any, mode: str
) -> None:
    sim = make_sim(
        token=TOKEN,
        required_headers={"x-api-key": HEADER_SECRET},
        finisher=Finisher(after=1),
        conn_extra={"headers": {"x-api-key": HEADER_SECRET}},
    )
    assert json.loads(sim.airflow_connection())["password"] == TOKEN
    # A success through transient faults...
    sim.add_fault(kind="status", status=503, method="GET", path=f"*/jobs/{JOB}", skip=2, count=2)
    sim.add_fault(kind="malformed", method="GET", path=f"*/jobs/{JOB}", skip=4, count=1)
    ok = await run_and_expose(exposure, "success", op_for(mode), FakeTI())
    assert isinstance(ok, dict) and ok["status"] == "SUCCESSFUL"
    # ...and a failure whose error body echoes both credentials.
    sim.clear_faults()
    echo = {"message": f"credential Bearer {TOKEN} with x-api-key {HEADER_SECRET} has no access to site"}
    sim.add_fault(
        kind="status", status=403, body=echo, method="GET", path=f"*/jobs/{JOB}", skip=1, count=None
    )
    failed = await run_and_expose(exposure, "failure", op_for(mode), FakeTI())
    assert isinstance(failed, BaasError)
    assert "HTTP 403" in str(failed) and "has no access to site" in str(failed)  # the reason is kept
    assert "***" in str(failed)  # the credentials are masked
    exposure.add_sim(sim)
    scan(exposure, caplog, capfd, [TOKEN, HEADER_SECRET])


# ---------------------------------------------------------------------------------------------
# PAT, private key and the JWTs minted from them


@pytest.mark.parametrize("mode", ["polling", "deferrable"])
async def test_pat_private_key_and_jwts_never_leak(
    make_sim: Any,
    pat_extra: dict[str, Any],
    rsa_key: tuple[str, str],
    mints: list[str],
    exposure: Exposure,
    caplog: Any,
    capfd: Any,
    mode: str,
) -> None:
    sim = make_sim(
        token=None,
        jwt_public_key=rsa_key[1],
        jwt_kid=KEY_ID,
        finisher=Finisher(after=1),
        conn_extra=pat_extra,
    )
    sim.add_fault(kind="status", status=401, method="GET", path=f"*/jobs/{JOB}", skip=2, count=1)  # re-mint
    ok = await run_and_expose(exposure, "success", op_for(mode), FakeTI())
    assert isinstance(ok, dict) and ok["status"] == "SUCCESSFUL"
    sim.clear_faults()
    echo = {"message": f"PAT {PAT} is revoked"}
    sim.add_fault(
        kind="status", status=400, body=echo, method="GET", path=f"*/jobs/{JOB}", skip=1, count=None
    )
    failed = await run_and_expose(exposure, "failure", op_for(mode), FakeTI())
    assert isinstance(failed, BaasError) and "is revoked" in str(failed)
    assert len(mints) >= 3  # one per hook, one re-mint after the 401
    exposure.add_sim(sim)
    scan(exposure, caplog, capfd, [PAT, rsa_key[0]], mints)


# ---------------------------------------------------------------------------------------------
# A server that echoes the Authorization header it received


def echoing_server(status: int, html: bool = False) -> StaticServer:
    def answer(method: str, path: str, query: dict[str, str]) -> Any:
        auth = server.headers[-1].get("Authorization", "")
        if html:
            return status, {"Content-Type": "text/html"}, f"<html>you sent {auth}</html>".encode()
        return json_answer({"message": f"rejected {auth}"}, status)

    server = StaticServer(answer)
    return server


@pytest.mark.parametrize("answer", ["401", "400", "200-html"])
@pytest.mark.parametrize("auth", ["token", "pat"])
async def test_credentials_echoed_by_the_server_are_masked(
    make_sim: Any,
    pat_extra: dict[str, Any],
    mints: list[str],
    exposure: Exposure,
    caplog: Any,
    capfd: Any,
    answer: str,
    auth: str,
) -> None:
    status = int(answer.split("-")[0])
    with echoing_server(status, html=answer.endswith("html")) as server:
        extra = {**pat_extra} if auth == "pat" else {}
        make_sim(token=TOKEN, conn_changes={"host": server.url}, conn_extra=extra)
        for call in ("sync", "async"):
            hook = BaasHook()
            with pytest.raises(BaasError) as info:
                if call == "sync":
                    hook.get_job(JOB)
                else:
                    await hook.aget_job(JOB)
            exposure.add_exception(f"{call} exception", info.value)
            assert "***" in str(info.value)
        sent = [h.get("Authorization", "") for h in server.headers]
    assert sent and all(s.startswith("Bearer ") for s in sent)
    jwts = [s.split(" ", 1)[1] for s in sent] if auth == "pat" else []
    if auth == "pat" and status == 401:
        assert len(set(jwts)) == len(jwts) >= 4  # every 401 answered by a re-minted JWT, once per call
    scan(exposure, caplog, capfd, [TOKEN, PAT, pat_extra["private_key"]], [*mints, *jwts])


# ---------------------------------------------------------------------------------------------
# TLS


@pytest.mark.parametrize("call", ["sync", "async"])
async def test_self_signed_server_is_refused_by_default(
    make_sim: Any, https_server: StaticServer, call: str
) -> None:
    make_sim(conn_changes={"host": https_server.url})
    hook = BaasHook()
    assert hook.config.verify is True
    with pytest.raises(BaasTransportError) as info:
        await hook.alist_jobs() if call == "async" else hook.list_jobs()
    assert "certificate verify failed" in str(info.value).lower()
    assert https_server.requests == []  # the handshake failed: no request was ever sent


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("call", ["sync", "async"])
@pytest.mark.parametrize("setting", ["verify-false", "verify-false-text", "ca-bundle", "verify-path"])
async def test_self_signed_server_is_accepted_when_the_connection_says_so(
    make_sim: Any,
    https_server: StaticServer,
    tls: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    call: str,
) -> None:
    extra = {
        "verify-false": {"verify": False},
        "verify-false-text": {"verify": "false"},
        "ca-bundle": {"ca_bundle": tls[0]},
        "verify-path": {"verify": tls[0]},
    }[setting]
    for name in CA_BUNDLE_VARIABLES:  # see the next test
        monkeypatch.delenv(name, raising=False)
    make_sim(conn_changes={"host": https_server.url}, conn_extra=extra)
    hook = BaasHook()
    jobs = await hook.alist_jobs() if call == "async" else hook.list_jobs()
    assert [j.name for j in jobs] == ["tls"]
    assert len(https_server.requests) == 1


CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.mark.parametrize("call", ["sync", "async"])
@pytest.mark.parametrize("setting", ["verify-false", "ca-bundle"])
async def test_connection_tls_settings_win_over_the_ca_bundle_environment(
    make_sim: Any,
    https_server: StaticServer,
    tls: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    call: str,
) -> None:
    import certifi

    for name in CA_BUNDLE_VARIABLES:  # common in containers and corporate images
        monkeypatch.setenv(name, certifi.where())
    extra = {"verify": False} if setting == "verify-false" else {"ca_bundle": tls[0]}
    make_sim(conn_changes={"host": https_server.url}, conn_extra=extra)
    hook = BaasHook()
    jobs = await hook.alist_jobs() if call == "async" else hook.list_jobs()
    assert [j.name for j in jobs] == ["tls"]


async def test_trigger_against_a_self_signed_server_fails_at_once(
    make_sim: Any, https_server: StaticServer
) -> None:
    """A certificate that does not verify will not verify on the next poll either: the wait ends at
    once with the reason, instead of retrying through the transient-error budget (minutes)."""
    import time

    from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

    make_sim(conn_changes={"host": https_server.url})
    trigger = BaasExecutionTrigger(
        job_id=str(JOB), execution_id="1001", poll_interval=1, deadline=time.time() + 60
    )
    started = time.monotonic()
    event = await single_event(rebuild_trigger(trigger))
    assert event["status"] == "error"
    assert "certificate verify failed" in event["message"].lower()
    assert "giving up" not in event["message"]
    assert time.monotonic() - started < 0.9  # not even one error wait (1 s here, up to 60 s by default)
    assert https_server.requests == []


@pytest.mark.parametrize("offset", [60, 70, 75, 79])
@pytest.mark.parametrize("call", ["sync", "async"])
async def test_secret_cut_by_the_snippet_of_a_non_json_body_is_still_masked(
    make_sim: Any, offset: int, call: str
) -> None:
    """The first 80 characters of a non-JSON body are shown; a token straddling that limit must not
    leave its first characters behind (the body is redacted before it is cut)."""
    body = ("x" * offset + TOKEN + " tail").encode()
    with StaticServer(lambda m, p, q: (200, {"Content-Type": "text/plain"}, body)) as server:
        make_sim(token=TOKEN, conn_changes={"host": server.url})
        hook = BaasHook()
        with pytest.raises(BaasError, match="body is not JSON") as info:
            await hook.aget_job(JOB) if call == "async" else hook.get_job(JOB)
    message = str(info.value)
    prefixes = [TOKEN[:n] for n in range(6, len(TOKEN) + 1)]
    assert [p for p in prefixes if p in message] == []


def test_the_scan_finds_every_form_of_a_secret(rsa_key: tuple[str, str]) -> None:
    """Guards the scans above: each form a secret could leak in is found."""
    import base64

    needles = secret_forms(TOKEN) | secret_forms(rsa_key[0])
    basic = base64.b64encode(f"user:{TOKEN}".encode()).decode()
    pem_line = rsa_key[0].splitlines()[5]
    for text in (
        f"token={TOKEN}",
        f"Authorization: Basic {basic}",
        f"key line {pem_line}",
        json.dumps(TOKEN),
    ):
        assert find_leaks({"x": text}, needles), text
    header, payload, signature = "aGVhZGVy", "cGF5bG9hZC1wYXlsb2Fk", "c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    jwt = f"{header}.{payload}.{signature}"
    assert find_leaks({"x": f"payload {payload} only"}, jwt_forms(jwt))
    assert find_leaks({"x": f"sig {signature}"}, jwt_forms(jwt))
    assert find_leaks({"x": "nothing to see"}, needles | jwt_forms(jwt)) == []
