"""The values the planner works on: desired and observed resources, and Refs between them.

- ``DesiredResource``: one resource a spec declares, in normal form (``desired.resources``
  makes them): where the spec declares it, whether it is protected or adopted, and the
  dependencies its attributes do not show.
- ``ObservedResource``: one resource a backend read, in the same normal form, with the service's
  id and ARN and whether this stack manages it.
- ``Ref``: a logical reference (``Ref(Address, "id")``) kept in attributes until apply resolves
  it to the referenced resource's id or ARN.

``encode`` / ``decode`` are the JSON form of attribute values (a Ref is ``{"$ref": address,
"field": "id"}``), shared by plan files and the state cache; ``fingerprint`` hashes a set of
resources, so a plan can tell whether the spec or the live state moved since it was made.

>>> from reconciler.planner.addresses import Address, Kind
>>> ref = Ref(Address.of(Kind.MEMBERSHIP, "retail", "adtech"))
>>> encode({"membershipIdentifier": ref})
{'membershipIdentifier': {'$ref': 'membership.retail.adtech', 'field': 'id'}}
>>> decode(encode({"membershipIdentifier": ref}))["membershipIdentifier"] == ref
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import SourceLocation
from reconciler.planner.addresses import Address, Kind, parse

__all__ = ["DesiredResource", "ObservedResource", "Ref", "decode", "encode", "fingerprint"]


@dataclass(frozen=True, order=True)
class Ref:
    """A reference to another managed resource, resolved to its id or ARN only at apply time.

    In plan files it is written ``{"$ref": "<address>", "field": "id"}``.

    Args:
        address: the referenced resource.
        field: ``"id"``, ``"arn"`` or ``"accountId"`` (what the API wants in this place).
    """

    address: Address
    field: str = "id"

    def __str__(self) -> str:
        return f"{self.address}.{self.field}"

    def to_json(self) -> dict[str, str]:
        """The plan-file form: ``{"$ref": "<address>", "field": "<field>"}``."""
        return {"$ref": str(self.address), "field": self.field}


@dataclass(frozen=True)
class DesiredResource:
    """One resource a spec declares, in normal form.

    Args:
        address: where it lives in the stack.
        attributes: API-shaped fields (request names), normal form; Refs for references.
        owner: member key of the account that makes this resource's calls.
        account_id: that account's 12-digit id, when the spec names it.
        source: where the spec declares it; messages point there.
        prevent_destroy: ``lifecycle.preventDestroy`` from the spec: never delete or replace it.
        depends_on: dependencies not visible as Refs in the attributes (a template needs the
            associations it reads, a membership its member).
        existing: made outside this stack and adopted (``existing: true`` in the spec); never
            created, replaced or deleted.
        id: for an adopted resource, the service's id the spec names (``collaborationId``).
        region: the AWS region it lives in (its collaboration's; a table's from its associations).
    """

    address: Address
    attributes: Mapping[str, Any]
    owner: str | None = None
    account_id: str | None = None
    source: SourceLocation | None = None
    prevent_destroy: bool = False
    depends_on: tuple[Address, ...] = ()
    existing: bool = False
    id: str | None = None
    region: str | None = None

    @property
    def kind(self) -> Kind:
        """The resource's Kind (from its address)."""
        return self.address.kind


@dataclass(frozen=True)
class ObservedResource:
    """One resource a backend read (or an apply step left), in the normal form of a desired one.

    Args:
        address: the Address it was found under (from its tags, or its parent's).
        attributes: API-shaped fields (request names), normal form; Refs for references.
        owner: member key of the account it belongs to.
        account_id: that account's 12-digit id.
        id: the service's id for it.
        arn: its ARN.
        managed: it carries this stack's tags (or its parent does), so a spec without it means
            DELETE. Unmanaged resources (adopted ones, other members' seen through a shared
            collaboration) are never touched.
        gone: the final status of a resource that ended for good and can never come back (a
            member that ``LEFT`` or was ``REMOVED``), "" for a live one. The plan never re-creates it.
        region: the AWS region it was found in.
    """

    address: Address
    attributes: Mapping[str, Any]
    owner: str | None = None
    account_id: str | None = None
    id: str | None = None
    arn: str | None = None
    managed: bool = True
    gone: str = ""
    region: str | None = None

    @property
    def kind(self) -> Kind:
        """The resource's Kind (from its address)."""
        return self.address.kind


def encode(value: Any) -> Any:
    """Make an attribute value JSON-ready (Refs become ``{"$ref": ..., "field": ...}``).

    Args:
        value: an attribute value (nested dicts, lists, Refs, dates, scalars).

    Returns:
        The same value built from JSON types only.
    """
    if isinstance(value, Ref):
        return value.to_json()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def decode(value: Any) -> Any:
    """Inverse of ``encode``: ``{"$ref": ..., "field": ...}`` becomes a Ref again.

    Args:
        value: a value read from JSON.

    Returns:
        The attribute value.
    """
    if isinstance(value, dict):
        if set(value) == {"$ref", "field"}:
            return Ref(parse(value["$ref"]), str(value["field"]))
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def fingerprint(resources: Iterable[DesiredResource | ObservedResource]) -> str:
    """A sha256 over resources' addresses, attributes and ids: equal inputs, equal fingerprints.

    Args:
        resources: desired resources (spec fingerprint) or observed ones (state fingerprint).

    Returns:
        Hex digest; order of ``resources`` does not matter.
    """
    rows = sorted(
        (
            str(r.address),
            r.attributes,
            r.id,
            r.arn if isinstance(r, ObservedResource) else None,
            r.account_id,
            *([r.gone] if isinstance(r, ObservedResource) and r.gone else []),
            *([f"region:{r.region}"] if r.region else []),
        )
        for r in resources
    )
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=_json_default).encode()).hexdigest()


def _json_default(value: Any) -> Any:
    """Attributes are JSON-native except Refs (and dates, in raw responses)."""
    if isinstance(value, Ref):
        return value.to_json()
    return str(value)
