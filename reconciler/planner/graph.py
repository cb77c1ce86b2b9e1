"""DependencyGraph: which resource (or step) must exist before which; the planner's networkx user.

Edge direction is named once, here: ``add_dependency(dependent=a, dependency=b)`` means "b must
be created before a, and a deleted before b". Inside, a networkx edge runs dependency -> dependent,
so ``topological_generations`` yields creation order directly; deletion order is its reverse.
Each generation is a group of nodes that do not depend on each other, which apply may run
concurrently.

Nodes are any hashable, sortable values (Addresses for resources, step ids for plans); every
order returned is deterministic (sorted within a generation).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

import networkx as nx

from reconciler.errors import GraphError

__all__ = ["DependencyGraph"]

N = TypeVar("N", bound=Hashable)


class DependencyGraph(Generic[N]):
    """A directed acyclic graph of nodes and "depends on" relations.

    >>> g = DependencyGraph[str]()
    >>> g.add_dependency(dependent="membership", dependency="collaboration")
    >>> g.add_dependency(dependent="association", dependency="membership")
    >>> g.add_dependency(dependent="association", dependency="table")
    >>> g.creation_order()
    [['collaboration', 'table'], ['membership'], ['association']]
    >>> g.deletion_order()
    [['association'], ['membership'], ['collaboration', 'table']]
    """

    def __init__(self, nodes: Iterable[N] = ()) -> None:
        self._g: Any = nx.DiGraph()
        self._g.add_nodes_from(nodes)

    def add(self, node: N) -> None:
        """Add a node with no dependencies (a no-op if it is already there)."""
        self._g.add_node(node)

    def add_dependency(self, *, dependent: N, dependency: N) -> None:
        """Record that ``dependent`` needs ``dependency`` (created first, deleted last).

        Args:
            dependent: the node that needs the other.
            dependency: the node that must exist first.
        """
        self._g.add_edge(dependency, dependent)

    def __contains__(self, node: object) -> bool:
        return bool(self._g.has_node(node))

    def __len__(self) -> int:
        return int(self._g.number_of_nodes())

    @property
    def nodes(self) -> list[N]:
        """Every node, sorted."""
        return sorted(self._g.nodes)

    def dependencies(self, node: N) -> list[N]:
        """Nodes ``node`` directly depends on, sorted."""
        return sorted(self._g.predecessors(node)) if node in self else []

    def dependents(self, node: N) -> list[N]:
        """Nodes that directly depend on ``node``, sorted."""
        return sorted(self._g.successors(node)) if node in self else []

    def creation_order(self) -> list[list[N]]:
        """Groups of nodes in creation order: each group only needs earlier groups.

        Returns:
            A list of sorted groups.

        Raises:
            GraphError: the dependencies form a cycle; the message shows it as ``a -> b -> a``.
        """
        try:
            return [sorted(group) for group in nx.topological_generations(self._g)]
        except nx.NetworkXUnfeasible:
            self.check_acyclic()
            raise

    def deletion_order(self) -> list[list[N]]:
        """Groups in deletion order (dependents first): ``creation_order`` reversed."""
        return list(reversed(self.creation_order()))

    def check_acyclic(self) -> None:
        """Raise GraphError naming a cycle if there is one."""
        try:
            cycle = nx.find_cycle(self._g)
        except nx.NetworkXNoCycle:
            return
        # networkx edges run dependency -> dependent; show "a depends on b" as a -> b.
        nodes = [str(edge[1]) for edge in reversed(cycle)]
        nodes.append(nodes[0])
        raise GraphError(
            "dependency cycle: " + " -> ".join(nodes),
            hint="each arrow means 'depends on'; remove one of these references to break the cycle",
        )
