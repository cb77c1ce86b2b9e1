"""Golden files: ``pytest tests/golden --update-golden`` rewrites them; reviewers read the diff."""

from __future__ import annotations

import pytest


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True with --update-golden (registered in ``tests/conftest.py``)."""
    return bool(request.config.getoption("--update-golden"))
