"""Layer 3 for ID namespace associations and ID mapping tables: placement and local data.

Both live in a collaboration, made by a member: a collaboration the stack does not declare, or an
owner who is not a member, would only fail at apply time. Their local stand-ins' files must exist,
and an ID mapping table needs the collaboration's one SOURCE and one TARGET namespace (the local
backend refuses it otherwise; declared types are known only from ``localNamespace``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from reconciler.errors import Diagnostic
from reconciler.spec import id_models as ids
from reconciler.spec.checks.view import quoted_names, suggest, view
from reconciler.spec.stack import Stack

__all__ = ["check_identity"]


def check_identity(stack: Stack) -> Iterator[Diagnostic]:
    """ID namespace associations and ID mapping tables are placed in a collaboration and have their data.

    Codes:
        id-collaboration (error): an ID namespace association or ID mapping table in a collaboration
            the stack does not declare, or whose owner is not a member of it.
            Fix: name a collaboration of the stack, and an owner among its members.
        id-local-data (error): ``localNamespace.data`` is not a .csv or .parquet file, or does not exist.
            Fix: correct the path (relative to the YAML file), or convert the data to CSV or Parquet.
        id-namespace-types (error): an ID mapping table's collaboration does not have exactly one
            SOURCE and one TARGET ID namespace association (by their ``localNamespace.type``).
            Fix: associate one SOURCE and one TARGET namespace in the collaboration.
    """
    v = view(stack)
    types: dict[str, list[str]] = {}
    for doc in stack.id_documents:
        assert isinstance(doc, ids.IdNamespaceAssociationSpec | ids.IdMappingTableSpec)
        collab = v.collab.get(doc.collaboration)
        if collab is None:
            yield v.diag(
                "id-collaboration",
                doc,
                ("collaboration",),
                f'unknown collaboration "{doc.collaboration}"',
                hint=suggest(doc.collaboration, v.collab) or f"declared: {quoted_names(v.collab)}",
            )
        elif doc.owner not in collab.members:
            yield v.diag(
                "id-collaboration",
                doc,
                ("owner",),
                f'"{doc.owner}" is not a member of collaboration "{doc.collaboration}"',
                hint=f"members: {quoted_names(collab.members)}",
            )
        if isinstance(doc, ids.IdNamespaceAssociationSpec) and doc.localNamespace is not None:
            types.setdefault(doc.collaboration, []).append(doc.localNamespace.type)
            data = doc.localNamespace.data
            if Path(data).suffix.lower() not in (".csv", ".parquet"):
                yield v.diag(
                    "id-local-data", doc, ("localNamespace", "data"), f'"{data}" is not a CSV or Parquet file'
                )
            elif stack.needs_local_data and not stack.resolve_path(doc, data).is_file():
                yield v.diag(
                    "id-local-data",
                    doc,
                    ("localNamespace", "data"),
                    f'ID namespace data "{data}" does not exist',
                    hint="paths are relative to the YAML file",
                )
    for doc in stack.id_documents:
        if not isinstance(doc, ids.IdMappingTableSpec) or doc.collaboration not in types:
            continue
        found = types[doc.collaboration]
        if found.count("SOURCE") != 1 or found.count("TARGET") != 1:
            yield v.diag(
                "id-namespace-types",
                doc,
                ("collaboration",),
                f'collaboration "{doc.collaboration}" has {found.count("SOURCE")} SOURCE and '
                f"{found.count('TARGET')} TARGET ID namespace associations; "
                "an ID mapping table needs one of each",
            )
