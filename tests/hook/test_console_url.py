"""The connection's ``console_url``: the BaaS console page behind the operator's extra link (issue 17)."""

from __future__ import annotations

import pytest

from airflow_provider_baas.console import console_url_problem, render_console_url
from airflow_provider_baas.errors import BaasConfigurationError

TEMPLATE = "https://console.example.com/baas/sites/{site_id}/jobs/{job_id}/executions/{execution_id}"


def test_the_template_is_filled_with_the_execution(make_hook):
    hook = make_hook(extra={"console_url": TEMPLATE})

    url = hook.console_url("34", "e-1", site_id="prod")

    assert url == "https://console.example.com/baas/sites/prod/jobs/34/executions/e-1"


def test_no_console_url_means_none(make_hook):
    assert make_hook().console_url("34", "e-1", site_id="prod") is None


def test_values_are_quoted_so_they_cannot_change_the_url():
    url = render_console_url(TEMPLATE, site_id="a/b", job_id="1?x", execution_id="e#1")

    assert url.endswith("/sites/a%2Fb/jobs/1%3Fx/executions/e%231")


@pytest.mark.parametrize(
    "template",
    [
        "https://console.example.com/?e={execution_id}",
        "https://console.example.com/static-page",
        "http://localhost:9000/{job_id}",
        "http://127.0.0.1/{execution_id}",
    ],
)
def test_accepted_templates(template):
    assert console_url_problem(template) is None


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("http://console.example.com/{execution_id}", "https"),
        ("javascript:alert(1)//{execution_id}", "absolute URL|https"),
        ("/relative/{execution_id}", "absolute URL"),
        ("https://console.example.com/{token}", r"only contain the placeholders"),
        ("https://console.example.com/{execution_id!r}", r"only contain the placeholders"),
        ("https://console.example.com/{job_id:>5}", r"only contain the placeholders"),
        ("https://console.example.com/{0}", r"only contain the placeholders"),
        ("https://console.example.com/{execution_id", "not a valid template"),
    ],
)
def test_rejected_templates_fail_before_any_request(make_hook, requests_mock, template, message):
    assert console_url_problem(template)
    hook = make_hook(extra={"console_url": template})

    with pytest.raises(BaasConfigurationError, match=message):
        hook.list_jobs()
    assert requests_mock.request_history == []
