"""Botocore's service models, loaded once: the tool's only source of knowledge about the API.

Limits (lengths, patterns, enums, list sizes), operations, HTTP bindings and documentation
strings all come from here at run time, never copied by hand. ``service_model`` is botocore's
``ServiceModel`` (the emulator, the planner); ``model_shape`` reads the same JSON without
importing botocore (whose import alone took a fifth of ``validate``'s time), for the spec's
limits, which need a shape's type, traits and members only.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from botocore.model import ServiceModel

__all__ = ["ModelShape", "documented_values", "model_pattern", "model_shape", "service_json", "service_model"]

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


#: botocore's ``Shape.METADATA_ATTRS``: the traits a shape's ``metadata`` holds.
_METADATA = (
    *("required", "min", "max", "pattern", "sensitive", "enum", "idempotencyToken", "error"),
    *("exception", "endpointdiscoveryid", "retryable", "document", "union", "contextParam"),
    *("clientContextParams", "requiresLength"),
)


@functools.cache
def service_json(service_name: str = "cleanrooms") -> Mapping[str, Any]:
    """The service model's JSON, as botocore's loader finds it (latest API version).

    Read straight from botocore's bundled data when only that data has the service and it has no
    extras file; otherwise (AWS_DATA_PATH or ~/.aws/models hold a model of it) through botocore's
    own loader, so that the answer is always the one ``service_model`` gets.
    """
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.submodule_search_locations, "botocore is a dependency"
    bundled = Path(next(iter(spec.submodule_search_locations))) / "data" / service_name
    others = [*(os.environ.get("AWS_DATA_PATH") or "").split(os.pathsep), "~/.aws/models"]
    if not any(p and (Path(p).expanduser() / service_name).exists() for p in others):
        versions = sorted(
            d for d in bundled.iterdir() if any((d / f"service-2.json{z}").is_file() for z in ("", ".gz"))
        )
        if versions and not any(versions[-1].glob("service-2.*-extras.json*")):
            plain = versions[-1] / "service-2.json"
            if plain.is_file():
                return dict(json.loads(plain.read_bytes()))
            return dict(json.loads(gzip.decompress((versions[-1] / "service-2.json.gz").read_bytes())))
    return dict(service_model(service_name)._service_description)


class ModelShape:
    """One shape of a service model, read from its JSON: what botocore's ``Shape`` says of it.

    The same attribute names as botocore's (``name``, ``type_name``, ``metadata``, ``members``,
    ``member``, ``key``, ``value``, ``enum``, ``required_members``); tests/package compares every
    shape of both services with botocore's.
    """

    def __init__(self, name: str, service_name: str) -> None:
        self.name = name
        self.service_name = service_name
        self._shape: Mapping[str, Any] = service_json(service_name)["shapes"][name]
        self.type_name: str = self._shape["type"]
        self.metadata: dict[str, Any] = {k: self._shape[k] for k in _METADATA if k in self._shape}

    def __repr__(self) -> str:
        return f"<ModelShape({self.name})>"

    @functools.cached_property
    def members(self) -> dict[str, ModelShape]:
        return {
            k: model_shape(ref["shape"], self.service_name)
            for k, ref in self._shape.get("members", {}).items()
        }

    def _ref(self, key: str) -> ModelShape:
        return model_shape(self._shape[key]["shape"], self.service_name)

    @property
    def member(self) -> ModelShape:
        return self._ref("member")

    @property
    def key(self) -> ModelShape:
        return self._ref("key")

    @property
    def value(self) -> ModelShape:
        return self._ref("value")

    @property
    def enum(self) -> list[str]:
        return list(self.metadata.get("enum", []))

    @property
    def required_members(self) -> list[str]:
        return list(self.metadata.get("required", []))


@functools.cache
def model_shape(name: str, service_name: str = "cleanrooms") -> ModelShape:
    """The shape ``name`` of ``service_name``'s model, built once (``ModelShape``)."""
    return ModelShape(name, service_name)


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
