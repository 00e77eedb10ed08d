"""A response may echo credentials; tracebacks that print frame locals show its repr."""

from __future__ import annotations

from airflow_provider_baas.hooks.transport import Response


def test_a_response_repr_shows_its_status_and_neither_headers_nor_body() -> None:
    echoed = Response(403, {"www-authenticate": "Bearer tok-ECHOED"}, '{"message": "Bearer tok-ECHOED"}')
    assert "403" in repr(echoed)
    assert "tok-ECHOED" not in repr(echoed) and "tok-ECHOED" not in str(echoed)
