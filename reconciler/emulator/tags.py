"""TagResource, UntagResource and ListTagsForResource, for every resource that has an ARN.

Tags live in the record's ``_tags``; only the account that owns a resource can see or change
its tags (another account's ARN looks absent, as on AWS). Keys starting with ``aws:`` are
reserved, and a resource carries at most 50 tags. A ResourceNotFoundException names the
``resourceType`` the ARN's resource path says (``resource_type_of``).
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import not_found, validation
from reconciler.emulator.registry import operation
from reconciler.emulator.store import Record

__all__ = ["MAX_TAGS", "resource_type_of"]

#: AWS's per-resource tag limit.
MAX_TAGS = 50
#: ARN resource-path words -> the model's ``ResourceType``, most specific first.
_ARN_TYPES = (
    ("configuredtableassociation", "CONFIGURED_TABLE_ASSOCIATION"),
    ("configuredtable", "CONFIGURED_TABLE"),
    ("membership", "MEMBERSHIP"),
    ("collaboration", "COLLABORATION"),
)


def resource_type_of(arn: str) -> str:
    """The ``resourceType`` for an error about ``arn``, from its resource path.

    The enum has four values; a template's ARN (``membership/<id>/analysistemplate/<id>``) names
    its membership. An ARN that names none of them is taken as a collaboration's, the
    undocumented choice.

    >>> resource_type_of("arn:aws:cleanrooms:us-east-1:1:membership/m/configuredtableassociation/a")
    'CONFIGURED_TABLE_ASSOCIATION'
    >>> resource_type_of("arn:aws:cleanrooms:us-east-1:111122223333:membership/m/analysistemplate/t")
    'MEMBERSHIP'
    """
    path = arn.split(":", 5)[-1].split("/")
    for word, resource_type in _ARN_TYPES:
        if word in path:
            return resource_type
    return "COLLABORATION"


def _owned(ctx: RequestContext, arn: str) -> tuple[str, Record]:
    hit = ctx.store.by_arn(arn)
    if hit is None or hit[1].get("_account") != ctx.account_id or "_tags" not in hit[1]:
        raise not_found(resource_type_of(arn), arn, "resource")
    return hit


@operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Add or overwrite tags on a resource the caller owns."""
    kind, record = _owned(ctx, params["resourceArn"])
    reserved = [k for k in params["tags"] if k.lower().startswith("aws:")]
    if reserved:
        raise validation(f"tag keys starting with 'aws:' are reserved: {', '.join(reserved)}", field="tags")
    tags = {**record["_tags"], **params["tags"]}
    if len(tags) > MAX_TAGS:
        raise validation(
            f"a resource can have at most {MAX_TAGS} tags; this would make {len(tags)}", field="tags"
        )
    ctx.store.put(kind, record["id"], {**record, "_tags": tags})
    return {}


@operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Remove tags (missing keys are ignored, as on AWS)."""
    kind, record = _owned(ctx, params["resourceArn"])
    tags = {k: v for k, v in record["_tags"].items() if k not in set(params["tagKeys"])}
    ctx.store.put(kind, record["id"], {**record, "_tags": tags})
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The tags of a resource the caller owns."""
    _, record = _owned(ctx, params["resourceArn"])
    return {"tags": dict(record["_tags"])}
