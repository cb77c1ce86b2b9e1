"""Suite-wide pytest options (options must be registered in the root conftest to work everywhere)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (tests/golden/**/expected.*) from the current output",
    )
