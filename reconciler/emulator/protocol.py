"""The REST-JSON wire protocol of Clean Rooms, read from botocore's model, in both directions.

``Router`` finds the operation for an HTTP method and path from the model's ``requestUri``
templates (labels, greedy labels, literal query parts). ``parse_request`` turns path labels,
query string, headers and JSON body into the operation's input dict. ``respond`` and
``error_response`` build ``AWSResponse`` objects the way the service answers: the operation's
status code and a JSON body (timestamps as epoch seconds), or for errors the error shape's
status, an ``x-amzn-errortype`` header and a body with ``message`` and the shape's fields.
Nothing here knows about resources.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import OperationModel, ServiceModel, Shape

from reconciler.emulator.errors import ServiceError

__all__ = ["EmulatorRoutingError", "Route", "Router", "error_response", "parse_request", "respond"]

_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


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


def parse_request(request: AWSPreparedRequest, router: Router) -> tuple[OperationModel, dict[str, Any]]:
    """Route a prepared request and build the input dict from its path, query, headers and body.

    Returns:
        The operation and its input (member names as keys, values typed per the shapes).
    """
    url = urlsplit(request.url)
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
            header = request.headers.get(wire)
            if header is not None:
                params[name] = _scalar(member, header.decode() if isinstance(header, bytes) else header)
        elif where is None:
            body_members[wire] = name
    body = request.body
    if body_members and body:
        raw = body if isinstance(body, bytes | str) else body.read()
        document = json.loads(raw) if raw else {}
        payload = shape.serialization.get("payload")
        if payload:
            params[payload] = document
        else:
            for wire, name in body_members.items():
                if wire in document:
                    params[name] = document[wire]
    return op, params


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


class _Body:
    """The minimal raw-stream object ``AWSResponse.content`` reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def respond(url: str, op: OperationModel, output: dict[str, Any] | None) -> AWSResponse:
    """The success response for ``op`` carrying ``output`` (already shaped as the output shape)."""
    status = int(op.http.get("responseCode", 200))
    data = b"" if status == 204 else json.dumps(output or {}, default=_json_default).encode()
    headers = {"content-type": "application/json", "x-amzn-requestid": "local"}
    return AWSResponse(url, status, headers, _Body(data))


def error_response(url: str, model: ServiceModel, error: ServiceError) -> AWSResponse:
    """The error response for ``error``: status from its shape, ``x-amzn-errortype``, JSON body."""
    status = 400
    try:
        shape = model.shape_for(error.code)
        status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    except Exception:  # noqa: BLE001 - a code the model does not define keeps the generic 400
        shape = None
    body: dict[str, Any] = {"message": error.message}
    for key, value in error.fields.items():
        if shape is None or key in shape.members:
            body[key] = value
    headers = {
        "content-type": "application/json",
        "x-amzn-errortype": error.code,
        "x-amzn-requestid": "local",
    }
    return AWSResponse(url, status, headers, _Body(json.dumps(body).encode()))
