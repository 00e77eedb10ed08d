"""Polling efficiency: API calls and detection latency of the polling policy vs fixed intervals.

Computed from ``PollingPolicy.next_wait`` and ``LookupChoice`` themselves, without waiting.
Executions last from 30 s to 6 h: 60 durations spaced evenly on a log scale, each shifted by 8
phases (0, 7.5, ..., 52.5 s) so the end falls at every point of a 30 s or 60 s polling grid: 480
executions. The wait starts with the execution (the operator starts the job and polls at once),
then follows each policy; the detection latency is the time from the end of the execution to the
first poll that sees it.

API calls per poll follow the lookup each poll makes (``LookupChoice``), against the two ways an
API may fill a job summary's ``last_execution_details``:

* ``latest``: the newest execution, running or not (the simulator's default). One call per poll
  (the summary); the poll that sees the end also reads the listing (the summary has no
  ``status_detail``).
* ``finished``: only the newest *finished* one. The first poll reads the summary, finds another
  execution there and reads the listing; then one listing read per poll, and the summary again
  every ``LOOKUP_RECHECK_EVERY`` polls. Before this lookup choice, every poll read both.

Fixed intervals (what a plain sensor with ``poke_interval`` 30/60 would do) are counted like the
``latest`` case: one call per poll plus the final listing read. Policies:

* ``ours``: the default ``PollingPolicy()`` with no history (a job that never ran, or a sensor
  given an execution of a job without three successful runs).
* ``ours + history``: the same policy told the job's usual duration the way the operator learns
  it: the median and spread of its last 10 successful runs (``ExpectedDuration.from_durations``).
  A *stable* history: every run, past and current, lasts the typical duration +- ``--spread``
  (uniform, default 10%); the run being waited for may fall outside its history's span. The
  other spreads are printed to show how the figures move.

    .venv-bench/bin/python bench/poll_efficiency.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable

from airflow_provider_baas.polling import (
    LOOKUP_RECHECK_EVERY,
    ExpectedDuration,
    Lookup,
    LookupChoice,
    PollingPolicy,
)

MIN_DURATION, MAX_DURATION = 30.0, 6 * 3600.0
BANDS = ((30, 120, "30 s-2 min"), (120, 600, "2-10 min"), (600, 3600, "10-60 min"), (3600, 1e9, "1-6 h"))
HISTORY_RUNS = 10
# Targets (BENCHMARKS.md): calls with a stable history, and no policy worse than before.
HISTORY_CALLS_TARGET = 0.15

NextWait = Callable[[float], float]  # elapsed -> seconds to the next poll
Case = tuple[float, NextWait]  # (true duration, schedule of its wait)


def durations(count: int, phases: int, phase_step: float) -> list[float]:
    ratio = MAX_DURATION / MIN_DURATION
    spaced = [MIN_DURATION * ratio ** (k / (count - 1)) for k in range(count)]
    return [d + j * phase_step for d in spaced for j in range(phases)]


def poll_times(next_wait: NextWait, duration: float) -> list[float]:
    """When each poll happens: at 0, then as the schedule says, until one sees the end."""
    t, times = 0.0, []
    while True:
        times.append(t)
        if t >= duration:
            return times
        t += next_wait(t)


def calls(polls: int, summary: str) -> int:
    """API requests for ``polls`` polls by ``LookupChoice``; the last poll sees the end."""
    if summary == "latest":
        return polls + 1  # the summary per poll, the listing once at the end
    choice, total = LookupChoice(), 0
    for k in range(polls):
        if choice.next() is Lookup.LISTING:
            total += 1
            choice.learn(None)
            continue
        final = k == polls - 1
        # The summary names a finished execution: ours at the end (the record comes from the
        # listing), another one before; the listing is read either way.
        total += 2
        choice.learn(final)
    return total


def fixed(interval: float) -> NextWait:
    return lambda elapsed: interval


def stable_history(
    typical: float, spread: float, rng: random.Random
) -> tuple[float, ExpectedDuration | None]:
    """(the current run's duration, what its last HISTORY_RUNS successful runs say)."""
    runs = [typical * (1 + rng.uniform(-spread, spread)) for _ in range(HISTORY_RUNS + 1)]
    return runs[0], ExpectedDuration.from_durations(runs[1:])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Result = list[tuple[float, int, int, float]]  # (duration, polls, calls if finished-only, latency)


def run(cases: list[Case]) -> Result:
    out = []
    for duration, next_wait in cases:
        times = poll_times(next_wait, duration)
        out.append((duration, len(times), calls(len(times), "finished"), times[-1] - duration))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--durations", type=int, default=60)
    parser.add_argument("--phases", type=int, default=8)
    parser.add_argument("--phase-step", type=float, default=7.5)
    parser.add_argument("--spread", type=float, default=0.10, help="night-to-night spread of a stable job")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    execs = durations(args.durations, args.phases, args.phase_step)
    default = PollingPolicy()
    policies: dict[str, list[Case]] = {
        "fixed 30 s": [(d, fixed(30.0)) for d in execs],
        "fixed 60 s": [(d, fixed(60.0)) for d in execs],
        "ours": [(d, default.next_wait) for d in execs],
    }
    spreads = sorted({args.spread, 0.05, 0.10, 0.20})
    for spread in spreads:
        rng = random.Random(args.seed)
        cases: list[Case] = []
        for typical in execs:
            duration, expected = stable_history(typical, spread, rng)
            cases.append((duration, lambda e, x=expected: default.next_wait(e, x)))
        policies[f"ours + history +-{spread:.0%}"] = cases
    results = {name: run(cases) for name, cases in policies.items()}

    print(
        f"{len(execs)} executions of 30 s to 6 h ({args.durations} log-spaced durations x "
        f"{args.phases} phases); default policy: first wait {default.first_interval:g} s, "
        f"{default.ramp:g} x time waited, at most {default.poll_interval:g} s; with a history at most "
        f"{default.max_poll_gap:g} s apart before its shortest recent run would end; lookup recheck "
        f"every {LOOKUP_RECHECK_EVERY} polls"
    )
    base_calls = sum(polls + 1 for _, polls, _, _ in results["fixed 30 s"])
    print(
        f"\n  {'policy':24s} {'API calls':>9s} {'vs 30 s':>8s} {'finished-only':>13s} {'vs 30 s':>8s} "
        f"{'was (2/poll)':>12s} {'latency median':>15s} {'mean':>6s} {'p90':>6s} {'max':>7s}"
    )
    summary: dict[str, tuple[float, float]] = {}
    for name, rs in results.items():
        latest = sum(polls + 1 for _, polls, _, _ in rs)
        finished = sum(c for _, _, c, _ in rs)
        before = sum(2 * polls for _, polls, _, _ in rs)
        lat = [latency for _, _, _, latency in rs]
        summary[name] = (latest / base_calls, statistics.median(lat))
        finished_cell = "" if name.startswith("fixed") else f"{finished:13d} {finished / base_calls:8.1%}"
        before_cell = "" if name.startswith("fixed") else f"{before / base_calls:12.1%}"
        print(
            f"  {name:24s} {latest:9d} {latest / base_calls:8.1%} {finished_cell:>22s} {before_cell:>12s} "
            f"{statistics.median(lat):13.1f} s {statistics.mean(lat):6.1f} {percentile(lat, 0.9):6.1f} "
            f"{max(lat):7.1f}"
        )

    print("\n  per execution, by duration: API calls (latest summary) / median detection latency (s)")
    print("  " + f"{'policy':24s}" + "".join(f"{label:>20s}" for _, _, label in BANDS))
    for name, rs in results.items():
        cells = []
        for low, high, _ in BANDS:
            band = [r for d, r in zip(execs, rs, strict=True) if low <= d < high]
            mean_calls = statistics.mean(polls + 1 for _, polls, _, _ in band)
            median_latency = statistics.median(latency for _, _, _, latency in band)
            cells.append(f"{mean_calls:8.1f} / {median_latency:6.1f} s")
        print(f"  {name:24s}" + "".join(f"{cell:>20s}" for cell in cells))

    f30_median = summary["fixed 30 s"][1]
    f60_median = summary["fixed 60 s"][1]
    ours_ratio, ours_median = summary["ours"]
    hist_ratio, hist_median = summary[f"ours + history +-{args.spread:.0%}"]
    print()
    for text, ok in (
        (f"no history: API calls {ours_ratio:.1%} of fixed 30 s <= 50%", ours_ratio <= 0.5),
        (
            f"no history: median detection latency {ours_median:.1f} s <= fixed 60 s's {f60_median:.1f} s",
            ours_median <= f60_median,
        ),
        (
            f"stable history (+-{args.spread:.0%}): API calls {hist_ratio:.1%} of fixed 30 s "
            f"<= {HISTORY_CALLS_TARGET:.0%}",
            hist_ratio <= HISTORY_CALLS_TARGET,
        ),
        (
            f"stable history (+-{args.spread:.0%}): median detection latency {hist_median:.1f} s "
            f"<= fixed 30 s's {f30_median:.1f} s",
            hist_median <= f30_median,
        ),
    ):
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
