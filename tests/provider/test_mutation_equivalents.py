"""The list of equivalent mutants follows the code: every entry names a mutant that exists.

Entries are keyed by line; an edit that moves a decision module's lines leaves entries pointing at
nothing (or, worse, at another mutant), and ``make mutation`` is too slow to run on every change.
This check only parses the modules, so it runs in ``make test``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _mutation_script():
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_listed_equivalent_is_a_mutant_of_the_current_code() -> None:
    script = _mutation_script()
    equivalents = script.load_equivalents()
    modules = {module for module, _, _ in equivalents}
    existing = {(m, x.line, x.description) for m in modules for x in script.mutants(m)}

    stale = sorted(equivalents - existing)

    assert modules <= set(script.TESTS)
    assert stale == [], f"entries of tests/mutation_equivalents.txt that name no mutant: {stale}"


def test_every_entry_gives_a_reason() -> None:
    lines = (ROOT / "tests" / "mutation_equivalents.txt").read_text().splitlines()
    entries = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]

    unreasoned = [
        line for line in entries if len(line.split("|", 3)) < 4 or not line.split("|", 3)[3].strip()
    ]

    assert entries and unreasoned == []
