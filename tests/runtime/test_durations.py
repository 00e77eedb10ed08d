"""One duration format in every log line and message (issue 17): no more ``0m15s`` next to ``1.0s``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.polling import ExecutionWatch, PollingPolicy, giving_up

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_baas"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0s"),
        (0.5, "0.5s"),
        (1, "1.0s"),
        (15, "15.0s"),
        (59.96, "1m00.0s"),
        (65, "1m05.0s"),
        (3600, "1h00m00.0s"),
        (7383.25, "2h03m03.2s"),
        (-3, "-3.0s"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_wait_and_giving_up_messages_use_the_one_format() -> None:
    now = [1000.0]
    watch = ExecutionWatch(job_id="34", execution_id="e1", polling=PollingPolicy(), clock=lambda: now[0])
    watch.started_at = 1000.0 - 15
    decision = watch._wait_or_timeout(1.0, None)
    assert "after 15.0s; next poll in 1.0s" in decision.message
    assert "(1m30.0s without an answer)" in giving_up("x", 3, 90, RuntimeError("boom"))


def test_no_log_call_or_message_formats_a_duration_by_hand() -> None:
    # "%.1fs", "%.0fs", "{x:.0f}s": every duration goes through format_duration instead.
    by_hand = re.compile(r"%\.\d+fs\b|:\.\d+f\}s\b")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "durations.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if by_hand.search(line)
    ]
    assert offenders == []
