"""The identity-resolution resource types as rows of the registry (``registry.REGISTRY`` takes them in).

An ID namespace association and an ID mapping table live in a membership, like analysis
templates: made, read, changed and deleted by the member who owns them, named in the collaboration
by ``name``. Their ``inputReferenceConfig`` (the Entity Resolution resource) is create-only, as the
service model's Update inputs say. An ID mapping table comes after every ID namespace association
of its collaboration (``id_desired``): AWS reads its SOURCE and TARGET from them.
"""

from __future__ import annotations

from reconciler.planner.addresses import Kind
from reconciler.planner.registry import _MEMBERSHIP_OF_OWNER, SELF, Reference, ResourceType

__all__ = ["ID_TYPES"]

_MEMBERSHIP = {
    "membershipIdentifier": Reference(Kind.MEMBERSHIP, "membershipId", derive=_MEMBERSHIP_OF_OWNER)
}

#: The identity-resolution rows, in Kind order.
ID_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        kind=Kind.ID_NAMESPACE_ASSOCIATION,
        create="CreateIdNamespaceAssociation",
        get="GetIdNamespaceAssociation",
        list="ListIdNamespaceAssociations",
        update="UpdateIdNamespaceAssociation",
        delete="DeleteIdNamespaceAssociation",
        response_key="idNamespaceAssociation",
        list_key="idNamespaceAssociationSummaries",
        identifiers={
            "membershipIdentifier": "membershipIdentifier",
            "idNamespaceAssociationIdentifier": SELF,
        },
        references=_MEMBERSHIP,
        caller="the namespace's owner",
    ),
    ResourceType(
        kind=Kind.ID_MAPPING_TABLE,
        create="CreateIdMappingTable",
        get="GetIdMappingTable",
        list="ListIdMappingTables",
        update="UpdateIdMappingTable",
        delete="DeleteIdMappingTable",
        response_key="idMappingTable",
        list_key="idMappingTableSummaries",
        identifiers={"membershipIdentifier": "membershipIdentifier", "idMappingTableIdentifier": SELF},
        references=_MEMBERSHIP,
        create_first_on=frozenset({"name"}),
        caller="the table's owner",
    ),
)
