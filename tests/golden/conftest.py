"""Golden files: ``pytest tests/golden --update-golden`` rewrites them; reviewers read the diff."""

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


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True with --update-golden (or RECONCILER_UPDATE_GOLDEN=1 when the option is not registered)."""
    try:
        return bool(request.config.getoption("--update-golden"))
    except ValueError:
        return os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1"
