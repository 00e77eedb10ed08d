"""One-spot mutation testing of the decision modules, without dependencies (``make mutation``).

Each mutant changes one spot of one module (a comparison, ``and``/``or``, ``min``/``max``,
``+``/``-``, a boolean/None constant, a removed ``not``, a numeric constant +1, a guard ``if``'s
body replaced by ``pass``); the module's own fast tests then run with ``-x`` and a timeout. A mutant
the tests fail on is killed; one listed in ``tests/mutation_equivalents.txt`` is equivalent (no
test can tell it from the original); the rest survive. The original file is always put back.

Usage: python scripts/mutation.py [module ...] [--list]
"""

from __future__ import annotations

import ast
import copy
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_baas"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.txt"
TIMEOUT = 120  # seconds per mutant; a mutant that hangs the tests counts as killed

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
}
# Modules mutated only in part (functions, or Class.method): the rest of the module is not a decision.
# models: only its id/time parts decide (which execution a record is, when it started); its payload
# parsing (_int_or_none, Job.from_dict's fields, to_dict) is covered by the hook tests.
SCOPES = {
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
    line: int
    description: str
    source: str


def _constant_mutation(node: ast.Constant) -> tuple[object, str] | None:
    value = node.value
    if isinstance(value, bool):
        return (not value), f"{value} -> {not value}"
    if value is None:
        return True, "None -> True"
    if isinstance(value, int | float):
        return value + 1, f"{value!r} -> {value + 1!r}"
    return None


def _mutations(node: ast.AST) -> Iterator[tuple[str, callable]]:
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
    source = (PACKAGE / f"{module}.py").read_text()
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
            mutated = copy.deepcopy(tree)
            apply(list(ast.walk(mutated))[index])
            found.append(Mutant(node.lineno, label, ast.unparse(ast.fix_missing_locations(mutated))))
    return found


def load_equivalents() -> set[tuple[str, int, str]]:
    """(module, line, description) of each equivalent mutant; lines: module|line|mutation|reason."""
    equivalents = set()
    for raw in EQUIVALENTS.read_text().splitlines() if EQUIVALENTS.exists() else []:
        if raw.strip() and not raw.lstrip().startswith("#"):
            module, line, description, _reason = (part.strip() for part in raw.split("|", 3))
            equivalents.add((module, int(line), description))
    return equivalents


def killed(module: str, mutant: Mutant) -> bool:
    """Put the mutant in place, run the module's tests, always restore the original."""
    path = PACKAGE / f"{module}.py"
    original = path.read_text()
    try:
        path.write_text(mutant.source)
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        try:
            result = subprocess.run(command + TESTS[module], cwd=ROOT, capture_output=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return True
        return result.returncode != 0
    finally:
        path.write_text(original)


def run(module: str, equivalents: set[tuple[str, int, str]]) -> tuple[int, int, int, list[Mutant]]:
    kill_count, equivalent_count, survivors = 0, 0, []
    for mutant in mutants(module):
        if (module, mutant.line, mutant.description) in equivalents:
            equivalent_count += 1
        elif killed(module, mutant):
            kill_count += 1
        else:
            survivors.append(mutant)
            print(f"  survived: {module}.py:{mutant.line} {mutant.description}", flush=True)
    return kill_count, len(survivors), equivalent_count, survivors


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    # A background shell ignores SIGINT and SIGTERM kills outright: both must reach the finally
    # that puts the original module back.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    modules = [a for a in argv if not a.startswith("-")] or list(TESTS)
    if "--list" in argv:
        for module in modules:
            for mutant in mutants(module):
                print(f"{module}|{mutant.line}|{mutant.description}")
        return 0
    equivalents = load_equivalents()
    rows, started = [], time.monotonic()
    for module in modules:
        print(f"{module}: {len(mutants(module))} mutants", flush=True)
        module_started = time.monotonic()
        kill_count, survived, equivalent, _ = run(module, equivalents)
        rows.append((module, kill_count, survived, equivalent, time.monotonic() - module_started))
        print(f"{module}: {kill_count} killed, {survived} survived, {equivalent} equivalent", flush=True)
    header = ("module", "mutants", "killed", "survived", "equivalent", "score", "time")
    print("\n" + " ".join(f"{h:<10}" if i == 0 else f"{h:>{len(h) + 1}}" for i, h in enumerate(header)))
    for module, kill_count, survived, equivalent, seconds in rows:
        total = kill_count + survived + equivalent
        score = 100.0 * kill_count / (kill_count + survived) if kill_count + survived else 100.0
        figures = f"{total:>8} {kill_count:>7} {survived:>9} {equivalent:>11}"
        print(f"{module:<10} {figures} {score:>5.0f}% {seconds:>4.0f}s")
    print(f"\n{time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
