"""Botocore's service models, loaded once: the tool's only source of knowledge about the API.

Limits (lengths, patterns, enums, list sizes), operations, HTTP bindings and documentation
strings all come from here at run time, never copied by hand.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING

import regex  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from botocore.model import ServiceModel

__all__ = ["documented_values", "model_pattern", "service_model"]

# Java's way of admitting supplementary characters, which Python regexes need as a code point range.
_SURROGATES = "\\uD800\\uDBFF-\\uDC00\\uDFFF"
#: Java's predefined classes are ASCII unless a flag says otherwise; Python's are Unicode.
_JAVA_CLASSES = {"w": "a-zA-Z0-9_", "d": "0-9", "s": " \\t\\n\\x0B\\f\\r"}


@functools.cache
def service_model(service_name: str = "cleanrooms") -> ServiceModel:
    """Return botocore's model for ``cleanrooms`` or ``cleanroomsml`` (cached per process).

    Args:
        service_name: the botocore service name.

    Returns:
        The ``botocore.model.ServiceModel``.
    """
    # botocore's loader, as a session would use it (AWS_DATA_PATH, then ~/.aws/models, then the
    # bundled data), without a session: no credentials configuration is read, and importing
    # botocore.session (its auth, credentials and client machinery) cost every ``validate`` a
    # twentieth of a second. No handler of ``service-data-loaded`` touches these two services, so
    # the model is the one ``Session.get_service_model`` returns (tests/package checks it).
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    loader = create_loader(os.environ.get("AWS_DATA_PATH"))
    return ServiceModel(loader.load_service_model(service_name, "service-2"), service_name=service_name)


@functools.cache
def model_pattern(pattern: str) -> regex.Pattern[str]:
    """A botocore (Java) pattern compiled with Java's meaning, once.

    ``regex`` understands the ``\\p{L}`` classes the model uses; ``\\w``, ``\\d`` and ``\\s`` are
    narrowed to ASCII as in Java, so ``résumé`` does not match ``[\\w]*`` here either.
    """
    return regex.compile(_java(pattern.replace(_SURROGATES, "\\U00010000-\\U0010FFFF")))


def _java(pattern: str) -> str:
    out: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _JAVA_CLASSES:
                body = _JAVA_CLASSES[nxt]
                out.append(body if in_class else f"[{body}]")
            else:
                out.append(char + nxt)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@functools.cache
def documented_values(shape: str, member: str, service_name: str = "cleanrooms") -> tuple[str, ...]:
    """The values a string member's documentation lists as ``<code>VALUE</code>`` (when it has no enum).

    Some members (``ProtectedQueryError.code``) are plain strings whose valid values the model
    states only in prose; this reads them from there, in order.

    >>> documented_values("ProtectedQueryError", "code")[:2]
    ('MALFORMED_QUERY', 'RESOURCE_NOT_FOUND')
    """
    documentation = service_model(service_name).shape_for(shape).members[member].documentation
    return tuple(dict.fromkeys(re.findall(r"<code>([A-Z][A-Z0-9_]+)</code>", documentation)))
