"""No secret of the connection in an asset watcher's kwargs, events, watermark or logs.

Token and PAT connections; a backup reported, then a server that echoes the credentials in a 403.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_baas.triggers.events import BaasBackupEventTrigger
from tests.runtime._support import rebuild_trigger, record_log
from tests.runtime._watching import MemoryStateStore, Watching

from ._support import JOB, find_leaks, jwt_forms, secret_forms
from .conftest import KEY_ID, PAT

pytestmark = pytest.mark.usefixtures("close_sessions", "quick_backoff")
TOKEN = "watcher-token-SECRET-9c2f4e1a"


@pytest.mark.parametrize("auth", ["token", "pat"])
async def test_a_watcher_shows_no_secret(
    make_sim: Any,
    pat_extra: dict[str, Any],
    rsa_key: tuple[str, str],
    mints: list[str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    auth: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if auth == "token":
        sim = make_sim(token=TOKEN, time_scale=36000)
        secrets = [TOKEN]
    else:
        sim = make_sim(
            token=None, jwt_public_key=rsa_key[1], jwt_kid=KEY_ID, conn_extra=pat_extra, time_scale=36000
        )
        secrets = [PAT, rsa_key[0]]
    store = MemoryStateStore()
    trigger = rebuild_trigger(BaasBackupEventTrigger(job_id=JOB, poll_interval=0.1))
    trigger.asset_state_store = store
    log = record_log(trigger)
    async with Watching(trigger) as watching:
        await watching.polls(sim, 1, job_id=JOB)
        sim.start_execution(JOB)
        await watching.until(lambda: watching.events)
        echo = {"message": f"credential {TOKEN} / PAT {PAT} has no access to this site"}
        sim.add_fault(kind="status", status=403, body=echo, method="GET", path=f"*/jobs/{JOB}", count=None)
        await watching.until(lambda: "HTTP 403" in log.text("error"))
    assert "***" in log.text("error")  # the echoed credentials are masked, the reason is kept
    out, err = capfd.readouterr()
    haystacks = {
        "trigger kwargs": json.dumps(trigger.serialize()),
        "events": json.dumps(watching.events),
        "watermark": json.dumps(store.values),
        "trigger log": "\n".join(text for _, text in log.lines),
        "caplog": caplog.text,
        "stdout": out,
        "stderr": err,
    }
    needles = set().union(*(secret_forms(s) for s in secrets), *(jwt_forms(j) for j in mints))
    assert (auth == "pat") == bool(mints)
    assert find_leaks(haystacks, needles) == []
