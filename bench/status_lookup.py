"""How much does one status poll cost? The job summary (one GET of the job) vs the executions listing.

Jobs keep hundreds of past executions and the listing is paged, so the hook polls the job's
``last_execution_details`` while it shows the execution running and reads the listing only when
it must. This script measures both ways against the simulator (in-process, loopback) for a job
with N past executions, with the listing newest-first and oldest-first (the order is not
documented), and prints time, requests and bytes per poll, and their ratios.

    .venv/bin/python bench/status_lookup.py [--history 200] [--polls 200]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import requests

from airflow_provider_baas.hooks.baas import BaasHook
from airflow_provider_baas.status import Outcome, StatusPolicy
from airflow_provider_baas.testing import BaasSimulator, JobSpec, Scenario, SiteSpec


def per_poll(sim: BaasSimulator, polls: int, call: Callable[[], object]) -> tuple[float, float, int]:
    """(ms per poll, requests per poll, bytes per poll) for one way of polling."""
    sim.clear_requests()
    start = time.perf_counter()
    for _ in range(polls):
        call()
    elapsed_ms = (time.perf_counter() - start) * 1000 / polls
    paths = [(r.path, tuple(sorted(r.query.items()))) for r in sim.requests[: len(sim.requests) // polls]]
    size = sum(
        len(requests.get(sim.url + path, params=dict(query), headers=auth(sim), timeout=10).content)
        for path, query in paths
    )
    return elapsed_ms, len(sim.requests) / polls, size


def auth(sim: BaasSimulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.token}"}


def run(order: str, history: int, polls: int) -> None:
    scenario = Scenario(sites=[SiteSpec("bench", jobs=[JobSpec(1, "big", duration=10**6, history=history)])])
    policy = StatusPolicy()
    with BaasSimulator(scenario, time_scale=1, executions_order=order) as sim:
        name, value = sim.airflow_conn_env(site_id="bench")
        os.environ[name] = value
        hook = BaasHook()
        execution_id = hook.execute_job(1)

        def running(status: str | None) -> bool:
            return policy.classify(status) is Outcome.RUNNING

        summary = per_poll(sim, polls, lambda: hook.poll_execution(1, execution_id, is_running=running))
        listing = per_poll(sim, polls, lambda: hook.get_execution(1, execution_id))
    print(f"listing {order}, {history} past executions, {polls} polls of a running execution:")
    for label, (ms, reqs, size) in (("job summary", summary), ("listing", listing)):
        print(f"  {label:<12} {ms:6.2f} ms/poll  {reqs:4.1f} requests/poll  {size:>9,} bytes/poll")
    print(
        f"  listing / summary: {listing[0] / summary[0]:.1f}x time, {listing[1] / summary[1]:.1f}x requests, "
        f"{listing[2] / summary[2]:.0f}x bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--polls", type=int, default=200)
    args = parser.parse_args()
    for order in ("newest_first", "oldest_first"):
        run(order, args.history, args.polls)


if __name__ == "__main__":
    main()
