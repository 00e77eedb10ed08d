"""Authentication of the BaaS simulator: static bearer tokens and RS256 JWTs.

PyJWT and cryptography are imported only when a JWT public key is configured.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from airflow_provider_baas.testing.constants import DEFAULT_JWT_AUDIENCE, DEFAULT_PRINCIPAL
from airflow_provider_baas.testing.state import SimError

_JWT_CACHE_SIZE = 1024


def load_public_key(key: Any) -> Any:
    """A PEM (str/bytes), a path to a PEM file, or a cryptography key -> an RSA public key object.

    A private key (object or PEM) is accepted too: its public half is used.
    """
    from cryptography.hazmat.primitives import serialization

    if isinstance(key, os.PathLike):
        key = Path(key).read_bytes()
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, bytes):
        if b"PRIVATE KEY" in key:
            return serialization.load_pem_private_key(key, password=None).public_key()
        return serialization.load_pem_public_key(key)
    if hasattr(key, "public_key"):
        return key.public_key()
    return key


class Authenticator:
    """Checks ``Authorization: Bearer ...`` and required static headers; maps principals to sites.

    Authentication is disabled when no token, no JWT key and no required header is configured.
    """

    def __init__(
        self,
        token: str | None = None,
        tokens: Mapping[str, str] | None = None,
        jwt_public_key: Any = None,
        jwt_kid: str | None = None,
        jwt_audience: str = DEFAULT_JWT_AUDIENCE,
        jwt_leeway: float = 0.0,
        site_access: Mapping[str, Iterable[str]] | None = None,
        required_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._tokens: dict[str, str] = {}
        if token:
            self._tokens[token] = DEFAULT_PRINCIPAL
        for value, principal in (tokens or {}).items():
            self._tokens[value] = principal
        self._token_bytes = [(t.encode(), p) for t, p in self._tokens.items()]
        self._jwt_key = load_public_key(jwt_public_key) if jwt_public_key is not None else None
        self._jwt_kid = jwt_kid
        self._jwt_audience = jwt_audience
        self._jwt_leeway = jwt_leeway
        self._jwt_cache: dict[str, tuple[str, float]] = {}
        self._cache_lock = threading.Lock()
        self._required = dict(required_headers or {})
        self.site_access = (
            {p: frozenset(s) for p, s in site_access.items()} if site_access is not None else None
        )

    @property
    def enabled(self) -> bool:
        return bool(self._tokens or self._jwt_key is not None or self._required)

    def authenticate(self, headers: Mapping[str, str]) -> str | None:
        """Return the principal of the request (None when auth is disabled) or raise 401."""
        for name, expected in self._required.items():
            got = headers.get(name)
            if got is None or not hmac.compare_digest(got.encode(), expected.encode()):
                raise _unauthorized(f"missing or wrong {name} header")
        if not self._tokens and self._jwt_key is None:
            return None
        value = headers.get("Authorization")
        if not value:
            raise _unauthorized("missing Authorization header")
        scheme, _, credential = value.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise _unauthorized("Authorization header must be 'Bearer <token>'")
        raw = credential.encode()
        for token, principal in self._token_bytes:
            if hmac.compare_digest(token, raw):
                return principal
        if self._jwt_key is not None and credential.count(".") == 2:
            return self._verify_jwt(credential)
        raise _unauthorized("invalid bearer token")

    def allowed(self, principal: str | None, site_id: str) -> bool:
        if self.site_access is None or principal is None:
            return True
        sites = self.site_access.get(principal)
        return sites is None or site_id in sites or "*" in sites

    def _verify_jwt(self, credential: str) -> str:
        cached = self._jwt_cache.get(credential)
        if cached is not None:
            principal, exp = cached
            if time.time() < exp + self._jwt_leeway:
                return principal
            raise _unauthorized("JWT expired")
        import jwt

        try:
            header = jwt.get_unverified_header(credential)
        except jwt.PyJWTError:
            raise _unauthorized("malformed JWT") from None
        if self._jwt_kid is not None and header.get("kid") != self._jwt_kid:
            raise _unauthorized("JWT signed with an unknown key id")
        try:
            claims = jwt.decode(
                credential,
                self._jwt_key,
                algorithms=["RS256"],
                options={"require": ["exp"], "verify_aud": False},
                leeway=self._jwt_leeway,
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("JWT expired") from None
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"invalid JWT: {exc}") from None
        aud = claims.get("aud")
        if aud is not None:
            audiences = [aud] if isinstance(aud, str) else list(aud)
            if self._jwt_audience not in audiences:
                raise _unauthorized(f"JWT audience must contain {self._jwt_audience}")
        principal = str(claims.get("sub") or "jwt")
        with self._cache_lock:
            if len(self._jwt_cache) >= _JWT_CACHE_SIZE:
                self._jwt_cache.clear()
            self._jwt_cache[credential] = (principal, float(claims["exp"]))
        return principal


def _unauthorized(message: str) -> SimError:
    return SimError(401, message)
