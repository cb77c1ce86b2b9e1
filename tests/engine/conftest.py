"""The ``engine`` fixture: a test asking for it runs on DuckDB and on Spark (``engines.ENGINES``)."""

from __future__ import annotations

import pytest
from engines import ENGINES


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The executor under test (``engines.run_on``)."""
    name: str = request.param
    return name
