"""constraints.txt is what the set-up commands install, and it covers every dependency pyproject names.

The README's two set-up commands and ``.ci/run`` install with ``-c constraints.txt``, which
``scripts/refresh-constraints.sh`` writes. These tests read the file, pyproject.toml and the
installed distributions (``importlib.metadata``): a dependency added without a refresh, a pin
outside pyproject's range, or a venv that drifted from the pins each fails here.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
PROJECT = "cleanrooms-reconciler"


def _pins() -> dict[str, Version]:
    """name -> pinned version for this interpreter and platform (lines whose marker holds)."""
    pins: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        (spec,) = req.specifier
        assert spec.operator == "==", f"constraints.txt pins exact versions: {line}"
        name = canonicalize_name(req.name)
        assert name not in pins, f"{name} is pinned twice for this platform"
        pins[name] = Version(spec.version)
    return pins


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**default_environment(), "extra": e}) for e in extras | {""})


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    listed = [*project["dependencies"], *(r for extra in extras for r in extra)]
    return [Requirement(r) for r in listed]


def test_every_dependency_in_pyproject_is_pinned_inside_its_range() -> None:
    pins = _pins()
    for req in _pyproject_requirements():
        if not _applies(req, set()):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in constraints.txt: run scripts/refresh-constraints.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {req}: "
            "run scripts/refresh-constraints.sh"
        )


def test_the_venv_holds_exactly_the_pinned_versions() -> None:
    """Every distribution the README's test set-up installs (the project with ``[test]``) is at its pin."""
    pins = _pins()
    seen: set[str] = set()
    todo: list[tuple[str, set[str]]] = [(PROJECT, {"test"})]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name) + "[" + ",".join(sorted(extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)  # PackageNotFoundError: a dependency is not installed
        if canonicalize_name(name) != PROJECT:
            pinned = pins.get(canonicalize_name(name))
            assert pinned is not None, f"{name} is installed but not in constraints.txt"
            assert Version(dist.version) == pinned, (
                f"{name} {dist.version} is installed, constraints.txt pins {pinned}: "
                "reinstall with `pip install -c constraints.txt -e '.[test]'`"
            )
        for text in dist.requires or []:
            req = Requirement(text)
            if _applies(req, extras):
                todo.append((req.name, set(req.extras)))
    assert len(seen) > 20, "the walk should reach the whole tree"


def test_the_set_up_commands_install_with_the_constraints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^python3 -m venv \.venv && .*$", readme, flags=re.M)
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    installs = [*commands, *(line for line in ci.splitlines() if "pip install" in line)]
    assert len(installs) == 3
    for command in installs:
        assert "pip install" in command and "-c constraints.txt" in command, command
