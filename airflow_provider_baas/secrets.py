"""What is secret in a ``baas`` connection, and every form a secret can take in a message.

A connection's credentials (the token, PAT, private key, secret header values, proxy credentials,
and every JWT minted from them) live in one ``SecretSet``. It registers each with Airflow's secrets
masker and removes every form of each from the texts the provider shows: the sync and async
transports, the execute path and ``test_connection`` all redact through it. A new credential is
covered everywhere by marking its connection field with ``secret_field()`` (or by one ``add``).

Secrets are kept behind objects whose ``repr`` shows nothing (``SecretSet``, ``Sealed``), so a
frame that raises never holds one in clear: error reporters that record frame locals (Sentry,
``traceback`` with ``capture_locals``, Airflow 3.0's console renderer) see names, not values.

Imports nothing heavy.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field, fields
from typing import Any, Generic, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

from airflow_provider_baas._compat import mask_secret

REDACTED = "***"
# A credential shorter than this cannot be redacted without mangling ordinary words in every
# message (Airflow's own masker skips values under 5 characters), so it is refused instead.
MIN_SECRET_CHARS = 8
# Minted JWTs are kept for redaction while they may still be echoed: the last few of each set.
MAX_EPHEMERAL = 5

# Words that make a header name a credential. Airflow hides a connection extra whose (normalised)
# name contains one of its own list; ours adds the common gateway-key spellings it misses
# (``x-gateway-key``, ``Ocp-Apim-Subscription-Key``).
_SECRET_NAME_WORDS = (
    "auth",
    "bearer",
    "cookie",
    "credential",
    "key",
    "pass",
    "secret",
    "signature",
    "token",
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")

SECRET_METADATA = "baas_secret"
T = TypeVar("T")


# ----------------------------------------------------------------------------------------------
# Which values are secret


def secret_field(extract: Callable[[Any], Iterable[str]] | None = None, **kwargs: Any) -> Any:
    """A dataclass field holding a credential: hidden from ``repr`` and collected by ``SecretSet.of``.

    :param extract: the secret strings in the field's value; by default the value itself (a string)
        or a mapping's values.
    """
    return field(repr=False, metadata={SECRET_METADATA: extract or _values_of}, **kwargs)


def looks_secret(name: str) -> bool:
    """True for a header (or extra) name that names a credential.

    :param name: the header or extra name.
    """
    normalised = re.sub(r"\W+", "_", name.strip().lower())
    return any(word in normalised for word in _SECRET_NAME_WORDS)


def credential_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be a credential, in words that never quote it; ``None`` when it can.

    :param value: the credential.
    :param multiline: whether line breaks are allowed (a PEM key).
    """
    text = value.strip()
    if not text:
        return "is empty"
    if _CONTROL.search(text.replace("\n", "").replace("\r", "").replace("\t", "") if multiline else text):
        return "contains a control character (the value is not shown)"
    if len(text) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters, too short to keep out of logs"
    return None


def url_credentials(url: str) -> list[str]:
    """The password-bearing parts of a URL with credentials (``http://user:pass@proxy:3128``).

    :param url: the URL.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # a malformed URL: hide all of it
        return [url]
    if password is None:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    return [url, userinfo, unquote(password), f"{unquote(parts.username or '')}:{unquote(password)}"]


def _values_of(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(v) for v in value.values()]
    return []


def proxy_credentials(proxies: Mapping[str, str]) -> list[str]:
    """The credentials in a ``proxies`` mapping's URLs.

    :param proxies: scheme -> proxy URL.
    """
    return [part for url in proxies.values() for part in url_credentials(url)]


# ----------------------------------------------------------------------------------------------
# Every form of a secret


def _escaped_forms(secret: str) -> set[str]:
    found = {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1], html.escape(secret)}
    found |= {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    found |= {_PERCENT_HEX.sub(lambda m: m.group().lower(), form) for form in set(found)}
    in_json = {json.dumps(form, ensure_ascii=ascii)[1:-1] for form in found for ascii in (True, False)}
    in_json |= {json.dumps(form)[1:-1] for form in in_json}  # a JSON document inside a JSON string
    found |= in_json
    return found | {form.replace("/", "\\/") for form in found}  # JSON's optional escape of '/'


def _base64_cores(secret: str) -> set[str]:
    """The base64 characters that come from the secret alone, at each of the three byte offsets it
    can have inside the encoded data (``Basic`` auth, a base64-echoed header, a JWT payload)."""
    raw = secret.encode()
    cores = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + raw).decode()
            cores.add(text[-(-8 * offset // 6) : (8 * (offset + len(raw))) // 6])
    return cores


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> frozenset[str]:
    """The secret as it can appear in a message: plain; JSON-, URL-, HTML- and repr-escaped; in
    base64 (standard and URL-safe, any alignment); and, for a multi-line secret (a PEM key), each line."""
    found = _escaped_forms(secret) | _base64_cores(secret)
    # PEM body lines; the BEGIN/END lines are the same in every key, so they are no secret.
    found |= {line.strip() for line in secret.splitlines() if not line.startswith("-----")}
    return frozenset(form for form in found if len(form) >= MIN_SECRET_CHARS)


# ----------------------------------------------------------------------------------------------
# Holders whose repr shows nothing


class Sealed(Generic[T]):
    """A value that carries a credential (request headers, a proxy URL): ``repr`` shows only ``what``.

    Call ``reveal()`` inline where a library needs the value, so no frame of ours binds it.

    :param value: the value to hide.
    :param what: what ``repr`` shows instead.
    """

    __slots__ = ("_value", "_what")

    def __init__(self, value: T, what: str = "sealed") -> None:
        self._value = value
        self._what = what

    def reveal(self) -> T:
        """The hidden value: call it inline where a library needs it, so no frame of ours binds it."""
        return self._value

    def __repr__(self) -> str:
        return f"<{self._what}: hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Sealed value is not serialisable")


class SecretSet:
    """Every secret of one connection: redacts all their forms from text; ``repr`` shows only a count.

    Thread-safe: a PAT authenticator adds minted JWTs while other threads or the event loop redact.
    Redaction replaces the forms longest first with ``str.replace``: building it is cheap (the
    triggerer parses a connection per trigger), where one alternation regex of PEM-sized forms
    takes tens of milliseconds to compile.

    :param values: the secrets (None and empty values are ignored).
    """

    __slots__ = ("_ephemeral", "_forms", "_lock", "_values")

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._values: list[str] = []
        self._ephemeral: deque[str] = deque(maxlen=MAX_EPHEMERAL)
        self._forms: tuple[str, ...] = ()
        for value in values:
            self.add(value)

    @classmethod
    def of(cls, settings: Any) -> SecretSet:
        """The secrets in every ``secret_field()`` of a dataclass instance.

        :param settings: a dataclass instance with ``secret_field()`` fields.
        """
        return cls(
            value
            for f in fields(settings)
            if (extract := f.metadata.get(SECRET_METADATA))
            for value in extract(getattr(settings, f.name))
        )

    def add(self, value: str | None, *, ephemeral: bool = False) -> None:
        """Register a secret with Airflow's masker and with this set (with all its forms).

        :param value: the secret; values shorter than ``MIN_SECRET_CHARS`` are ignored.
        :param ephemeral: a short-lived value (a minted JWT): only the last few are kept.
        """
        if not value or len(value) < MIN_SECRET_CHARS:
            return
        with self._lock:
            if value in self._values or value in self._ephemeral:
                return
            (self._ephemeral if ephemeral else self._values).append(value)
            forms = {form for v in (*self._values, *self._ephemeral) for form in secret_forms(v)}
            self._forms = tuple(sorted(forms, key=len, reverse=True))
        mask_secret(value)

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``***``.

        :param text: any text.
        """
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def redact_prefix(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of the redacted text; a secret cut at the limit leaves no part.

        :param text: any text.
        :param limit: the most characters returned.
        """
        longest = len(self._forms[0]) if self._forms else 0
        return self.redact(text[: limit + longest])[:limit]

    def __len__(self) -> int:
        return len(self._values) + len(self._ephemeral)

    def __repr__(self) -> str:
        return f"<SecretSet: {len(self)} secrets, hidden>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a SecretSet is not serialisable")


__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "Sealed",
    "SecretSet",
    "credential_problem",
    "looks_secret",
    "proxy_credentials",
    "secret_field",
    "secret_forms",
    "url_credentials",
]
