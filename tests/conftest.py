"""Suite-wide pytest options (options must be registered in the root conftest to work everywhere)."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (tests/golden/**/expected.*) from the current output",
    )


def _pyspark_importable() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``spark`` tests need the optional extra: skipped without pyspark, except in CI, where the
    extra is installed (``.ci/run``) and a missing pyspark is an error, never a silent skip."""
    marked = [item for item in items if item.get_closest_marker("spark") is not None]
    if not marked or _pyspark_importable():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            "CI is set but pyspark is not installed: install the spark extra (pip install -e '.[test,spark]')"
        )
    skip = pytest.mark.skip(reason="pyspark is not installed (pip install -e '.[spark]')")
    for item in marked:
        item.add_marker(skip)
