"""Prints ``name==floor`` for each runtime dependency of pyproject.toml except Airflow itself.

``make test-floors`` installs exactly these next to the oldest supported Airflow, so every floor
in pyproject.toml is a version the tests ran with (and only pyproject.toml says what they are).
``--check`` fails unless the running environment has exactly these versions installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def floors() -> list[str]:
    """``name==version`` of every ``name>=version`` runtime dependency but ``apache-airflow``."""
    pins = []
    for requirement in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([0-9][0-9.]*)", requirement.replace(" ", ""))
        if match is None:
            sys.exit(f"not of the form name>=version: {requirement!r}")
        if match.group(1) != "apache-airflow":
            pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def check() -> None:
    """Exit with an error naming each dependency whose installed version is not its floor."""
    from importlib.metadata import version

    from packaging.version import Version

    wrong = []
    for pin in floors():
        name, floor = pin.split("==")
        if Version(version(name)) != Version(floor):
            wrong.append(f"{name} {version(name)} (floor {floor})")
    if wrong:
        sys.exit("not at their floors: " + ", ".join(wrong))
    print("at their floors: " + " ".join(floors()))


if __name__ == "__main__":
    check() if sys.argv[1:] == ["--check"] else print(" ".join(floors()))
