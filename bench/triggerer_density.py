"""Triggerer density: N waiting BaaS triggers in one event loop, against two baselines in the same run.

One BaaS simulator runs in a separate process (``--log-requests``: one stderr line per request,
which is how polls are counted), with 5,000 jobs of 200 past executions each and one execution
per job that stays QUEUED/RUNNING for 30 simulated days (time scale 1). Then, for each N, three
variants each run in a fresh child process (clean CPU and RSS figures), one after the other:

* ``floor``: N coroutines, each GETs its job (J2) with one shared ``aiohttp.ClientSession``, reads the
  body and sleeps ``--interval``; nothing else. The cheapest async HTTP poll measured here.
* ``http``: N ``HttpSensorTrigger``s (apache-airflow-providers-http) polling a simulator URL that
  answers 404 (a job that does not exist), which the trigger takes as "not yet".
* ``ours``: N ``BaasExecutionTrigger``s with ``poll_interval == first_interval == --interval``, so
  every variant polls at the same fixed rate and the comparison is per poll. Our triggers wake up on
  a shared grid (``polling.coalesced``), so the loop wakes once per batch of about 8 polls.
* ``floorc``: the floor with its sleeps coalesced the same way: ours/floorc is the cost of our
  poll's own machinery, with the coalescing taken out of the comparison.

Each variant consumes ``trigger.run()`` like the triggerer does. Starts are spread evenly over one
interval, then after a settling period the window is measured: process CPU (user + system) per
1,000 polls counted in the simulator's log, polls/s achieved vs intended, RSS, and the longest
busy event-loop iteration (a stall: nothing else can run). Trigger log lines go, at INFO, through
Airflow's own logging setup to a file (the child's stdout)::

    .venv-bench/bin/python bench/triggerer_density.py               # N = 1,000 and 5,000
    .venv-bench/bin/python bench/triggerer_density.py --n 1000 --window 20 --variants ours,floor
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _simulator import start_simulator_process

SITE = "bench-site"
TOKEN = "bench-token"
FIRST_JOB = 1000
HISTORY = 200
DURATION = 30 * 86400.0  # simulated seconds; time scale 1: pending during the whole run
MISSING_JOB = 9_999_999  # answers 404 (used by the http-provider baseline)
VARIANTS = ("floor", "floorc", "http", "ours")
# Ours with one piece of process-wide machinery taken out (does it pay?), or the code of another
# checkout (``--main-path``: the "before" of a change, in the same run).
ABLATIONS = ("ours-nogrid", "ours-noshare", "ours-main")

# ------------------------------------------------------------------------------------------------
# Parent: simulator, setup, children, report


def write_scenario(path: Path, jobs: int, summary_details: str = "latest") -> None:
    scenario = {
        "summary_details": summary_details,
        "sites": [
            {
                "site_id": SITE,
                "jobs": [
                    {
                        "job_id": FIRST_JOB + i,
                        "name": f"bench_job_{i}",
                        "duration": DURATION,
                        "history": HISTORY,
                    }
                    for i in range(jobs)
                ],
            }
        ],
    }
    path.write_text(json.dumps(scenario))


def start_simulator(scenario: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    args = ("--time-scale", "1", "--token", TOKEN, "--scenario", str(scenario), "--log-requests")
    return start_simulator_process(*args, stderr=log.open("w"))


async def start_executions(url: str, jobs: int) -> list[str]:
    """One pending execution per job (J3), through the API like a real operator would start it."""
    import aiohttp

    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{url}/data-protection/v2/sites/{SITE}/jobs"
    sem = asyncio.Semaphore(50)

    async def one(session: aiohttp.ClientSession, job: int) -> str:
        async with sem, session.post(f"{base}/{job}/execute", json={"run_type": "FULL"}) as r:
            if r.status != 202:
                raise SystemExit(f"execute of job {job}: HTTP {r.status} {await r.text()}")
            return r.headers["x-resource-id"]

    async with aiohttp.ClientSession(headers=headers) as session:
        return list(await asyncio.gather(*(one(session, FIRST_JOB + i) for i in range(jobs))))


def run_child(variant: str, n: int, args: argparse.Namespace, env: dict[str, str], setup: Path) -> dict:
    trigger_log = setup.parent / f"triggers-{variant}-{n}.log"
    with tempfile.NamedTemporaryFile("w+", prefix=f"bench-{variant}-{n}-", suffix=".out") as out:
        cmd = [
            sys.executable,
            __file__,
            "--trigger-log",
            str(trigger_log),
            "--child",
            variant,
            "--n",
            str(n),
            "--interval",
            str(args.interval),
            "--window",
            str(args.window),
            "--settle",
            str(args.settle),
            "--setup",
            str(setup),
            *(["--gc-freeze"] if args.gc_freeze else []),
            *(["--wake-batch", str(args.wake_batch)] if args.wake_batch is not None else []),
        ]
        result = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True, timeout=900)
        out.seek(0)
        lines = out.read().splitlines()
    found = [json.loads(line[len("RESULT ") :]) for line in lines if line.startswith("RESULT ")]
    if result.returncode != 0 or not found:
        tail = "\n".join(lines[-10:]) + result.stderr[-3000:]
        raise SystemExit(f"{variant} N={n} failed (exit {result.returncode}):\n{tail}")
    data = found[-1]
    with trigger_log.open("rb") as fh:
        data["log_lines"] = sum(1 for _ in fh)
    trigger_log.unlink()
    return data


def count_polls(log: Path, start: int, end: int) -> dict[str, int]:
    with log.open("rb") as fh:
        fh.seek(start)
        chunk = fh.read(end - start).decode(errors="replace")
    kinds = {"job": 0, "listing": 0, "other": 0, "non_2xx": 0}
    job_path = re.compile(r"^GET /data-protection/v2/sites/[^/]+/jobs/\d+ -> (\d+)")
    for line in chunk.splitlines():
        m = job_path.match(line)
        if m:
            kinds["job"] += 1
            if not m.group(1).startswith("2"):
                kinds["non_2xx"] += 1
        elif "/executions" in line:
            kinds["listing"] += 1
        else:
            kinds["other"] += 1
    return kinds


def fmt_rows(name: str, r: dict, interval: float) -> tuple[str, str]:
    intended = r["n"] / interval
    cost = (
        f"  {name:6s} {r['cpu_per_1000']:10.3f} {r['polls_per_s']:9.1f} / {intended:5.0f} "
        f"({100 * r['polls_per_s'] / intended:5.1f}%) {r['rss_per_trigger_kb']:10.1f} {r['peak_rss_mb']:9.0f}"
    )
    loop = (
        f"  {name:6s} {r['max_stall_ms']:9.0f} {r['p99_stall_ms']:7.1f} {r['max_stall_no_full_gc_ms']:12.0f} "
        f"{r['gc_full']:9d} {r['full_gc_max_ms']:11.0f} {r['listing_requests']:9d} "
        f"{r['watchdog_warnings']:9d}"
    )
    return cost, loop


def machine() -> str:
    from importlib.metadata import version

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, load average {load}; Python {sys.version.split()[0]}, "
        f"apache-airflow {version('apache-airflow')}, aiohttp {version('aiohttp')}, "
        f"apache-airflow-providers-http {version('apache-airflow-providers-http')}"
    )


def parent(args: argparse.Namespace) -> int:
    sizes = [int(x) for x in args.n.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    jobs = max(sizes)
    tmp = Path(tempfile.mkdtemp(prefix="baas-density-"))
    scenario, log, setup = tmp / "scenario.json", tmp / "requests.log", tmp / "setup.json"
    write_scenario(scenario, jobs, args.summary_details)
    t0 = time.monotonic()
    proc, url = start_simulator(scenario, log)
    results: dict[int, dict[str, dict]] = {}
    try:
        executions = asyncio.run(start_executions(url, jobs))
        setup.write_text(json.dumps({"url": url, "log": str(log), "executions": executions}))
        print(machine(), flush=True)
        print(
            f"simulator {url} (separate process, time scale 1): {jobs} jobs x {HISTORY} past executions, "
            f"one pending execution each, job summaries show the {args.summary_details} execution; "
            f"ready in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        env = dict(os.environ)
        env.update(
            AIRFLOW_HOME=str(tmp / "airflow-home"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW_CONN_BAAS_DEFAULT=json.dumps(
                {"conn_type": "baas", "host": url, "password": TOKEN, "extra": {"site_id": SITE}}
            ),
            AIRFLOW_CONN_HTTP_DEFAULT=json.dumps({"conn_type": "http", "host": url}),
        )
        for n in sizes:
            results[n] = {}
            for variant in variants:
                t1 = time.monotonic()
                child_env = env
                if variant == "ours-main":
                    if not args.main_path:
                        raise SystemExit("ours-main needs --main-path (a checkout of the other code)")
                    child_env = {**env, "PYTHONPATH": args.main_path}
                r = run_child(variant, n, args, child_env, setup)
                r.update(count_polls(log, r["log_start"], r["log_end"]))
                r["polls"] = r["job"] + r["listing"]
                r["listing_requests"] = r["listing"]
                r["polls_per_s"] = r["polls"] / r["window_s"]
                r["cpu_per_1000"] = r["cpu_s"] / max(r["polls"], 1) * 1000
                # Per wake-up of a waiting task (a poll, however many requests it makes).
                wakeups = n * r["window_s"] / args.interval
                r["requests_per_wakeup"] = r["polls"] / wakeups
                r["cpu_ms_per_wakeup"] = r["cpu_s"] / wakeups * 1000
                results[n][variant] = r
                print(
                    f"  N={n:5d} {variant:5s}: {r['polls']} polls in {r['window_s']:.1f} s, "
                    f"CPU {r['cpu_s']:.2f} s (user {r['user_s']:.2f}, sys {r['sys_s']:.2f}), "
                    f"{r['voluntary_switches']} voluntary context switches, "
                    f"{r['log_lines']} log lines; per poll: {r['requests_per_wakeup']:.2f} requests, "
                    f"{r['cpu_ms_per_wakeup']:.3f} ms CPU ({time.monotonic() - t1:.0f} s)",
                    flush=True,
                )
        breakdown = {} if args.no_breakdown else run_child("breakdown", 3000, args, env, setup)["breakdown"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    report(results, args)
    if not breakdown:
        return 0
    print(
        "\nwhere our CPU per poll goes (best of 5 rounds of 3,000 requests through each layer, 10 at a time, "
        "same simulator):"
    )
    previous = None
    for name, us in breakdown.items():
        extra = f"  ({us - previous:+.0f})" if previous is not None else ""
        print(f"  {name:42s} {us:6.0f} us{extra}")
        previous = us
    print(f"\n{machine()}; took {time.monotonic() - t0:.0f} s")
    return 0


def report(results: dict[int, dict[str, dict]], args: argparse.Namespace) -> None:
    print()
    print(
        f"poll interval {args.interval:g} s for every variant, window {args.window:g} s after "
        f"{args.interval + args.settle:g} s of ramp-up; CPU = user+sys of the polling process"
    )
    checks: list[tuple[str, bool]] = []
    for n, by_variant in results.items():
        print(f"\nN = {n:,}")
        print("  variant  CPU s/1000 polls   polls/s achieved / intended   KB/trigger  peak RSS MB")
        rows = {variant: fmt_rows(variant, r, args.interval) for variant, r in by_variant.items()}
        for cost, _ in rows.values():
            print(cost)
        print("  variant  max stall ms  p99 ms  max w/o full GC  full GCs  full GC ms  listings  blocked*")
        for _, loop in rows.values():
            print(loop)
        ours = by_variant.get("ours")
        if ours is None:
            continue
        for other in ABLATIONS:
            if (o := by_variant.get(other)) is not None:
                cpu, cpu_o = ours["cpu_ms_per_wakeup"], o["cpu_ms_per_wakeup"]
                req, req_o = ours["requests_per_wakeup"], o["requests_per_wakeup"]
                mem = ours["rss_per_trigger_kb"] / o["rss_per_trigger_kb"]
                print(
                    f"  ours/{other}: CPU per poll {cpu / cpu_o:5.2f}x ({cpu:.3f} vs {cpu_o:.3f} ms), "
                    f"requests per poll {req:.2f} vs {req_o:.2f}, memory per trigger {mem:5.2f}x"
                )
        for base, target in (("floor", 1.5), ("floorc", None), ("http", 0.33)):
            b = by_variant.get(base)
            if b is None:
                continue
            cpu = ours["cpu_per_1000"] / b["cpu_per_1000"]
            mem = ours["rss_per_trigger_kb"] / b["rss_per_trigger_kb"]
            print(f"  ours/{base:6s}: CPU per poll {cpu:5.2f}x   memory per trigger {mem:5.2f}x")
            if target is not None:  # floorc is context: the targets are set against floor and http
                checks.append((f"N={n:,}: CPU per poll ours/{base} {cpu:.2f} <= {target}", cpu <= target))
        if n == max(results):
            kb = ours["rss_per_trigger_kb"]
            checks.append((f"N={n:,}: RSS per pending trigger {kb:.1f} KB <= 30 KB", kb <= 30))
        checks.append(
            (
                f"N={n:,}: longest event-loop stall {ours['max_stall_ms']:.0f} ms <= 100 ms",
                ours["max_stall_ms"] <= 100,
            )
        )
        checks.append(
            (
                f"N={n:,}: longest stall outside full GCs {ours['max_stall_no_full_gc_ms']:.0f} ms <= 100 ms",
                ours["max_stall_no_full_gc_ms"] <= 100,
            )
        )
    print("  * warnings the triggerer's block watchdog would log (loop blocked > 0.1 s past its 0.1 s nap)")
    print()
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")


# ------------------------------------------------------------------------------------------------
# Child: one variant, one N, one fresh process


class GcWatch:
    """Pauses of the cyclic garbage collector (a full collection walks every object of the process)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self.full: list[tuple[float, float]] = []  # perf_counter intervals of full collections
        self.recording = False
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self.recording:
            end = time.perf_counter()
            self.pauses.append((info["generation"], end - self._start))
            if info["generation"] == 2:
                self.full.append((self._start, end))


class LoopBusy:
    """How long each event-loop iteration was busy: the time from the selector returning events to
    the loop asking it for the next ones. Nothing can run in between, so the longest iteration is
    the longest stall. Measured without a heartbeat task, which would wake the loop 100 times per
    second and add its own CPU to every variant.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.samples: list[tuple[float, float]] = []  # (perf_counter when busy began, busy seconds)
        self.recording = False
        self._returned: float | None = None
        selector = loop._selector  # type: ignore[attr-defined]  # the default (selector) event loop
        original = selector.select

        def select(timeout: float | None = None) -> Any:
            now = time.perf_counter()
            if self.recording and self._returned is not None:
                self.samples.append((self._returned, now - self._returned))
            events = original(timeout)
            self._returned = time.perf_counter()
            return events

        selector.select = select

    def outside(self, intervals: list[tuple[float, float]]) -> list[float]:
        """Busy times of the iterations that did not overlap any of ``intervals``."""
        return [
            busy
            for began, busy in self.samples
            if not any(start < began + busy and end > began for start, end in intervals)
        ]


class BlockWatchdog:
    """What the triggerer's loop also runs (``TriggerRunner.block_watchdog``): every 100 ms, a warning
    when the sleep took over 0.2 s ("Triggerer's async thread was blocked"). Counted, not logged."""

    def __init__(self) -> None:
        self.warnings = 0
        self.recording = False

    async def run(self) -> None:
        while True:
            last = time.monotonic()
            await asyncio.sleep(0.1)
            if self.recording and time.monotonic() - last > 0.2:
                self.warnings += 1


def make_poller(variant: str, setup: dict[str, Any], interval: float, index: int, n_waiting: int) -> Any:
    """An async-iterator factory for one waiting task of the variant (created before the window)."""
    url = setup["url"]
    job = FIRST_JOB + index
    if variant.startswith("ours"):
        from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

        # Every poll at the interval: no history-aware spacing (the jobs' histories would space
        # these polls out to max_poll_gap; poll_efficiency.py measures that), so CPU per poll
        # compares like with like. The "before" code (ours-main) has no such parameter.
        spacing = {} if variant == "ours-main" else {"max_poll_gap": interval}
        trigger = BaasExecutionTrigger(
            job_id=str(job),
            execution_id=setup["executions"][index],
            poll_interval=interval,
            first_interval=interval,
            **spacing,
        )
        return trigger.run
    if variant == "http":
        from airflow.providers.http.triggers.http import HttpSensorTrigger

        trigger = HttpSensorTrigger(
            endpoint=f"/data-protection/v2/sites/{SITE}/jobs/{MISSING_JOB}",
            http_conn_id="http_default",
            method="GET",
            headers={"Authorization": f"Bearer {TOKEN}"},
            poke_interval=interval,
        )
        return trigger.run
    target = f"{url}/data-protection/v2/sites/{SITE}/jobs/{job}"
    if variant == "floorc":
        from airflow_provider_baas.polling import coalesced
    else:

        def coalesced(wait: float, now: float, waiting: int) -> float:
            return wait

    async def floor() -> Any:
        session = FLOOR_SESSION[0]
        loop = asyncio.get_running_loop()
        while True:
            async with session.get(target) as r:
                await r.read()
            await asyncio.sleep(coalesced(interval, loop.time(), n_waiting))
        yield  # pragma: no cover - an async generator like trigger.run()

    return floor


FLOOR_SESSION: list[Any] = []


def unshare() -> None:
    """Each trigger with its own connection config, authenticator, transport and policies."""
    from airflow_provider_baas.hooks import baas as hook_module
    from airflow_provider_baas.hooks.auth import authenticator_for
    from airflow_provider_baas.hooks.transport import AsyncTransport
    from airflow_provider_baas.triggers import baas as trigger_module

    def own(self: Any, config: Any) -> None:
        self._config, self._auth, self._async = config, authenticator_for(config), AsyncTransport(config)
        self._retry = None

    hook_module.BaasHook._share_on_loop = own  # type: ignore[method-assign]
    trigger_module._shared_polling = trigger_module._shared_polling.__wrapped__
    trigger_module._shared_status_policy = trigger_module._shared_status_policy.__wrapped__


async def child_async(args: argparse.Namespace) -> dict[str, Any]:
    import gc
    import resource

    import psutil

    setup = json.loads(Path(args.setup).read_text())
    # Logging as in the triggerer's trigger-runner process: structlog JSON lines written, unbuffered, to
    # the channel the supervisor reads (here a file instead of the socket).
    from airflow.sdk.log import configure_logging, reset_logging
    from structlog.contextvars import bind_contextvars

    log_io = open(args.trigger_log, "wb", buffering=0)  # noqa: SIM115 - open for the whole run
    reset_logging()
    configure_logging(json_output=True, output=log_io, sending_to_supervisor=True)
    variant, n, interval = args.child, int(args.n), args.interval
    if args.wake_batch is not None or variant == "ours-nogrid":
        from airflow_provider_baas import polling

        polling.WAKE_BATCH = 0 if variant == "ours-nogrid" else args.wake_batch
    if variant == "ours-noshare":
        unshare()
    me = psutil.Process()
    # Import everything the variant needs before the memory baseline.
    import aiohttp

    if variant.startswith("ours"):
        import airflow_provider_baas.hooks.baas
        import airflow_provider_baas.triggers.baas  # noqa: F401
    elif variant == "http":
        import airflow.providers.http.triggers.http  # noqa: F401
    else:
        FLOOR_SESSION.append(aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}))
    gc.collect()
    if args.gc_freeze:  # what a triggerer could do after start-up: full GCs then skip this heap
        gc.freeze()
    rss0 = me.memory_info().rss

    async def waiter(i: int, run: Any) -> None:
        await asyncio.sleep(i * interval / n)  # spread the starts over one interval
        bind_contextvars(trigger_id=i)  # as the triggerer's TriggerRunner does for each trigger
        async for _event in run():
            raise RuntimeError(f"{variant} task {i} fired: {_event}")

    gc_watch = GcWatch()
    gc.callbacks.append(gc_watch)
    loop_busy = LoopBusy(asyncio.get_running_loop())
    watchdog = BlockWatchdog()
    watchdog_task = asyncio.create_task(watchdog.run())
    tasks = [asyncio.create_task(waiter(i, make_poller(variant, setup, interval, i, n))) for i in range(n)]
    await asyncio.sleep(interval + args.settle)
    rss_samples = []
    failed = [t for t in tasks if t.done()]
    if failed:
        failed[0].result()
    log = Path(setup["log"])
    log_start = log.stat().st_size
    loop_busy.recording = gc_watch.recording = watchdog.recording = True
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    deadline = t0 + args.window
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(1.0, left))
        rss_samples.append(me.memory_info().rss)
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    t1 = time.monotonic()
    log_end = log.stat().st_size
    loop_busy.recording = gc_watch.recording = watchdog.recording = False
    failed = [t for t in tasks if t.done()]
    if failed:
        failed[0].result()
    for t in [*tasks, watchdog_task]:
        t.cancel()
    await asyncio.gather(*tasks, watchdog_task, return_exceptions=True)
    if FLOOR_SESSION:
        await FLOOR_SESSION[0].close()
    stalls = sorted(busy for _, busy in loop_busy.samples) or [0.0]
    no_gc = sorted(loop_busy.outside(gc_watch.full)) or [0.0]
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    rss_window = statistics.median(rss_samples)
    return {
        "variant": variant,
        "n": n,
        "window_s": t1 - t0,
        "cpu_s": cpu,
        "log_start": log_start,
        "log_end": log_end,
        "rss_base_mb": rss0 / 2**20,
        "rss_window_mb": rss_window / 2**20,
        "rss_per_trigger_kb": (rss_window - rss0) / n / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "max_stall_ms": 1000 * stalls[-1],
        "p99_stall_ms": 1000 * stalls[int(0.99 * (len(stalls) - 1))],
        "loop_iterations": len(stalls),
        "watchdog_warnings": watchdog.warnings,
        "max_stall_no_full_gc_ms": 1000 * no_gc[-1],
        "full_gc_max_ms": 1000 * max((e - b for b, e in gc_watch.full), default=0.0),
        "gc_max_ms": 1000 * max((p for _, p in gc_watch.pauses), default=0.0),
        "gc_full": sum(1 for g, _ in gc_watch.pauses if g == 2),
        "gc_young": sum(1 for g, _ in gc_watch.pauses if g < 2),
        "gc_ms_total": 1000 * sum(p for _, p in gc_watch.pauses),
        "involuntary_switches": usage1.ru_nivcsw - usage0.ru_nivcsw,
        "voluntary_switches": usage1.ru_nvcsw - usage0.ru_nvcsw,
        "user_s": usage1.ru_utime - usage0.ru_utime,
        "sys_s": usage1.ru_stime - usage0.ru_stime,
    }


async def breakdown_async(args: argparse.Namespace) -> dict[str, float]:
    """CPU per request through each layer of our poll, 10 at a time, against the same simulator."""
    import aiohttp
    from airflow.sdk.log import configure_logging, reset_logging

    from airflow_provider_baas.hooks.baas import BaasHook
    from airflow_provider_baas.hooks.transport import RequestSpec, close_shared_sessions
    from airflow_provider_baas.polling import log_wait
    from airflow_provider_baas.triggers.baas import BaasExecutionTrigger

    log_io = open(args.trigger_log, "wb", buffering=0)  # noqa: SIM115 - open for the whole run
    reset_logging()
    configure_logging(json_output=True, output=log_io, sending_to_supervisor=True)
    setup = json.loads(Path(args.setup).read_text())
    count, workers = int(args.n), 10
    jobs = min(count, len(setup["executions"]))
    target = f"{setup['url']}/data-protection/v2/sites/{SITE}/jobs/"
    hook = BaasHook()
    triggers = [
        BaasExecutionTrigger(job_id=str(FIRST_JOB + i), execution_id=setup["executions"][i])
        for i in range(jobs)
    ]
    watches = [t._watch() for t in triggers]
    out: dict[str, float] = {}

    async def measure(name: str, one: Any) -> None:
        """Best of 5 rounds (after a warm-up): the layers differ by tens of us, the noise is as large."""

        async def worker(k: int) -> None:
            for i in range(k, count, workers):
                await one(i % jobs)

        await asyncio.gather(*(worker(k) for k in range(workers)))  # warm-up round
        rounds = []
        for _ in range(5):
            t = time.process_time()
            await asyncio.gather(*(worker(k) for k in range(workers)))
            rounds.append((time.process_time() - t) / count * 1e6)
        out[name] = min(rounds)

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:

        async def bare(i: int) -> None:
            async with session.get(target + str(FIRST_JOB + i)) as r:
                await r.read()

        await measure("aiohttp GET + read (the floor's poll)", bare)

    async def transport(i: int) -> None:
        await hook._async.send(
            RequestSpec("GET", f"/sites/{SITE}/jobs/{FIRST_JOB + i}"), hook._auth.headers()
        )

    async def poll(i: int) -> None:
        await hook.apoll_execution(
            str(FIRST_JOB + i), setup["executions"][i], is_running=triggers[i]._is_running
        )

    async def watch(i: int) -> None:
        await triggers[i]._poll(hook, watches[i], triggers[i]._is_running)

    async def logged(i: int) -> None:  # as the trigger's wait loop does: INFO only when worth reporting
        decision = await triggers[i]._poll(hook, watches[i], triggers[i]._is_running)
        log_wait(triggers[i].log, decision)

    async def info_line(i: int) -> None:
        decision = await triggers[i]._poll(hook, watches[i], triggers[i]._is_running)
        triggers[i].log.info("%s", decision.message)

    await hook.apoll_execution(str(FIRST_JOB), setup["executions"][0])  # connection, auth, transport
    await measure("+ our transport (AsyncTransport.send)", transport)
    await measure("+ the hook's poll plan (apoll_execution)", poll)
    await measure("+ the watch (trigger._poll)", watch)
    await measure("+ logging it (log_wait: DEBUG unless reported)", logged)
    await measure("  (an INFO line on every poll instead)", info_line)
    await close_shared_sessions()
    return out


def child(args: argparse.Namespace) -> int:
    if args.child == "breakdown":
        result: dict[str, Any] = {"breakdown": asyncio.run(breakdown_async(args))}
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    result = asyncio.run(child_async(args))
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", default="1000,5000", help="comma-separated trigger counts")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of every variant (s)")
    parser.add_argument("--window", type=float, default=30.0, help="measured window (s)")
    parser.add_argument("--settle", type=float, default=5.0, help="extra ramp-up after one interval (s)")
    parser.add_argument("--child", choices=(*VARIANTS, *ABLATIONS, "breakdown"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--summary-details",
        choices=("latest", "finished"),
        default="latest",
        help="what the simulator's job summaries show: the latest execution, or the latest finished one",
    )
    parser.add_argument("--main-path", help="a checkout whose package the ours-main variant imports")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-layer breakdown")
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    parser.add_argument("--trigger-log", help=argparse.SUPPRESS)
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after imports, before the triggers start"
    )
    parser.add_argument(
        "--wake-batch",
        type=int,
        default=None,
        help="polls per wake-up our triggers and floorc aim for; 0 = not coalesced (default: the package's)",
    )
    args = parser.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
