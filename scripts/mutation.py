"""One-spot mutation testing of the decision modules, without dependencies (``make mutation``).

Each mutant changes one spot of one module (a comparison, ``and``/``or``, ``min``/``max``,
``+``/``-``, a boolean/None constant, a removed ``not``, a numeric constant +1, a guard ``if``'s
body replaced by ``pass``); the module's own fast tests then run with ``-x`` and a timeout. A mutant
the tests fail on is killed; one listed in ``tests/mutation_equivalents.txt`` is equivalent (no
test can tell it from the original); the rest survive.

Mutants run in private copies of the package and its tests (one per job), so the working tree is
never touched and ``--jobs`` mutants run at once. Each module's tests first run unmutated in every
copy: a failing baseline stops the run, since it would count every mutant as killed.

Usage: python scripts/mutation.py [module ...] [--list] [--jobs N] [--only module|line|mutation ...]
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_baas"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.txt"
# Seconds per mutant, at least; a mutant that hangs the tests counts as killed. A module whose
# unmutated tests take long gets TIMEOUT_FACTOR times its baseline, so that load never kills one.
TIMEOUT = 120
TIMEOUT_FACTOR = 4
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]

# Each decision module against its fast unit and property tests (never the DAG-level suites).
TESTS = {
    "status": ["tests/hook/test_models_status.py", "tests/runtime/test_decisions.py"],
    "polling": [
        "tests/runtime/test_polling.py",
        "tests/runtime/test_decisions.py",
        "tests/hook/test_hook_poll_lookup.py",  # LookupChoice, as the hook uses it
    ],
    "freshness": ["tests/runtime/test_decisions.py", "tests/runtime/test_gate.py"],
    "reattach": [
        "tests/runtime/test_decisions.py",
        "tests/runtime/test_ledger.py",
        "tests/runtime/test_reattach_variable.py",
    ],
    "models": ["tests/hook/test_models_status.py", "tests/runtime/test_decisions.py"],
    # The fast unit tests first: with -x most mutants die there, before the simulator-backed ones.
    "waiting": [
        "tests/runtime/test_waiting.py",
        "tests/runtime/test_operator.py",
        "tests/runtime/test_sensor.py",
        # The gate is the one caller that joins after a 409 (the rest of test_gate.py measures freshness).
        "tests/runtime/test_gate.py::test_a_409_on_execute_joins_the_backup_that_already_runs",
        "tests/runtime/test_gate.py::test_a_409_with_nothing_running_is_looked_up_again_spaced_out_then_reported",
    ],
    # Which ended executions an asset watcher reports: never one twice, none missed.
    "backup_events": ["tests/runtime/test_backup_events.py", "tests/runtime/test_event_trigger.py"],
    # What a restore names and sends, and which listed backup objects it means.
    "restore_request": ["tests/runtime/test_restore_request.py", "tests/runtime/test_restore_operator.py"],
    # The restore operator's own decisions (SCOPES): which backup, attach to an earlier try's
    # restore or create one, under which name.
    "operators.restore": ["tests/runtime/test_restore_operator.py"],
    # The sensors' own decisions (SCOPES): which execution a sensor watches (and remembers across
    # reschedules), and when the gate passes, waits or starts a backup.
    "sensors.baas": [
        "tests/runtime/test_model_based.py",  # Hypothesis: reschedules and clears over modelled histories
        "tests/runtime/test_sensor.py",
        "tests/runtime/test_gate.py",
    ],
}
# Modules mutated only in part (functions, or Class.method): the rest of the module is not a decision.
# models: only its id/time parts decide (which execution a record is, when it started); its payload
# parsing (_int_or_none, Job.from_dict's fields, to_dict) is covered by the hook tests.
SCOPES = {
    "sensors.baas": {
        "BaasExecutionSensor._target",
        "BaasExecutionSensor._remember_errors",
        "BaasExecutionSensor._first_look",
        "BaasExecutionSensor._latest_execution",
        "BaasExecutionSensor.poke",
        "BaasExecutionSensor.execute",
        "BaasBackupFreshnessSensor._assess",
        "BaasBackupFreshnessSensor._execution_to_wait_for",
        "BaasBackupFreshnessSensor.poke",
        "BaasBackupFreshnessSensor.execute",
        "BaasBackupFreshnessSensor._defer_until_fresh",
        "BaasBackupFreshnessSensor.execute_fresh",
    },
    "operators.restore": {
        "BaasRestoreOperator.execute",
        "BaasRestoreOperator._reattach",
        "BaasRestoreOperator._create",
        "BaasRestoreOperator._backup_execution",
        "BaasRestoreOperator._entry",
        "newest_successful",
        "_try_number",
    },
    "models": {
        "parse_time",
        "id_str",
        "LastExecution.from_dict",
        "LastExecution.refers_to",
        "Execution.from_job_summary",
        "Execution.duration_seconds",
        "executions_started_since",
        "executions_a_request_may_have_started",
    },
}

COMPARE_SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


@dataclass(frozen=True)
class Mutant:
    """One change at one spot; its source is built only when the mutant runs (``--list`` and the
    equivalents check need only the line and description)."""

    line: int
    description: str
    tree: ast.Module = field(repr=False, compare=False)
    index: int = field(repr=False, compare=False)
    apply: Callable[[ast.AST], None] = field(repr=False, compare=False)

    @property
    def source(self) -> str:
        mutated = copy.deepcopy(self.tree)
        self.apply(list(ast.walk(mutated))[self.index])
        return ast.unparse(ast.fix_missing_locations(mutated))


def _constant_mutation(node: ast.Constant) -> tuple[object, str] | None:
    value = node.value
    if isinstance(value, bool):
        return (not value), f"{value} -> {not value}"
    if value is None:
        return True, "None -> True"
    if isinstance(value, int | float):
        return value + 1, f"{value!r} -> {value + 1!r}"
    return None


def _mutations(node: ast.AST) -> Iterator[tuple[str, Callable[[ast.AST], None]]]:
    """(description, apply) for each one-spot change of ``node``; apply mutates a copy in place."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAPS:
                swap = COMPARE_SWAPS[type(op)]
                yield (
                    f"{type(op).__name__} -> {swap.__name__}",
                    lambda n, i=i, s=swap: n.ops.__setitem__(i, s()),
                )
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{type(node.op).__name__} -> {other.__name__}", lambda n, o=other: setattr(n, "op", o())
    elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
        swap = BINOP_SWAPS[type(node.op)]
        yield f"{type(node.op).__name__} -> {swap.__name__}", lambda n, s=swap: setattr(n, "op", s())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "remove not", lambda n: setattr(n, "operand", ast.UnaryOp(ast.Not(), n.operand))  # not not x
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
        other = "max" if node.func.id == "min" else "min"
        yield f"{node.func.id} -> {other}", lambda n, o=other: setattr(n.func, "id", o)
    elif isinstance(node, ast.Constant) and (change := _constant_mutation(node)) is not None:
        yield change[1], lambda n, v=change[0]: setattr(n, "value", v)
    elif isinstance(node, ast.If):
        yield "if body -> pass", lambda n: setattr(n, "body", [ast.Pass()])


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef]]:
    """(name, node) of each top-level function and each method, as ``Class.method``."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item


def _in_scope(module: str, tree: ast.Module) -> set[int]:
    """Line numbers eligible for mutation: the whole module, or the functions ``SCOPES`` names."""
    if module not in SCOPES:
        return {n.lineno for n in ast.walk(tree) if hasattr(n, "lineno")}
    lines: set[int] = set()
    for name, fn in _functions(tree):
        if name in SCOPES[module]:
            lines |= set(range(fn.lineno, (fn.end_lineno or fn.lineno) + 1))
    missing = SCOPES[module] - {name for name, _ in _functions(tree)}
    if missing:  # a renamed function must not silently drop out of the measure
        raise SystemExit(f"{module}: no function {', '.join(sorted(missing))} to mutate")
    return lines


def _is_docstring_or_annotation(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    while parent is not None:  # annotations never run (from __future__ import annotations)
        if isinstance(parent, ast.AnnAssign | ast.arg) and node is not getattr(parent, "value", None):
            return True
        if isinstance(parent, ast.FunctionDef) and node is parent.returns:
            return True
        node, parent = parent, parents.get(parent)
    return False


def mutants(module: str) -> list[Mutant]:
    source = (PACKAGE / module_file(module)).read_text()
    tree = ast.parse(source)
    scope = _in_scope(module, tree)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[Mutant] = []
    seen: dict[tuple[int, str], int] = {}
    for index, node in enumerate(ast.walk(tree)):
        if getattr(node, "lineno", None) not in scope or _is_docstring_or_annotation(node, parents):
            continue
        for description, apply in _mutations(node):
            # The same change twice on one line (two None constants) is told apart: "#2" is the second.
            count = seen[node.lineno, description] = seen.get((node.lineno, description), 0) + 1
            label = description if count == 1 else f"{description} #{count}"
            found.append(Mutant(node.lineno, label, tree, index, apply))
    return found


def module_file(module: str) -> str:
    """``operators.restore`` -> ``operators/restore.py``, relative to the package."""
    return module.replace(".", "/") + ".py"


def load_equivalents() -> set[tuple[str, int, str]]:
    """(module, line, description) of each equivalent mutant; lines: module|line|mutation|reason."""
    equivalents = set()
    for raw in EQUIVALENTS.read_text().splitlines() if EQUIVALENTS.exists() else []:
        if raw.strip() and not raw.lstrip().startswith("#"):
            module, line, description, _reason = (part.strip() for part in raw.split("|", 3))
            equivalents.add((module, int(line), description))
    return equivalents


class Worktrees:
    """Private copies of the package and tests; ``python -m pytest`` run in one imports its package
    (the current directory comes first on ``sys.path``), never the working tree's."""

    def __init__(self, count: int) -> None:
        self._base = Path(tempfile.mkdtemp(prefix="baas-mutation-"))
        self._free: queue.Queue[Path] = queue.Queue()
        self.all: list[Path] = []
        ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache")
        for number in range(count):
            tree = self._base / f"job{number}"
            shutil.copytree(PACKAGE, tree / PACKAGE.name, ignore=ignore)
            shutil.copytree(ROOT / "tests", tree / "tests", ignore=ignore)
            shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
            self.all.append(tree)
            self._free.put(tree)

    def take(self) -> Path:
        return self._free.get()

    def give_back(self, tree: Path) -> None:
        self._free.put(tree)

    def remove(self) -> None:
        shutil.rmtree(self._base, ignore_errors=True)


def run_tests(tree: Path, module: str, source: str | None, timeout: float) -> tuple[int | None, float]:
    """(pytest's exit code, or None on timeout; seconds) with ``source`` as the module, if given."""
    path = tree / PACKAGE.name / module_file(module)
    original = path.read_text()
    started = time.monotonic()
    try:
        if source is not None:
            path.write_text(source)
        try:
            result = subprocess.run(PYTEST + TESTS[module], cwd=tree, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - started
        return result.returncode, time.monotonic() - started
    finally:
        path.write_text(original)


def baseline(trees: Worktrees, module: str) -> float:
    """The timeout for this module's mutants; stops the run if its unmutated tests fail anywhere."""
    slowest = 0.0
    for tree in trees.all:
        code, seconds = run_tests(tree, module, None, timeout=30 * TIMEOUT)
        if code != 0:
            raise SystemExit(f"{module}: the unmutated tests fail in {tree} (exit {code}); fix them first")
        slowest = max(slowest, seconds)
    return max(TIMEOUT, TIMEOUT_FACTOR * slowest)


def run(
    module: str, chosen: list[Mutant], equivalents: set[tuple[str, int, str]], trees: Worktrees
) -> tuple[int, int, int]:
    timeout = baseline(trees, module)
    to_run = [m for m in chosen if (module, m.line, m.description) not in equivalents]

    def attempt(mutant: Mutant) -> bool:
        tree = trees.take()
        try:
            code, _ = run_tests(tree, module, mutant.source, timeout)
        finally:
            trees.give_back(tree)
        survived = code == 0
        if survived:
            print(f"  survived: {module_file(module)}:{mutant.line} {mutant.description}", flush=True)
        return survived

    with ThreadPoolExecutor(max_workers=len(trees.all)) as pool:
        survived = sum(pool.map(attempt, to_run))
    return len(to_run) - survived, survived, len(chosen) - len(to_run)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _chosen(module: str, only: list[str]) -> list[Mutant]:
    """Every mutant of ``module``, or those ``--only`` names (as ``--list`` prints them)."""
    found = mutants(module)
    if not only:
        return found
    return [m for m in found if f"{module}|{m.line}|{m.description}" in only]


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="One-spot mutation testing of the decision modules.")
    parser.add_argument("modules", nargs="*", metavar="module", help=f"default: all of {', '.join(TESTS)}")
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants run at once")
    parser.add_argument("--only", nargs="+", default=[], metavar="MUTANT", help="module|line|mutation")
    args = parser.parse_args(argv)
    unknown = (set(args.modules) | {spec.split("|")[0] for spec in args.only}) - set(TESTS)
    if unknown:
        parser.error(f"not a decision module: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str]) -> int:
    # A background shell ignores SIGINT and SIGTERM kills outright: both must reach the finally
    # blocks that remove the private copies.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args = _arguments(argv)
    modules = args.modules or [m.split("|")[0] for m in args.only] or list(TESTS)
    modules = list(dict.fromkeys(modules))
    if args.list:
        for module in modules:
            for mutant in mutants(module):
                print(f"{module}|{mutant.line}|{mutant.description}")
        return 0
    equivalents = load_equivalents()
    unknown = set(args.only) - {f"{m}|{x.line}|{x.description}" for m in modules for x in mutants(m)}
    if unknown:
        raise SystemExit(f"no such mutant: {', '.join(sorted(unknown))}")
    rows, started = [], time.monotonic()
    trees = Worktrees(max(1, args.jobs))
    try:
        for module in modules:
            chosen = _chosen(module, args.only)
            print(f"{module}: {len(chosen)} mutants", flush=True)
            module_started = time.monotonic()
            kill_count, survived, equivalent = run(module, chosen, equivalents, trees)
            rows.append((module, kill_count, survived, equivalent, time.monotonic() - module_started))
            print(f"{module}: {kill_count} killed, {survived} survived, {equivalent} equivalent", flush=True)
    finally:
        trees.remove()
    header = ("module", "mutants", "killed", "survived", "equivalent", "score", "time")
    print("\n" + " ".join(f"{h:<10}" if i == 0 else f"{h:>{len(h) + 1}}" for i, h in enumerate(header)))
    for module, kill_count, survived, equivalent, seconds in rows:
        total = kill_count + survived + equivalent
        score = 100.0 * kill_count / (kill_count + survived) if kill_count + survived else 100.0
        figures = f"{total:>8} {kill_count:>7} {survived:>9} {equivalent:>11}"
        print(f"{module:<10} {figures} {score:>5.0f}% {seconds:>4.0f}s")
    print(f"\n{time.monotonic() - started:.0f}s, {len(trees.all)} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
