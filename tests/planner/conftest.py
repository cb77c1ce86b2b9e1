from __future__ import annotations

import pytest

from reconciler.planner import desired
from reconciler.planner.resource import DesiredResource
from reconciler.spec import load_stack


@pytest.fixture(scope="session")
def retail() -> list[DesiredResource]:
    """The desired resources of specs/retail-adtech (CUSTOM rules)."""
    return desired.resources(load_stack("specs/retail-adtech"))


@pytest.fixture(scope="session")
def classic() -> list[DesiredResource]:
    """The desired resources of specs/retail-adtech-classic (AGGREGATION and LIST rules)."""
    return desired.resources(load_stack("specs/retail-adtech-classic"))
