"""Both executors of a checked query, for tests that must hold on each (``engine`` parameters).

``ENGINES`` parametrizes a test over the default DuckDB path and ``--engine spark``; the Spark
case carries the ``spark`` marker, which ``tests/conftest.py`` skips when pyspark is not
installed (and turns into a failure when ``CI`` is set, so CI never skips it).
"""

from __future__ import annotations

import pytest

from reconciler.engine import Prepared, Result, execute

ENGINES = [pytest.param("duckdb", id="duckdb"), pytest.param("spark", id="spark", marks=pytest.mark.spark)]


def run_on(engine: str, prepared: Prepared) -> Result:
    """Execute a checked query on ``engine`` (``duckdb`` or ``spark``)."""
    if engine == "spark":
        from reconciler.engine.spark import session

        return session.execute(prepared)
    return execute(prepared)


@pytest.fixture(name="engine", params=ENGINES)
def engine_fixture(request: pytest.FixtureRequest) -> str:
    """``engine``: a test asking for it runs once per executor (import this into the test module)."""
    name: str = request.param
    return name
