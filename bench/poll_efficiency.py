"""Polling efficiency: API calls and detection latency of the polling policy vs fixed intervals.

Computed from ``PollingPolicy.next_wait`` itself, without waiting. Executions last from 30 s to
6 h: 60 durations spaced evenly on a log scale, each shifted by 8 phases (0, 7.5, ..., 52.5 s) so
the end falls at every point of a 30 s or 60 s polling grid: 480 executions. The wait starts with
the execution (the operator starts the job and polls at once), then follows each policy; the
detection latency is the time from the end of the execution to the first poll that sees it.

Every poll is one API call (the job's summary, J2). The poll that sees the end also reads the job's
executions listing once (the summary has no ``status_detail``); that extra call is the same for
every policy and counted for all. Policies:

* ``fixed 30 s`` and ``fixed 60 s``: what a plain sensor with ``poke_interval`` 30/60 would do.
* ``ours``: the default ``PollingPolicy()`` (the operator's, the sensor's and the trigger's).
* ``ours, 5 s / 60 s``: the schedule before tuning (first wait 5 s, cap 60 s), for reference.
* ``ours + expected``: the default policy told the job's typical duration, off by up to +-15%
  (the operator does not pass one today; the trigger accepts ``expected_duration``)::

    .venv-bench/bin/python bench/poll_efficiency.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable

from airflow_provider_baas.polling import PollingPolicy

MIN_DURATION, MAX_DURATION = 30.0, 6 * 3600.0
BANDS = ((30, 120, "30 s-2 min"), (120, 600, "2-10 min"), (600, 3600, "10-60 min"), (3600, 1e9, "1-6 h"))

NextWait = Callable[[float, float], float]  # (elapsed, true duration) -> seconds to the next poll


def durations(count: int, phases: int, phase_step: float) -> list[float]:
    ratio = MAX_DURATION / MIN_DURATION
    spaced = [MIN_DURATION * ratio ** (k / (count - 1)) for k in range(count)]
    return [d + j * phase_step for d in spaced for j in range(phases)]


def simulate(next_wait: NextWait, duration: float) -> tuple[int, float]:
    """(API calls, detection latency) for one execution: poll at 0, then as the policy says."""
    t, polls = 0.0, 0
    while True:
        polls += 1
        if t >= duration:
            return polls + 1, t - duration  # + the listing read once the end is seen
        t += next_wait(t, duration)


def fixed(interval: float) -> NextWait:
    return lambda elapsed, duration: interval


def policy(p: PollingPolicy) -> NextWait:
    return lambda elapsed, duration: p.next_wait(elapsed)


def policy_expected(p: PollingPolicy, noise: float, seed: int = 7) -> NextWait:
    rng = random.Random(seed)
    guesses: dict[float, float] = {}

    def next_wait(elapsed: float, duration: float) -> float:
        if duration not in guesses:
            guesses[duration] = duration * (1 + rng.uniform(-noise, noise))
        return p.next_wait(elapsed, guesses[duration])

    return next_wait


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--durations", type=int, default=60)
    parser.add_argument("--phases", type=int, default=8)
    parser.add_argument("--phase-step", type=float, default=7.5)
    parser.add_argument("--noise", type=float, default=0.15, help="error of the expected duration (share)")
    args = parser.parse_args()

    execs = durations(args.durations, args.phases, args.phase_step)
    default = PollingPolicy()
    policies: dict[str, NextWait] = {
        "fixed 30 s": fixed(30.0),
        "fixed 60 s": fixed(60.0),
        "ours": policy(default),
        "ours, 5 s / 60 s": policy(PollingPolicy(poll_interval=60.0, first_interval=5.0)),
        "ours + expected": policy_expected(default, args.noise),
    }
    results = {name: [simulate(nw, d) for d in execs] for name, nw in policies.items()}

    print(
        f"{len(execs)} executions of 30 s to 6 h "
        f"({args.durations} log-spaced durations x {args.phases} phases); "
        f"default policy: first wait {default.first_interval:g} s, {default.ramp:g} x time waited, "
        f"at most {default.poll_interval:g} s"
    )
    base_calls = sum(c for c, _ in results["fixed 30 s"])
    print(
        f"\n  {'policy':18s} {'API calls':>9s} {'vs 30 s':>8s} {'latency median':>15s} "
        f"{'mean':>6s} {'p90':>6s} {'max':>6s}"
    )
    for name, rs in results.items():
        calls = sum(c for c, _ in rs)
        lat = [latency for _, latency in rs]
        print(
            f"  {name:18s} {calls:9d} {calls / base_calls:8.1%} {statistics.median(lat):13.1f} s "
            f"{statistics.mean(lat):6.1f} {percentile(lat, 0.9):6.1f} {max(lat):6.1f}"
        )

    print("\n  per execution, by duration: API calls / median detection latency (s)")
    print("  " + f"{'policy':18s}" + "".join(f"{label:>20s}" for _, _, label in BANDS))
    for name, rs in results.items():
        cells = []
        for low, high, _ in BANDS:
            band = [r for d, r in zip(execs, rs, strict=True) if low <= d < high]
            calls = statistics.mean(c for c, _ in band)
            cells.append(f"{calls:8.1f} / {statistics.median(latency for _, latency in band):6.1f} s")
        print(f"  {name:18s}" + "".join(f"{cell:>20s}" for cell in cells))

    ours_calls = sum(c for c, _ in results["ours"])
    ours_median = statistics.median(latency for _, latency in results["ours"])
    f60_median = statistics.median(latency for _, latency in results["fixed 60 s"])
    print()
    for text, ok in (
        (f"API calls {ours_calls / base_calls:.1%} of fixed 30 s <= 50%", ours_calls <= 0.5 * base_calls),
        (
            f"median detection latency {ours_median:.1f} s <= fixed 60 s's {f60_median:.1f} s",
            ours_median <= f60_median,
        ),
    ):
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
