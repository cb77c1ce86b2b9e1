from __future__ import annotations

import pytest

from reconciler.errors import GraphError
from reconciler.planner.graph import DependencyGraph


def diamond() -> DependencyGraph[str]:
    g = DependencyGraph[str]()
    g.add_dependency(dependent="membership", dependency="collaboration")
    g.add_dependency(dependent="association", dependency="membership")
    g.add_dependency(dependent="association", dependency="table")
    g.add_dependency(dependent="rule", dependency="table")
    return g


def test_creation_order_groups_independent_nodes() -> None:
    assert diamond().creation_order() == [["collaboration", "table"], ["membership", "rule"], ["association"]]


def test_deletion_order_is_the_reverse() -> None:
    assert diamond().deletion_order() == [["association"], ["membership", "rule"], ["collaboration", "table"]]


def test_neighbours() -> None:
    g = diamond()
    assert g.dependencies("association") == ["membership", "table"]
    assert g.dependents("table") == ["association", "rule"]
    assert g.dependencies("unknown") == []


def test_cycle_is_reported_as_a_path() -> None:
    g = DependencyGraph[str]()
    g.add_dependency(dependent="a", dependency="b")
    g.add_dependency(dependent="b", dependency="a")
    with pytest.raises(GraphError) as info:
        g.creation_order()
    message = info.value.message
    assert message in ("dependency cycle: a -> b -> a", "dependency cycle: b -> a -> b")
