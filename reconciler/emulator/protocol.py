"""The REST-JSON wire protocol of Clean Rooms, read from botocore's model, in both directions.

Requests and responses are transport-neutral values: ``WireRequest`` (method, raw target, headers,
body) and ``WireResponse`` (status, headers, body). The in-process transport (botocore's
``before-send`` hook) and the HTTP one (``reconciler.emulator.server``) each convert to and from
them, so both are answered by the same code, byte for byte.

``Router`` finds the operation for an HTTP method and path from the model's ``requestUri``
templates (labels, greedy labels, literal query parts). ``parse_request`` turns path labels,
query string, headers and JSON body into the operation's input dict. ``respond`` and
``error_response`` build the responses the service sends: the operation's status code and a JSON
body (timestamps as epoch seconds), or for errors the error shape's status, an
``x-amzn-errortype`` header and a body with ``message`` and the shape's fields. An error answer
that lacks a member its shape requires, or carries a value outside the shape's enum, is a bug of
the emulator: it is answered as ``InternalServerException`` instead, so a test finds it.
``signature`` reads the SigV4 ``Authorization`` header (access key, date, region, service).
Nothing here knows about resources.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.model import OperationModel, ServiceModel, Shape

from reconciler.emulator.errors import ServiceError

__all__ = [
    "EmulatorRoutingError",
    "Route",
    "Router",
    "Signature",
    "WireRequest",
    "WireResponse",
    "error_response",
    "parse_request",
    "respond",
    "signature",
]

_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request\s*,"
)
_log = logging.getLogger(__name__)

#: Errors every AWS service may send that are not in a service model: code -> HTTP status.
COMMON_ERRORS: dict[str, int] = {
    "MissingAuthenticationTokenException": 403,
    "UnrecognizedClientException": 403,
    "UnknownOperationException": 404,
    "SerializationException": 400,
    "RequestEntityTooLargeException": 413,
}


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request as it arrived.

    Attributes:
        method: ``GET``, ``POST``, ...
        target: the request target, still percent-encoded: ``/path?query`` or a full URL.
        headers: header names in lower case -> values.
        body: the raw body.
    """

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class WireResponse:
    """One HTTP response, plus what the request log says about it (never sent).

    Attributes:
        status: the HTTP status code.
        headers: response headers.
        body: the raw body.
        operation: the operation answered ("" when the request matched none).
        account: the calling account ("" when it was not recognised).
        error: the error code of an error answer ("" on success).
    """

    status: int
    headers: dict[str, str]
    body: bytes
    operation: str = ""
    account: str = ""
    error: str = ""


@dataclass(frozen=True)
class Signature:
    """What a SigV4 ``Authorization`` header says: who signed, when, for which region and service."""

    access_key_id: str
    date: str
    region: str
    service: str


def signature(request: WireRequest) -> Signature | None:
    """The request's SigV4 credential scope, or None when it carries no SigV4 ``Authorization``.

    The signature itself is not checked: the emulator has no secret keys to check it with.
    """
    hit = _SIGV4.match(request.headers.get("authorization", "").strip())
    return None if hit is None else Signature(*hit.groups())


class EmulatorRoutingError(RuntimeError):
    """A request matched no operation of the model: a bug, never sent to the network instead."""


@dataclass(frozen=True)
class Route:
    """One operation's HTTP binding compiled to a regex over the raw (still encoded) path."""

    operation: OperationModel
    regex: re.Pattern[str]
    literal_query: tuple[tuple[str, str], ...]
    specificity: int


class Router:
    """Maps (method, path, query) to an operation using the model's HTTP bindings only."""

    def __init__(self, model: ServiceModel) -> None:
        self._routes: dict[str, list[Route]] = {}
        for name in model.operation_names:
            op = model.operation_model(name)
            route = _compile(op)
            self._routes.setdefault(op.http["method"].upper(), []).append(route)
        for routes in self._routes.values():
            routes.sort(key=lambda r: -r.specificity)

    def match(
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[OperationModel, dict[str, str]]:
        """Return the operation and its decoded path labels.

        Raises:
            EmulatorRoutingError: no operation matches (the request never leaves the process).
        """
        for route in self._routes.get(method.upper(), ()):
            hit = route.regex.match(path)
            if hit is None:
                continue
            if any(query.get(k, [None])[0] != v for k, v in route.literal_query):
                continue
            return route.operation, {k: unquote(v) for k, v in hit.groupdict().items()}
        raise EmulatorRoutingError(f"no Clean Rooms operation for {method} {path}")


def _compile(op: OperationModel) -> Route:
    uri = op.http["requestUri"]
    path, _, query = uri.partition("?")
    pattern = ""
    pos = 0
    for label in _LABEL.finditer(path):
        pattern += re.escape(path[pos : label.start()])
        group = label.group(1)
        pattern += f"(?P<{group}>.+)" if label.group(2) else f"(?P<{group}>[^/]+)"
        pos = label.end()
    pattern += re.escape(path[pos:])
    literal = tuple((k, v[0]) for k, v in parse_qs(query, keep_blank_values=True).items())
    specificity = len(_LABEL.sub("", path)) * 2 - sum(1 for m in _LABEL.finditer(path) if m.group(2))
    return Route(op, re.compile(pattern + r"/?\Z"), literal, specificity)


def parse_request(request: WireRequest, router: Router) -> tuple[OperationModel, dict[str, Any]]:
    """Route a request and build the input dict from its path, query, headers and body.

    Returns:
        The operation and its input (member names as keys, values typed per the shapes).

    Raises:
        EmulatorRoutingError: no operation of the model has this method and path.
        ServiceError: SerializationException when the body is not a JSON object.
    """
    url = urlsplit(request.target)
    query = parse_qs(url.query, keep_blank_values=True)
    op, labels = router.match(request.method or "GET", url.path, query)
    shape = op.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return op, params
    body_members: dict[str, str] = {}
    for name, member in shape.members.items():
        ser = member.serialization
        where = ser.get("location")
        wire = ser.get("name", name)
        if where == "uri":
            if wire in labels:
                params[name] = _scalar(member, labels[wire])
        elif where == "querystring":
            if member.type_name == "map":
                taken = {k: v[0] for k, v in query.items() if not _is_bound(shape, k)}
                if taken:
                    params[name] = taken
            elif wire in query:
                values = query[wire]
                if member.type_name == "list":
                    params[name] = [_scalar(member.member, v) for v in values]
                else:
                    params[name] = _scalar(member, values[0])
        elif where == "header":
            header = request.headers.get(wire.lower())
            if header is not None:
                params[name] = _scalar(member, header)
        elif where is None:
            body_members[wire] = name
    if body_members and request.body:
        document = _document(request.body)
        payload = shape.serialization.get("payload")
        if payload:
            params[payload] = document
        else:
            for wire, name in body_members.items():
                if wire in document:
                    params[name] = document[wire]
    return op, params


def _document(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServiceError("SerializationException", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ServiceError("SerializationException", "the request body must be a JSON object")
    return document


def _is_bound(shape: Shape, wire: str) -> bool:
    return any(m.serialization.get("name", n) == wire for n, m in shape.members.items())


def _scalar(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return text.lower() == "true"
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def respond(op: OperationModel, output: dict[str, Any] | None) -> WireResponse:
    """The success response for ``op`` carrying ``output`` (already shaped as the output shape)."""
    status = int(op.http.get("responseCode", 200))
    data = b"" if status == 204 else json.dumps(output or {}, default=_json_default).encode()
    headers = {"content-type": "application/json", "x-amzn-requestid": "local"}
    return WireResponse(status, headers, data, operation=op.name)


def error_response(model: ServiceModel, error: ServiceError) -> WireResponse:
    """The error response for ``error``: status from its shape, ``x-amzn-errortype``, JSON body.

    An error the model defines must carry every member its shape requires, with enum values
    from the shape; otherwise (and for a code neither the model nor ``COMMON_ERRORS`` knows) the
    answer is an ``InternalServerException`` naming the emulator's bug.
    """
    shape = _error_shape(model, error.code)
    problem = _problem(shape, error) if shape is not None else ""
    if shape is None and error.code not in COMMON_ERRORS:
        problem = f"{error.code} is not an error of the {model.service_name} model"
    if problem:
        _log.error("malformed error answer: %s", problem)
        error = ServiceError(
            "InternalServerException", f"the local backend built a malformed {error.code} ({problem}); a bug"
        )
        shape = _error_shape(model, error.code)
    if shape is not None:
        status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    else:
        status = COMMON_ERRORS[error.code]
    body: dict[str, Any] = {"message": error.message}
    for key, value in error.fields.items():
        if shape is None or key in shape.members:
            body[key] = value
    headers = {
        "content-type": "application/json",
        "x-amzn-errortype": error.code,
        "x-amzn-requestid": "local",
    }
    return WireResponse(status, headers, json.dumps(body).encode(), error=error.code)


def _error_shape(model: ServiceModel, code: str) -> Shape | None:
    for shape in model.error_shapes:
        if shape.name == code:
            return shape
    return None


def _problem(shape: Shape, error: ServiceError) -> str:
    """What is wrong with ``error`` as an instance of ``shape`` ("" when nothing)."""
    values = {"message": error.message, **error.fields}
    missing = [m for m in shape.required_members if values.get(m) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    for key, value in error.fields.items():
        member = shape.members.get(key)
        enum = member.metadata.get("enum") if member is not None else None
        if enum and value not in enum:
            return f"{key} {value!r} is not one of {', '.join(enum)}"
    return ""
