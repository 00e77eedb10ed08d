"""How often to poll, and what each poll means: one policy for the operator, the sensor and the trigger.

``PollingPolicy`` turns "how long have we waited" (and, when known, how long the job's recent
successful runs took: ``ExpectedDuration``) into the next wait: short at first so quick jobs are
seen finishing quickly, growing to ``poll_interval`` so long backups cost few calls; with a
history, sparse (at most ``max_poll_gap``) until the job's usual end nears, dense around it.

``LookupChoice`` learns which lookup answers a wait's polls with one request: the job summary
when it names the execution, else the executions listing.

``ExecutionWatch`` is the wait itself without any I/O: feed it each poll's execution (or error)
and it answers success / failed / timeout / error, or "wait N seconds". The blocking loop of the
operator, the sensor's poke and the async trigger all drive the same watch.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_baas.durations import format_duration
from airflow_provider_baas.errors import (
    BaasAuthError,
    BaasError,
    BaasExecutionNotFound,
    BaasRateLimitedError,
    BaasResponseError,
    BaasServerError,
    BaasTransportError,
    BaasValidationError,
)
from airflow_provider_baas.status import Outcome, StatusPolicy

if TYPE_CHECKING:  # annotations only: DAG files import this module, the API models are for run time
    from airflow_provider_baas.models import Execution

# The schedule: 15 s until 75 s waited, then 20% of the time waited so far (30 s at 2.5 min), at
# most 75 s from 6.25 min on. Over backups of 30 s to 6 h this makes under half the calls of fixed
# 30 s polling and sees the end sooner than fixed 60 s polling (median), see bench/poll_efficiency.py:
# a 60 s cap alone can never go under half of 30 s polling on long backups, which hold most calls,
# and a 5 s start spent ~10 extra calls per wait to save seconds on jobs that last minutes.
DEFAULT_POLL_INTERVAL = 75.0
DEFAULT_FIRST_INTERVAL = 15.0
DEFAULT_RAMP = 0.2
# With a history: the longest wait before the job's usual end is this many poll intervals (10 min
# with the default 75 s), so a failure early in a long backup is still seen within it; and about
# WINDOW_POLLS polls across the span of its recent durations (each at most poll_interval apart),
# where the end is likely.
MAX_POLL_GAP_FACTOR = 8
WINDOW_POLLS = 8
# The recent successful runs a history is made of, and the fewest that make one.
HISTORY_SIZE = 10
MIN_HISTORY = 3
# A wait that polls the listing (the summary did not name its execution) tries the summary again
# on every this many polls: one request per poll, plus one every LOOKUP_RECHECK_EVERY polls while
# the summary still cannot answer.
LOOKUP_RECHECK_EVERY = 10
# Waiting triggers wake up on a shared grid, so the triggerer's loop wakes once for a batch of about
# WAKE_BATCH polls instead of once per poll (at 100 polls/s that halves its CPU per poll, see
# bench/). The batch is kept small because polls that run together keep more objects alive at
# once, which makes CPython's full garbage collections (stalls of the whole loop) more frequent.
WAKE_BATCH = 8
MAX_WAKE_GRID = 1.0
MIN_WAKE_GRID = 1 / 256  # finer than this the loop is busy anyway: no coalescing
# Transient errors tolerated in a row, and for how long without one good poll, before giving up.
DEFAULT_MAX_CONSECUTIVE_ERRORS = 10
DEFAULT_ERROR_WINDOW = 900.0
# A just-started execution may take a while to appear in the job's listing.
DEFAULT_NOT_FOUND_GRACE = 300.0
# A wait reports (logs at INFO) when the status changes, and otherwise at most this often: a 6 h
# backup then writes ~75 progress lines instead of ~290, and the triggerer does not format and
# ship a log line for every poll of thousands of waits (the other polls are logged at DEBUG).
DEFAULT_REPORT_EVERY = 300.0


class WaitState(enum.StrEnum):
    """What a poll decided, and the ``status`` of the trigger event that ends a wait."""

    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"
    FRESH = "fresh"  # the freshness wait's success: a good backup recent enough
    WAIT = "wait"


SUCCESS, FAILED, TIMEOUT, ERROR, FRESH, WAIT = (
    WaitState.SUCCESS,
    WaitState.FAILED,
    WaitState.TIMEOUT,
    WaitState.ERROR,
    WaitState.FRESH,
    WaitState.WAIT,
)
# How a wait for an execution ends (and the statuses of BaasExecutionTrigger's events).
FINAL_STATES = (SUCCESS, FAILED, TIMEOUT, ERROR)
# How any wait ends: the freshness wait's success is FRESH.
ENDS_A_WAIT = (*FINAL_STATES, FRESH)


class DeadlineKind(enum.StrEnum):
    """Which limit a wait's deadline is: the wait's own ``timeout`` or the task's ``execution_timeout``."""

    TIMEOUT = "timeout"
    EXECUTION_TIMEOUT = "execution_timeout"


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _median(values: Sequence[float]) -> float:
    # Not statistics.median: DAG files import this module, and statistics pulls in fractions,
    # decimal and random.
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class ExpectedDuration:
    """How long a job usually takes: the median of its recent successful runs, and how far the
    farthest of them lay from it. The job's end is expected in ``[typical - spread, typical + spread]``.

    :param typical: seconds, the median duration of the recent successful runs.
    :param spread: seconds, the largest distance of one of those runs from ``typical``.
    """

    typical: float
    spread: float = 0.0

    @property
    def earliest(self) -> float:
        """Seconds from the start to the shortest usual end (never negative)."""
        return max(0.0, self.typical - self.spread)

    @property
    def latest(self) -> float:
        """Seconds from the start to the longest usual end."""
        return self.typical + self.spread

    @classmethod
    def from_durations(cls, durations: Sequence[float]) -> ExpectedDuration | None:
        """From the durations of recent successful runs (newest first); None below ``MIN_HISTORY``.

        :param durations: seconds; only the first ``HISTORY_SIZE`` positive, finite ones count.
        """
        usable = [d for d in durations if math.isfinite(d) and d > 0][:HISTORY_SIZE]
        if len(usable) < MIN_HISTORY:
            return None
        typical = _median(usable)
        return cls(typical, max(abs(d - typical) for d in usable))

    @classmethod
    def from_history(
        cls, history: Iterable[Execution], status_policy: StatusPolicy, run_type: str | None = None
    ) -> ExpectedDuration | None:
        """From a job's executions as listed: its latest successful runs of ``run_type``.

        :param history: the job's executions, any order (the listing read before a start, or the
            page a poll read).
        :param status_policy: what counts as success.
        :param run_type: FULL, DELTA or CUMULATIVE (their durations differ); runs without one count.
        """
        done = [
            e
            for e in history
            if e.start_time is not None
            and e.end_time is not None
            and (run_type is None or e.run_type is None or e.run_type == run_type)
            and status_policy.classify(e.status) is Outcome.SUCCESS
        ]
        done.sort(key=lambda e: e.start_time, reverse=True)  # type: ignore[arg-type,return-value]
        return cls.from_durations([(e.end_time - e.start_time).total_seconds() for e in done])  # type: ignore[operator]


def as_expected(value: ExpectedDuration | float | None) -> ExpectedDuration | None:
    """An ``ExpectedDuration`` from what a caller or trigger kwargs hold (a bare number: no spread).

    :param value: an ``ExpectedDuration``, seconds (0 or less: unknown), or None.
    """
    if value is None or isinstance(value, ExpectedDuration):
        return value
    return ExpectedDuration(float(value)) if value > 0 else None


@dataclass(frozen=True)
class PollingPolicy:
    """The polling schedule: next wait from the time waited so far and the job's usual duration.

    :param poll_interval: the longest wait between polls once the job may be ending (seconds).
    :param first_interval: the shortest wait (seconds).
    :param ramp: without a history, the wait is this share of the time waited so far.
    :param max_poll_gap: with a history, the longest wait before the job's usual end (seconds):
        a failure is seen at most this long after it happens. Never below ``poll_interval``;
        None: ``MAX_POLL_GAP_FACTOR`` poll intervals (10 min with the defaults).
    """

    poll_interval: float = DEFAULT_POLL_INTERVAL
    first_interval: float = DEFAULT_FIRST_INTERVAL
    ramp: float = DEFAULT_RAMP
    max_poll_gap: float = None  # type: ignore[assignment]  # set in __post_init__ when None

    def __post_init__(self) -> None:
        if not self.poll_interval > 0:
            raise BaasValidationError(f"poll_interval must be positive, got {self.poll_interval!r}")
        if self.max_poll_gap is None:
            object.__setattr__(self, "max_poll_gap", MAX_POLL_GAP_FACTOR * self.poll_interval)
        if not self.max_poll_gap > 0:
            raise BaasValidationError(f"max_poll_gap must be positive, got {self.max_poll_gap!r}")
        if self.first_interval > self.poll_interval:
            object.__setattr__(self, "first_interval", self.poll_interval)
        if self.max_poll_gap < self.poll_interval:
            object.__setattr__(self, "max_poll_gap", self.poll_interval)

    def next_wait(self, elapsed: float, expected_duration: ExpectedDuration | float | None = None) -> float:
        """Seconds to the next poll.

        :param elapsed: seconds since the execution started (or the wait began).
        :param expected_duration: the job's usual duration, if known (a number: no spread).
        """
        expected = as_expected(expected_duration)
        if expected is None:
            return _clamp(elapsed * self.ramp, self.first_interval, self.poll_interval)
        before = expected.earliest - elapsed
        if before > 0:
            # Sparse, in equal steps of at most max_poll_gap that land on the earliest usual end.
            return _clamp(
                before / math.ceil(before / self.max_poll_gap), self.first_interval, self.max_poll_gap
            )
        if elapsed < expected.latest:
            span = expected.latest - expected.earliest
            return _clamp(span / WINDOW_POLLS, self.first_interval, self.poll_interval)
        # Later than ever recently: dense at first, then growing back to poll_interval.
        return _clamp((elapsed - expected.latest) * self.ramp, self.first_interval, self.poll_interval)

    def error_wait(self, consecutive_errors: int) -> float:
        """Back off on repeated transient errors, never beyond the normal interval.

        :param consecutive_errors: failed polls in a row (1 for the first).
        """
        return _clamp(
            self.first_interval * 2 ** (consecutive_errors - 1), self.first_interval, self.poll_interval
        )


class Lookup(enum.StrEnum):
    """How a poll reads an execution's state."""

    SUMMARY = "summary"  # GET /jobs/{id}: its last_execution_details, when they name the execution
    LISTING = "listing"  # GET /jobs/{id}/executions, up to the page that holds the execution


@dataclass(slots=True)  # one per waiting trigger: no __dict__ for the triggerer's heap
class LookupChoice:
    """Which lookup a wait's next poll uses, learned from what the summary showed.

    The summary is one small request, but an API may show only *finished* executions in it (or a
    newer run than ours); then each poll would read it and the listing too. So: the summary until
    it fails to name the running execution, then the listing alone, trying the summary again every
    ``recheck_every`` polls. A wait re-created after a restart learns again in one poll.

    :param preferred: the lookup that answered last.
    :param polls_since_check: listing-only polls since the summary was last read.
    :param recheck_every: while on the listing, every this many polls reads the summary first.
    :param once: a lookup for the next poll only (then ``preferred`` again).
    """

    preferred: Lookup = Lookup.SUMMARY
    polls_since_check: int = 0
    recheck_every: int = LOOKUP_RECHECK_EVERY
    once: Lookup | None = None

    @classmethod
    def listing_once(cls, preferred: Lookup = Lookup.SUMMARY) -> LookupChoice:
        """The listing for the first poll (its page holds the job's history too), then ``preferred``.

        :param preferred: the lookup after the first poll.
        """
        return cls(preferred, once=Lookup.LISTING)

    def next(self) -> Lookup:
        """The lookup for the next poll."""
        if self.once is not None:
            return self.once
        if self.preferred is Lookup.LISTING and self.polls_since_check + 1 >= self.recheck_every:
            return Lookup.SUMMARY
        return self.preferred

    def learn(self, summary_answered: bool | None) -> None:
        """Learn from one poll.

        :param summary_answered: True when the summary named the execution, False when it was read
            and did not, None when only the listing was read.
        """
        self.once = None
        if summary_answered is None:
            self.polls_since_check += 1
            return
        self.preferred = Lookup.SUMMARY if summary_answered else Lookup.LISTING
        self.polls_since_check = 0


def wake_grid(wait: float, waiting: int) -> float:
    """The grid (s) that puts about ``WAKE_BATCH`` of ``waiting`` waits into each wake-up.

    A power of two, so that the grids of waits of different lengths nest: every point of a
    coarser grid is a point of each finer one. 0 means no coalescing.

    :param wait: the wait, in seconds.
    :param waiting: how many waits this process runs.
    """
    if waiting < 2 or WAKE_BATCH <= 0:
        return 0.0
    grid = min(MAX_WAKE_GRID, WAKE_BATCH * wait / waiting)
    if grid < MIN_WAKE_GRID:
        return 0.0
    return 2.0 ** math.floor(math.log2(grid))


def coalesced(wait: float, now: float, waiting: int, grid: float | None = None) -> float:
    """``wait`` shortened to end on the shared wake-up grid of the clock that gave ``now``.

    ``waiting`` is how many waits this process runs (sizes the grid unless ``grid`` is given).
    Never longer than asked (a deadline-bound wait stays within the deadline); waits shorter than
    the grid are left alone.

    :param wait: the wait, in seconds.
    :param now: the current time on the clock the wait is timed with.
    :param waiting: how many waits this process runs.
    :param grid: the grid to use (None: from ``wake_grid``).
    """
    if grid is None:
        grid = wake_grid(wait, waiting)
    if grid <= 0 or wait < grid:
        return wait
    slots = math.floor((now + wait) / grid + 1e-9)  # 15.0 / 0.1 is 149.999...: still slot 150
    return min(wait, max(0.0, slots * grid - now))


def is_transient(exc: BaseException) -> bool:
    """Errors that a later poll may not see again. 401/403/404 and bad input are not transient.

    :param exc: the poll's error.
    """
    if isinstance(exc, BaasAuthError | BaasValidationError):
        return False
    return isinstance(exc, BaasTransportError | BaasRateLimitedError | BaasServerError | BaasResponseError)


@dataclass(frozen=True)
class Decision:
    """What to do after a poll: a final ``state`` with its message, or ``WAIT`` for ``wait`` seconds."""

    state: str
    message: str
    wait: float = 0.0
    execution: dict[str, Any] | None = None
    # For WAIT: whether this poll is worth an INFO line (status changed, or a while since the last).
    report: bool = True

    @property
    def final(self) -> bool:
        """Whether the wait ends here (success, failure, timeout, error or fresh)."""
        return self.state in ENDS_A_WAIT


@dataclass
class ExecutionWatch:
    """The wait for one execution, free of I/O; times are wall-clock epoch seconds."""

    job_id: str
    execution_id: str
    status_policy: StatusPolicy = field(default_factory=StatusPolicy)
    polling: PollingPolicy = field(default_factory=PollingPolicy)
    started_at: float = field(default_factory=time.time)
    deadline: float | None = None
    expected_duration: ExpectedDuration | float | None = None
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS
    error_window: float = DEFAULT_ERROR_WINDOW
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE
    clock: Callable[[], float] = time.time
    consecutive_errors: int = 0
    last_good_poll: float | None = None
    last_status: str | None = None
    # When this watch began observing: a watch re-created mid-wait (triggerer restart) measures
    # its error window from here, not from the original start of the wait.
    observing_since: float | None = None
    report_every: float = DEFAULT_REPORT_EVERY
    reported_status: str | None = None
    reported_at: float | None = None
    lookup: LookupChoice = field(default_factory=LookupChoice)
    # When the execution started (epoch seconds), from the polls: a history-aware schedule counts
    # from there, so a wait that joins a running backup is not hours late to see its end.
    execution_started: float | None = None
    # Whether a poll's listing was searched for the job's history (once per watch).
    history_read: bool = False

    def __post_init__(self) -> None:
        if self.observing_since is None:
            self.observing_since = self.clock()

    @property
    def subject(self) -> str:
        """What the wait is for, in log lines and messages."""
        return f"BaaS execution {self.execution_id} of job {self.job_id}"

    def elapsed(self) -> float:
        """Seconds since the wait began."""
        return max(0.0, self.clock() - self.started_at)

    def observe(self, execution: Execution) -> Decision:
        """Judge one successful poll.

        :param execution: the execution as this poll read it.
        """
        self.consecutive_errors = 0
        self.last_good_poll = self.clock()
        self.last_status = execution.status
        outcome = self.status_policy.classify(execution.status)
        if outcome is Outcome.SUCCESS:
            message = f"{self.subject} finished with status {execution.status}"
            return Decision(SUCCESS, message, execution=execution.to_dict())
        if outcome is Outcome.FAILED:
            detail = execution.status_detail or "no detail given by the server"
            return Decision(
                FAILED,
                f"{self.subject} ended with status {execution.status}: {detail}",
                execution=execution.to_dict(),
            )
        if execution.start_time is not None:
            self.execution_started = execution.start_time.timestamp()
        wait = self.polling.next_wait(self._schedule_elapsed(), self.expected_duration)
        return self._wait_or_timeout(wait, execution)

    @property
    def wants_history(self) -> bool:
        """Whether a poll's listing should be searched for the job's history (once per watch)."""
        return not self.history_read and self.expected_duration is None

    def learn_history(self, listed: Sequence[Execution]) -> None:
        """Take the job's usual duration from executions a poll listed anyway, if none is known.

        :param listed: the rows of the job's listing the poll read (ours among them).
        """
        if self.history_read or self.expected_duration is not None or not listed:
            return
        self.history_read = True
        own = next((e for e in listed if e.execution_id == self.execution_id), None)
        others = [e for e in listed if e.execution_id != self.execution_id]
        run_type = own.run_type if own is not None else None
        self.expected_duration = ExpectedDuration.from_history(others, self.status_policy, run_type)

    def _schedule_elapsed(self) -> float:
        """What the schedule counts from: the execution's start when a history is known and the
        polls told it, else the start of the wait (the plain schedule, as it always did)."""
        if self.expected_duration is None or self.execution_started is None:
            return self.elapsed()
        return max(0.0, self.clock() - self.execution_started)

    def observe_poll(self, polled: Any) -> Decision:
        """Judge one poll's answer and learn from it: which lookup answers, and (once) the job's
        usual duration from the listing rows the poll read anyway.

        :param polled: the hook's ``Polled`` (execution, summary_answered, rows, listed).
        """
        self.lookup.learn(polled.summary_answered)
        if polled.rows and self.wants_history:
            self.learn_history(polled.listed)
        return self.observe(polled.execution)

    def observe_error(self, exc: BaseException) -> Decision:
        """Judge a failed poll: transient errors are retried within the budget, others end the wait.

        :param exc: the poll's error.
        """
        now = self.clock()
        in_grace = isinstance(exc, BaasExecutionNotFound) and now - self.started_at < self.not_found_grace
        if not (is_transient(exc) or in_grace):
            kind = type(exc).__name__ if isinstance(exc, BaasError) else f"unexpected {type(exc).__name__}"
            return Decision(ERROR, f"{self.subject}: {kind}: {exc}")
        self.consecutive_errors += 1
        last_good = self.last_good_poll if self.last_good_poll is not None else self.observing_since
        since_good = now - (last_good if last_good is not None else self.started_at)
        if self.consecutive_errors > self.max_consecutive_errors or since_good > self.error_window:
            return Decision(ERROR, giving_up(self.subject, self.consecutive_errors, since_good, exc))
        return self._wait_or_timeout(error_wait(self.polling, self.consecutive_errors, exc), None)

    def check_deadline(self) -> Decision | None:
        """A timeout decision once the deadline has passed (checked before every poll too)."""
        if self.deadline is not None and self.clock() >= self.deadline:
            return Decision(TIMEOUT, self._timeout_message())
        return None

    def _timeout_message(self) -> str:
        status = f" (last status {self.last_status})" if self.last_status else ""
        return (
            f"Timed out after {format_duration(self.elapsed())} waiting for {self.subject}{status}. "
            f"The BaaS API has no cancel endpoint: the execution goes on on the server."
        )

    def _wait_or_timeout(self, wait: float, execution: Execution | None) -> Decision:
        """WAIT, or TIMEOUT (with the last record) once the deadline has passed.

        A WAIT decision carries no record: nothing reads it, and a waiting trigger should hold
        nothing between polls.
        """
        if (timed_out := self.check_deadline()) is not None:
            record = execution.to_dict() if execution is not None else None
            return Decision(timed_out.state, timed_out.message, execution=record)
        if self.deadline is not None:
            wait = max(0.0, min(wait, self.deadline - self.clock()))
        status = self.last_status or "unknown"
        return Decision(
            WAIT,
            f"{self.subject}: {status} after {format_duration(self.elapsed())}; "
            f"next poll in {format_duration(wait)}",
            wait=wait,
            # A failed poll (no execution) is always reported: callers log it as a warning.
            report=execution is None or self._report_due(status),
        )

    def _report_due(self, status: str) -> bool:
        now = self.clock()
        due = (
            self.reported_at is None
            or status != self.reported_status
            or now - self.reported_at >= self.report_every
        )
        if due:
            self.reported_status, self.reported_at = status, now
        return due


def giving_up(subject: str, consecutive_errors: int, since_good: float, exc: BaseException) -> str:
    """Why a wait ends once transient errors outlast its budget.

    :param subject: what the wait was for.
    :param consecutive_errors: failed polls in a row.
    :param since_good: seconds since the last good poll.
    :param exc: the last error.
    """
    return (
        f"{subject}: giving up after {consecutive_errors} failed polls in a row "
        f"({format_duration(since_good)} without an answer); last error: {exc}"
    )


def error_wait(polling: PollingPolicy, consecutive_errors: int, exc: BaseException) -> float:
    """The wait after a transient error: the policy's back-off, or longer if the server said so.

    :param polling: the wait's polling policy.
    :param consecutive_errors: failed polls in a row.
    :param exc: the error (a 429's ``Retry-After`` counts).
    """
    wait = polling.error_wait(consecutive_errors)
    if isinstance(exc, BaasRateLimitedError) and exc.retry_after:
        wait = max(wait, exc.retry_after)
    return wait


def log_wait(log: Any, decision: Decision) -> None:
    """Log a WAIT decision at INFO when it is worth reporting, else at DEBUG.

    :param log: the task's or trigger's logger.
    :param decision: the WAIT decision.
    """
    if decision.report:
        log.info("%s", decision.message)
    else:
        log.debug("%s", decision.message)


@dataclass
class RestoreWatch(ExecutionWatch):
    """The wait for one restore (R1): judged like an execution, named as a restore.

    ``job_id`` and ``execution_id`` are the backup the restore reads from.
    """

    restore_id: str = ""

    @property
    def subject(self) -> str:
        """What the wait is for, in log lines and messages."""
        return f"BaaS restore {self.restore_id} (of execution {self.execution_id} of job {self.job_id})"

    def _timeout_message(self) -> str:
        status = f" (last status {self.last_status})" if self.last_status else ""
        return (
            f"Timed out after {format_duration(self.elapsed())} waiting for {self.subject}{status}. "
            f"The BaaS API has no cancel endpoint: the restore goes on on the server."
        )
