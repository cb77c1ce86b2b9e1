"""Server-side input validation against botocore's shapes, as the service does it.

botocore's client checks only types and required members; the service also checks enums,
length and size limits, numeric ranges, patterns and that a union sets exactly one member.
This module does all of it from the model, so the emulator never accepts what AWS refuses.
ARN length maxima are the one exception (see ``_ARN_MAX``). Patterns are matched in full; the
few that use ``\\p{..}`` classes Python's ``re`` lacks are not checked (they are on Snowflake and
Databricks references only).
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.model import Shape

from reconciler.aws_model import model_pattern
from reconciler.emulator.errors import ServiceError

__all__ = ["validate_input"]

_MAX_REPORTED = 10
#: The model caps several ARN shapes at 100 characters, yet AWS's own ARNs of membership-scoped
#: resources (``membership/<uuid>/configuredtableassociation/<uuid>``) are about 150 and are
#: accepted (e.g. by TagResource); ARN maxima are therefore checked against IAM's 2048 instead.
_ARN_MAX = 2048


@functools.cache
def _pattern(pattern: str) -> Any:
    """The model's pattern with Java's meaning (``\\w`` is ASCII), or None if it does not compile."""
    try:
        return model_pattern(pattern)
    except Exception:  # noqa: BLE001 - regex raises its own error types
        return None


def validate_input(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise a ``ValidationException`` listing every constraint ``params`` breaks.

    Args:
        shape: the operation's input shape.
        params: the parsed request (member names as keys).

    Raises:
        ServiceError: ValidationException with ``fieldList`` naming each bad field.
    """
    if shape is None:
        return
    problems: list[tuple[str, str]] = []
    _check(shape, params, "", problems)
    if problems:
        shown = problems[:_MAX_REPORTED]
        count = len(problems)
        text = "; ".join(f"Value at '{path}' failed to satisfy constraint: {msg}" for path, msg in shown)
        raise ServiceError(
            "ValidationException",
            f"{count} validation error{'s' if count != 1 else ''} detected: {text}",
            reason="FIELD_VALIDATION_FAILED",
            fieldList=[{"name": path, "message": msg} for path, msg in shown],
        )


def _check(shape: Shape, value: Any, path: str, out: list[tuple[str, str]]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            out.append((path, "Member must be a structure"))
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                out.append((_join(path, name), "Member must not be null"))
        present = [k for k, v in value.items() if v is not None and k in members]
        if meta.get("union") and len(present) != 1:
            names = ", ".join(members)
            out.append((path or shape.name, f"Member must set exactly one of: {names}"))
        for key in present:
            _check(members[key], value[key], _join(path, key), out)
    elif kind == "list":
        if not isinstance(value, list):
            out.append((path, "Member must be a list"))
            return
        _size(meta, len(value), path, out, "length")
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}.{i + 1}", out)
    elif kind == "map":
        if not isinstance(value, dict):
            out.append((path, "Member must be a map"))
            return
        _size(meta, len(value), path, out, "length")
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}(key)", out)
            _check(shape.value, item, f"{path}.{key}", out)
    elif kind == "string":
        if not isinstance(value, str):
            out.append((path, "Member must be a string"))
            return
        enum = meta.get("enum")
        if enum and value not in enum:
            out.append((path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
            return
        limits = (
            {**meta, "max": max(meta["max"], _ARN_MAX)}
            if shape.name.endswith("Arn") and "max" in meta
            else meta
        )
        _size(limits, len(value), path, out, "length")
        regex = meta.get("pattern")
        if regex:
            compiled = _pattern(regex)
            # concurrent=False: keep the interpreter lock; releasing and taking it back for a
            # short match made every call slower when the workers' calls contend for it.
            if compiled is not None and not compiled.fullmatch(value, concurrent=False):
                out.append((path, f"Member must satisfy regular expression pattern: {regex}"))
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append((path, "Member must be a number"))
            return
        if "min" in meta and value < meta["min"]:
            out.append((path, f"Member must have value greater than or equal to {meta['min']}"))
        if "max" in meta and value > meta["max"]:
            out.append((path, f"Member must have value less than or equal to {meta['max']}"))
    elif kind == "boolean" and not isinstance(value, bool):
        out.append((path, "Member must be a boolean"))


def _size(meta: dict[str, Any], size: int, path: str, out: list[tuple[str, str]], what: str) -> None:
    if "min" in meta and size < meta["min"]:
        out.append((path, f"Member must have {what} greater than or equal to {meta['min']}"))
    if "max" in meta and size > meta["max"]:
        out.append((path, f"Member must have {what} less than or equal to {meta['max']}"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
