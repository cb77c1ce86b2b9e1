"""The package's shape: subsystems as subpackages, small modules, one name per class, a whole error tree."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import reconciler
from reconciler import errors
from reconciler.errors import ReconcilerError

PACKAGE = Path(reconciler.__file__).resolve().parent


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _all_subclasses(cls: type) -> set[type]:
    out: set[type] = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_all_subclasses(sub)}
    return out


def test_every_reconciler_error_is_in_the_tree_errors_draws() -> None:
    for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    drawn = set(re.findall(r"[├└]── (\w+)", errors.__doc__ or ""))
    defined = {c.__name__ for c in _all_subclasses(ReconcilerError) if c.__module__.startswith("reconciler.")}
    assert defined - drawn == set(), "add these to the tree in reconciler/errors.py"
    assert drawn - defined == set(), "the tree in reconciler/errors.py names classes that do not exist"


def test_the_top_level_holds_subpackages_and_at_most_six_modules() -> None:
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 6, top
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"planner", "execution", "gitops", "workflow", "spec", "emulator", "render", "cli"} <= packages


def test_no_module_is_over_700_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 700
    }
    assert long == {}


def test_no_two_classes_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(str(path.relative_to(PACKAGE)))
    shared = {name: places for name, places in where.items() if len(places) > 1}
    assert shared == {}, shared


def test_the_example_stacks_ship_inside_the_package() -> None:
    from reconciler.workflow.stacks import EXAMPLES, example_names

    assert EXAMPLES.is_relative_to(PACKAGE) and not (EXAMPLES / "__init__.py").exists()  # data, not code
    assert example_names() == [
        "amc-multiparty",
        "ml-lookalike",
        "org-a-org-b",
        "retail-adtech",
        "retail-adtech-classic",
    ]
    assert list((EXAMPLES / "retail-adtech" / "data").glob("*.csv"))
