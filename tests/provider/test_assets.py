"""The ``baas://`` asset URI: one job's backups are one asset, however the API host is spelled."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from airflow_provider_baas.assets import backup_asset_uri, sanitize_uri


@pytest.mark.parametrize(
    "host",
    ["baas.example.com", "BAAS.example.com:443", "https://baas.example.com:443/api", "baas.example.com:8443"],
)
def test_the_port_is_not_part_of_the_asset(host: str) -> None:
    """The gate builds its event from the connection's base URL, which carries a port on 3.3.2."""
    assert backup_asset_uri(host, "prod-site", 34) == "baas://baas.example.com/prod-site/jobs/34"


def test_an_ipv6_host_keeps_its_brackets() -> None:
    assert backup_asset_uri("[::1]:443", "s", 1) == "baas://[::1]/s/jobs/1"


def test_a_declared_uri_with_a_port_normalises_to_the_same_asset() -> None:
    assert sanitize_uri(urlsplit("baas://BAAS.example.com:443/prod-site/jobs/34")).geturl() == (
        "baas://baas.example.com/prod-site/jobs/34"
    )
