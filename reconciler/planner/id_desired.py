"""id_desired: the identity-resolution documents of a Stack -> desired Resources (``desired`` calls it).

- an IdNamespaceAssociation -> ``id_namespace_association`` in its owner's membership;
- an IdMappingTable -> ``id_mapping_table`` in its owner's membership, after every ID namespace
  association of its collaboration (CreateIdMappingTable reads its SOURCE and TARGET from them).

``localNamespace`` / ``localWorkflow`` are local data (the Entity Resolution stand-in), never sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from reconciler.planner.addresses import Address, Kind
from reconciler.planner.resource import DesiredResource, Ref
from reconciler.spec import id_models as ids

if TYPE_CHECKING:
    from reconciler.planner.desired import _Lookups

__all__ = ["resources"]

_SPEC_ONLY = {"kind", "owner", "collaboration", "lifecycle", "localNamespace", "localWorkflow"}


def resources(ctx: _Lookups) -> Iterator[DesiredResource]:
    """The desired resources of every identity-resolution document of ``ctx.stack``, in file order."""
    namespaces: dict[str, list[Address]] = {}
    for doc in ctx.stack.id_documents:
        if isinstance(doc, ids.IdNamespaceAssociationSpec):
            address = Address.of(Kind.ID_NAMESPACE_ASSOCIATION, doc.collaboration, doc.owner, doc.name)
            namespaces.setdefault(doc.collaboration, []).append(address)
    for doc in ctx.stack.id_documents:
        assert isinstance(doc, ids.IdNamespaceAssociationSpec | ids.IdMappingTableSpec)
        attrs = {
            **doc.model_dump(exclude_none=True, exclude=_SPEC_ONLY),
            "membershipIdentifier": Ref(Address.of(Kind.MEMBERSHIP, doc.collaboration, doc.owner)),
        }
        if isinstance(doc, ids.IdNamespaceAssociationSpec):
            address = Address.of(Kind.ID_NAMESPACE_ASSOCIATION, doc.collaboration, doc.owner, doc.name)
            yield ctx.resource(address, attrs, doc, doc.owner)
        else:
            address = Address.of(Kind.ID_MAPPING_TABLE, doc.collaboration, doc.owner, doc.name)
            after = tuple(namespaces.get(doc.collaboration, ()))
            yield ctx.resource(address, attrs, doc, doc.owner, depends_on=after)
