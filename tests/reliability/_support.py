"""Helpers of the reliability suite: simulators with fault plans, fake task contexts, secret scans."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from airflow_provider_baas.testing import BaasSimulator
from tests.runtime._support import (  # noqa: F401  (re-exported for the test modules)
    FakeStateStore,
    FakeTI,
    RecordingLogger,
    make_context,
    rebuild_trigger,
    record_log,
    run_trigger,
    single_event,
)

SITE = "demo-site"
JOB = 34  # daily_warehouse_backup: succeeds
POLL = r"/jobs/34$"
EXECUTE = r"/jobs/\d+/execute$"
# Connection extras of the fault matrix: a short read timeout, hook retries on but small.
FAST_EXTRA: dict[str, Any] = {
    "read_timeout": 0.3,
    "connect_timeout": 1,
    "max_attempts": 2,
    "max_retry_wait": 2,
}


class Finisher:
    """``on_request`` hook of a frozen simulator (``time_scale=0``): ends every running execution
    once every fault added so far is spent and ``after`` more polls (GET of a job) were answered.

    The executions stay QUEUED/RUNNING until then, so a fault can never be "skipped" by a job that
    finished early; and once it is spent, the wait ends at the next poll instead of after a timer.
    """

    def __init__(self, after: int = 1, poll_path: str = POLL) -> None:
        import re

        self.after = after
        self._poll = re.compile(poll_path)
        self.sim: BaasSimulator | None = None
        self.good_polls = 0
        self.finished = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, record: Any) -> None:
        sim = self.sim
        if sim is None or self.finished.is_set():
            return
        if record.method != "GET" or record.fault is not None or record.status != 200:
            return
        if not self._poll.search(record.path):
            return
        if not all(f.exhausted for f in sim.faults):
            return
        with self._lock:
            self.good_polls += 1
            if self.good_polls >= self.after:
                sim.finish_all()
                self.finished.set()


def posts(sim: BaasSimulator, job_id: int = JOB) -> list[Any]:
    return sim.requests_matching("POST", rf"/jobs/{job_id}/execute$")


def accepted_posts(sim: BaasSimulator, job_id: int = JOB) -> list[Any]:
    """Execute requests the server processed (202, or processed with the answer lost)."""
    return [r for r in posts(sim, job_id) if r.status == 202 or r.fault == "lost_answer"]


def new_executions(sim: BaasSimulator, before: Iterable[str], job_id: int = JOB) -> list[dict[str, Any]]:
    known = set(before)
    return [e for e in sim.executions(job_id) if e["execution_id"] not in known]


def execution_ids(sim: BaasSimulator, job_id: int = JOB) -> set[str]:
    return {e["execution_id"] for e in sim.executions(job_id)}


# ---------------------------------------------------------------------------------------------
# Secrets


def secret_forms(secret: str) -> set[str]:
    """A secret, and the encoded forms it could leak in: base64 (std/url, with and without padding,
    at the three byte alignments), and for PEM keys every body line."""
    forms = {secret}
    raw = secret.encode()
    for shift in range(3):  # the secret's offset (mod 3) inside whatever bytes were encoded
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).decode()
            # Characters whose 6 bits all come from the secret: the same whatever surrounds it.
            stable = text[-(-8 * shift // 6) : (8 * (shift + len(raw))) // 6]
            if len(stable) >= 12:
                forms.add(stable)
    if "PRIVATE KEY" in secret:
        forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 40)
    forms.add(json.dumps(secret)[1:-1])  # as it appears inside a JSON string
    return {f for f in forms if f}


def jwt_forms(token: str) -> set[str]:
    """A JWT, its signed payload segment and its signature."""
    header, payload, signature = token.split(".")
    return {token, payload, signature, f"{header}.{payload}"}


def leak_needles(secrets: Iterable[str], jwts: Iterable[str] = ()) -> set[str]:
    """Every form of each secret and each JWT that a scan looks for."""
    needles: set[str] = set()
    for secret in secrets:
        needles |= secret_forms(secret)
    for token in jwts:
        needles |= jwt_forms(token)
    return needles


def find_leaks(haystacks: dict[str, str], needles: Iterable[str]) -> list[tuple[str, str]]:
    """``(where, needle-prefix)`` for every needle found in any haystack."""
    leaks = []
    for where, text in haystacks.items():
        for needle in needles:
            if needle and needle in text:
                leaks.append((where, needle[:12] + "..."))
    return leaks


def generate_rsa_key() -> tuple[str, str]:
    """A fresh 2048-bit RSA key: (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class TokenSpy:
    """Wraps a simulator's authenticator: ``(arrival time, bearer credential)`` of every request that
    reached authentication (requests answered by a fault never do), in order."""

    def __init__(self, sim: BaasSimulator) -> None:
        self.seen: list[tuple[float, str]] = []
        real: Callable[[Any], Any] = sim.auth.authenticate

        def authenticate(headers: Any) -> Any:
            value = headers.get("Authorization") or ""
            self.seen.append((time.time(), value.partition(" ")[2].strip()))
            return real(headers)

        sim.auth.authenticate = authenticate  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# A tiny scripted HTTP(S) server, for answers the simulator cannot give (HTML bodies, endless
# listings, TLS).


class StaticServer:
    """Answers every request with ``answer(method, path, query) -> (status, headers, body)``, over
    HTTP, or HTTPS with ``ssl_context``. ``requests`` lists ``(method, path, query)`` of every
    request that reached the handler (a refused TLS handshake never does)."""

    def __init__(
        self,
        answer: Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], bytes]],
        *,
        ssl_context: Any = None,
    ) -> None:
        self.answer = answer
        self.ssl_context = ssl_context
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.headers: list[dict[str, str]] = []  # of each request, for servers that echo them
        self.port: int | None = None
        self._loop: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> StaticServer:
        import asyncio
        import concurrent.futures

        from aiohttp import web

        async def handle(request: Any) -> Any:
            query = dict(request.query)
            self.requests.append((request.method, request.path, query))
            self.headers.append(dict(request.headers))
            status, headers, body = self.answer(request.method, request.path, query)
            return web.Response(status=status, headers=headers, body=body)

        ready: concurrent.futures.Future[int] = concurrent.futures.Future()

        async def setup() -> Any:
            runner = web.ServerRunner(web.Server(handle, access_log=None), handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
            await site.start()
            return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                runner, port = loop.run_until_complete(setup())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(port)
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        self.port = ready.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)


def json_answer(payload: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def self_signed_cert(directory: Any) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert path, key path)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(str(directory), "cert.pem")
    key_path = os.path.join(str(directory), "key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


class FileStateStore:
    """Airflow 3.3's task state store (``get``/``set``/``delete``), kept in a JSON file so that it
    survives the worker process that wrote it (crash tests)."""

    def __init__(self, path: Any) -> None:
        self.path = str(path)

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._load().get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        data = self._load()
        data[key] = value
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def delete(self, key: str) -> None:
        data = self._load()
        data.pop(key, None)
        with open(self.path, "w", encoding="utf-8") as fh:
            json.dump(data, fh)


class DagTI(FakeTI):
    """A task instance with identity (Airflow 2.11's reattach memory is a Variable named after it)."""

    def __init__(self, try_number: int = 1, run_id: str = "manual__crash") -> None:
        super().__init__(try_number=try_number)
        self.dag_id, self.task_id, self.run_id, self.map_index = "baas_rel_crash", "backup", run_id, -1
