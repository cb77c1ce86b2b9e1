"""Normal form: desired attributes and observed API responses put into one comparable shape.

Both sides of a diff go through here, so that equal means "no change" (no perpetual diffs):

- ``canonical`` puts attributes (API request field names) into normal form: the defaults the
  service assumes filled in, values that clear a field treated as absent, the tool's identity
  tags dropped, empty values dropped, lists whose order the service does not keep sorted;
- ``normalize_observed`` turns a raw Get/List response item into that form: response names
  mapped to request names, server-set fields (ids, ARNs, times, statuses) dropped because only
  request fields are kept, references turned back into Refs.

What each Kind needs (defaults, ordered lists, renames, references) is read from its descriptor
in ``registry``.

>>> from reconciler.planner.addresses import Kind
>>> canonical(Kind.CONFIGURED_TABLE, {"allowedColumns": ["b", "a"], "description": "", "tags": {}})
{'allowedColumns': ['a', 'b']}
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from reconciler.planner.addresses import Address, Kind
from reconciler.planner.registry import descriptor
from reconciler.planner.resource import Ref

__all__ = ["ADDRESS_TAG", "MANAGED_TAG_PREFIX", "STACK_TAG", "canonical", "normalize_observed"]

#: Prefix of the identity tags the tool puts on what it creates (``state.identity_tags``);
#: such tags are never part of a diff.
MANAGED_TAG_PREFIX = "reconciler:"
#: Tag naming the stack that manages a resource.
STACK_TAG = MANAGED_TAG_PREFIX + "stack"
#: Tag naming the resource's Address within its stack (rewritten when the resource moves).
ADDRESS_TAG = MANAGED_TAG_PREFIX + "address"


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict[str, Any], dotted: str, value: Any, *, create_parents: bool = True) -> None:
    *head, last = dotted.split(".")
    node = data
    for part in head:
        if part not in node:
            if not create_parents:
                return
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            return
    node[last] = value


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _clean(value: Any, path: str, ordered: frozenset[str]) -> Any:
    """Drop None and empty containers; sort lists whose order the service does not mean."""
    if isinstance(value, Mapping):
        out = {}
        for key in sorted(value):
            cleaned = _clean(value[key], f"{path}.{key}" if path else key, ordered)
            if cleaned is not None and cleaned != {} and cleaned != []:
                out[key] = cleaned
        return out
    if isinstance(value, (list, tuple)):
        items = [c for c in (_clean(v, path, ordered) for v in value) if c is not None]
        return items if path in ordered else sorted(items, key=_sort_key)
    if isinstance(value, dt.datetime):  # a timestamp field, as YAML or botocore gives it: ISO 8601 UTC
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()
    return value


def canonical(kind: Kind, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Put attributes into normal form: defaults filled, empties dropped, unordered lists sorted.

    Desired and observed attributes both go through this, so equality means no change.

    Args:
        kind: the resource's Kind.
        attributes: API-shaped fields (request names); not modified.

    Returns:
        A new dict in normal form (keys sorted).
    """
    d = descriptor(kind)
    out = copy.deepcopy(dict(attributes))
    for path, default in d.defaults.items():
        parent, _, last = path.rpartition(".")
        holder = _get(out, parent) if parent else out
        if isinstance(holder, dict) and holder.get(last) is None:
            holder[last] = copy.deepcopy(default)
    for name, empty in d.clearing.items():
        if out.get(name) == empty:
            del out[name]  # a cleared field is an absent one
    if "tags" in out and isinstance(out["tags"], Mapping):
        out["tags"] = {k: v for k, v in out["tags"].items() if not k.startswith(MANAGED_TAG_PREFIX)}
    cleaned: dict[str, Any] = _clean(out, "", d.ordered_lists)
    return cleaned


def normalize_observed(
    kind: Kind,
    raw: Mapping[str, Any],
    *,
    address: Address,
    ids: Mapping[str, Address] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Turn a Get/List response item into the normal form a desired resource has.

    Server-set fields (ids, ARNs, times, statuses) are dropped because only request fields are
    kept; response names are mapped to request names; references become Refs (parents derived
    from ``address``, others looked up in ``ids``); tags added by the tool are dropped.

    Args:
        kind: the resource's Kind.
        raw: the resource object from the response (``response[descriptor.response_key]``).
        address: the Address the backend found it under (from its tags or its parent).
        ids: id or ARN -> Address of every observed managed resource, to turn references back
            into Refs. An unknown id stays a plain string (and shows as a change).
        tags: the resource's tags (from ListTagsForResource) when not in ``raw``.

    Returns:
        Attributes in normal form.
    """
    d = descriptor(kind)
    renamed = {d.response_renames.get(k, k): v for k, v in raw.items()}
    if tags is not None:
        renamed["tags"] = dict(tags)
    out: dict[str, Any] = {
        k: copy.deepcopy(renamed[k]) for k in d.fields if k in renamed and k not in d.delegated
    }
    for path, ref in d.references.items():
        value = _get(raw, ref.response_field)
        target = (
            ref.derive(address) if ref.derive else (ids or {}).get(value) if isinstance(value, str) else None
        )
        if target is not None:
            _set(out, path, Ref(target, ref.field), create_parents=ref.derive is not None)
        elif value is not None:
            _set(out, path, value)
    return canonical(kind, _known_to_refs(out, ids or {}))


def _known_to_refs(value: Any, ids: Mapping[str, Address]) -> Any:
    """Ids and ARNs of managed resources anywhere (``allowedAnalyses``...) become Refs again."""
    if isinstance(value, str):
        target = ids.get(value)
        return value if target is None else Ref(target, "arn" if value.startswith("arn:") else "id")
    if isinstance(value, Mapping):
        return {k: _known_to_refs(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_known_to_refs(v, ids) for v in value]
    return value
