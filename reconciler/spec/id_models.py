"""The identity-resolution kinds of the spec format: ID namespace associations and ID mapping tables.

Field names are the ``cleanrooms`` API's (``CreateIdNamespaceAssociation``, ``CreateIdMappingTable``).
Both live in a collaboration, made by ``owner`` in its membership. The AWS Entity Resolution
resources they reference (an ID namespace, an ID mapping workflow) belong to another service; the
local backend has a stand-in for them, declared here as local data:

- ``IdNamespaceAssociation.localNamespace``: the namespace's ``type`` (SOURCE or TARGET), the
  CSV/Parquet file holding its records (``data``, relative to the YAML file) and the column that
  holds each record's id (``idColumn``);
- ``IdMappingTable.localWorkflow.rules``: the workflow's rule-based matching rules, each a list of
  matching keys (columns both namespaces have); ``PopulateIdMappingTable`` matches them exactly.

Both are ignored on ``--backend aws``, where Entity Resolution holds the real resources.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import Field

from reconciler.spec.models import Lifecycle, MemberKey, SpecModel, Tags

__all__ = [
    "ID_DOCUMENT_MODELS",
    "IdDocument",
    "IdMappingConfigSpec",
    "IdMappingTableSpec",
    "IdNamespaceAssociationSpec",
    "InputReferenceSpec",
    "LocalNamespaceSpec",
    "LocalWorkflowSpec",
]


class InputReferenceSpec(SpecModel):
    """``inputReferenceConfig``: the Entity Resolution resource and whether Clean Rooms manages its policy."""

    inputReferenceArn: str
    manageResourcePolicies: bool


class IdMappingConfigSpec(SpecModel):
    """``idMappingConfig``: whether the namespace's ids may be used as dimension columns."""

    allowUseAsDimensionColumn: bool


class LocalNamespaceSpec(SpecModel):
    """The local stand-in of the Entity Resolution ID namespace (``--backend local`` only)."""

    type: Literal["SOURCE", "TARGET"]
    data: str
    """A CSV or Parquet file, relative to this YAML file: the namespace's records."""
    idColumn: str
    """The column holding each record's id (what the ID mapping table maps)."""


class LocalWorkflowSpec(SpecModel):
    """The local stand-in of the Entity Resolution ID mapping workflow: rule-based, exact matching."""

    rules: list[list[str]] = Field(min_length=1)
    """Matching rules, each a list of matching keys; records match when every key of a rule is equal."""


class IdNamespaceAssociationSpec(SpecModel):
    """An Entity Resolution ID namespace brought into a collaboration by one member."""

    kind: Literal["IdNamespaceAssociation"]
    name: str
    owner: MemberKey
    collaboration: str
    description: str | None = None
    inputReferenceConfig: InputReferenceSpec
    idMappingConfig: IdMappingConfigSpec | None = None
    localNamespace: LocalNamespaceSpec | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class IdMappingTableSpec(SpecModel):
    """An ID mapping table: the collaboration's SOURCE and TARGET namespaces matched by a workflow."""

    kind: Literal["IdMappingTable"]
    name: str
    owner: MemberKey
    collaboration: str
    description: str | None = None
    inputReferenceConfig: InputReferenceSpec
    kmsKeyArn: str | None = None
    localWorkflow: LocalWorkflowSpec | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


#: Any identity-resolution document.
IdDocument: TypeAlias = IdNamespaceAssociationSpec | IdMappingTableSpec

#: ``kind:`` value -> model (``models.DOCUMENT_MODELS`` includes them).
ID_DOCUMENT_MODELS: dict[str, type[SpecModel]] = {
    "IdNamespaceAssociation": IdNamespaceAssociationSpec,
    "IdMappingTable": IdMappingTableSpec,
}
