"""`make test-floors`: the fast suite once more on the oldest releases the package
says it works with, so a floor in pyproject.toml is a tested fact, not a hope.

Reads each entry of ``[project] dependencies`` (every one must say ``>=X``), builds
``.venv-floors`` afresh, installs the package without its dependencies, then each
dependency at exactly its floor, together with the test tools the fast set needs
(the ``test`` extra without the browser and lint tools) at whatever versions pip
picks under a constraints file of the floors: a tool that would need a newer
release of a dependency fails the install rather than lifting the floor. Then
``pip check``, a check that every floor is what is installed, and
``pytest -m "not browser and not fuzz"`` (extra arguments are passed to pytest).

An import or call that needs a newer release than a floor fails here. The fix is
in the package (public API of the floor release), or a higher floor in
pyproject.toml.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: tomli comes with the test toolchain (pytest, mypy).
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-floors"
BIN = VENV / "bin"
CONSTRAINTS = VENV / "floors.txt"

#: Tools of the ``test`` extra the fast set does not use: the Chromium flows and
#: the linters run in ``make test``, on the newest releases.
NOT_IN_FAST_SET = {"playwright", "axe-playwright-python", "ruff", "mypy", "types-python-dateutil"}

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$")


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(requirement: str) -> tuple[str, str]:
    """A requirement's name and version specifiers (extras and markers dropped)."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        sys.exit(f"floors: pyproject.toml: cannot read the requirement {requirement!r}")
    return match.group(1), match.group(3)


def floor_of(requirement: str) -> tuple[str, str]:
    """``("Flask", "3.0.0")`` for ``"Flask>=3.0.0"``; a dependency without a
    ``>=`` floor stops the run, naming it."""
    name, specifiers = parse(requirement)
    floors = [s.strip()[2:].strip() for s in specifiers.split(",") if s.strip().startswith(">=")]
    if len(floors) != 1:
        sys.exit(f"floors: pyproject.toml: the dependency {requirement!r} needs one floor "
                 f"(>=X, the oldest release CI tests it with)")
    return name, floors[0]


def read_project() -> tuple[list[tuple[str, str]], list[str]]:
    """The dependencies' floors, and the test tools for the fast set."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    floors = [floor_of(r) for r in project["dependencies"]]
    tools = [r for r in project["optional-dependencies"]["test"]
             if canonical(parse(r)[0]) not in NOT_IN_FAST_SET]
    return floors, tools


def run(*command: str | Path, check: bool = True) -> int:
    print("floors:", shlex.join(str(c) if "\n" not in str(c) else "..." for c in command), flush=True)
    # The commands are this script's own; the arguments come from pyproject.toml
    # and the Makefile's PYTEST_ARGS.
    return subprocess.run([str(c) for c in command], cwd=ROOT, check=check).returncode  # noqa: S603


def pip(*arguments: str | Path) -> None:
    run(BIN / "python", "-m", "pip", "--disable-pip-version-check", *arguments)


# Run in the floors' venv: a floor that is not what got installed (a wrong name in
# pyproject.toml, a version spelt two ways) is named, not passed over.
_CHECK_INSTALLED = """
import json, sys
from importlib.metadata import PackageNotFoundError, version
from packaging.version import Version
wrong = []
for name, floor in json.loads(sys.argv[1]):
    try:
        installed = version(name)
    except PackageNotFoundError:
        installed = None
    if installed is None or Version(installed) != Version(floor):
        wrong.append(f"{name}: floor {floor}, installed {installed}")
sys.exit("floors: not at their floor: " + "; ".join(wrong) if wrong else 0)
"""


def main(pytest_arguments: list[str]) -> int:
    floors, tools = read_project()
    run(sys.executable, "-m", "venv", "--clear", VENV)
    CONSTRAINTS.write_text("".join(f"{name}=={floor}\n" for name, floor in floors))
    pip("install", "--quiet", "--no-deps", "-e", ".")
    pip("install", "--quiet", "-c", CONSTRAINTS, *(name for name, _ in floors), *tools)
    pip("check")
    run(BIN / "python", "-c", _CHECK_INSTALLED, json.dumps(floors))
    print("floors:", ", ".join(f"{name} {floor}" for name, floor in floors), flush=True)
    return run(BIN / "python", "-m", "pytest", "-m", "not browser and not fuzz",
               *pytest_arguments, check=False)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(f"floors: {' '.join(map(str, exc.cmd))} failed with exit status {exc.returncode}")
