"""Throughput of the BaaS simulator: requests/s from 100 concurrent keep-alive aiohttp clients.

Starts the simulator CLI in a separate process (demo scenario, 200 past executions per job),
then drives one endpoint from this process for a few seconds and prints requests/s::

    .venv/bin/python bench/simulator_throughput.py                  # J5, 200 executions per answer
    .venv/bin/python bench/simulator_throughput.py --endpoint all   # J5, J5 paged, J2, J1, J4 paged
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from _simulator import start_simulator_process

from airflow_provider_baas.testing.constants import BASE_PATH, DEFAULT_TOKEN
from airflow_provider_baas.testing.scenario import Scenario

SITE = "demo-site"
ENDPOINTS = {
    "j5": f"/sites/{SITE}/jobs/34/executions",
    "j5-page": f"/sites/{SITE}/jobs/34/executions?page=2&page-size=10",
    "j2": f"/sites/{SITE}/jobs/34",
    "j1": f"/sites/{SITE}/jobs",
    "j4-page": f"/sites/{SITE}/executions?page=1&page-size=50",
}


def start_server(history: int) -> tuple[subprocess.Popen[str], str, str]:
    scenario = Scenario.default()
    for site in scenario.sites:
        for job in site.jobs:
            job.history = history
    fd, path = tempfile.mkstemp(suffix=".json", prefix="baas-bench-")
    with os.fdopen(fd, "w") as fh:
        fh.write(scenario.to_json())
    proc, url = start_simulator_process("--scenario", path)
    return proc, url, path


async def drive(url: str, clients: int, seconds: float, warmup: float) -> tuple[int, int, int, float]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    done = errors = nbytes = 0
    counting = False
    deadline = time.monotonic() + warmup + seconds

    async def client() -> None:
        nonlocal done, errors, nbytes
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            while time.monotonic() < deadline:
                async with session.get(url) as resp:
                    body = await resp.read()
                if counting:
                    done += 1
                    nbytes += len(body)
                    if resp.status != 200:
                        errors += 1

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(warmup)
    counting = True
    t0 = time.monotonic()
    await asyncio.gather(*tasks)
    return done, errors, nbytes, time.monotonic() - t0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", choices=[*ENDPOINTS, "all"], default="j5")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--history", type=int, default=200, help="past executions per job")
    args = parser.parse_args()

    proc, url, scenario_path = start_server(args.history)
    try:
        names = list(ENDPOINTS) if args.endpoint == "all" else [args.endpoint]
        print(
            f"simulator {url} (separate process), {args.clients} keep-alive clients, "
            f"{args.history} executions/job"
        )
        for name in names:
            target = url + BASE_PATH + ENDPOINTS[name]
            done, errors, nbytes, elapsed = asyncio.run(
                drive(target, args.clients, args.seconds, args.warmup)
            )
            print(
                f"{name:8s} {done / elapsed:8.0f} requests/s  ({done} in {elapsed:.1f} s, "
                f"{nbytes / max(done, 1) / 1024:.1f} KiB/answer, {errors} non-200)",
                flush=True,
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        Path(scenario_path).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
