"""The operation handler table: how an operation of an AWS service becomes Python code.

A handler is ``handler(ctx, params) -> output`` where ``ctx`` is a
``reconciler.emulator.context.RequestContext`` (caller account, region, clock, store, catalog,
results root, lookups) and ``params`` the validated input dict. It returns the output dict in the
operation's output shape (``datetime`` values are sent as epoch seconds) or None for an empty
output, and raises ``reconciler.emulator.errors.ServiceError`` (or one of the helpers there) for
an AWS error answer. Input validation, routing, fault injection, commit/rollback and response
serialization happen around it.

Register with the decorator; the name must be an operation of the service model::

    from reconciler.emulator.registry import operation

    @operation("GetProtectedQuery")
    def get_protected_query(ctx, params):
        ...

A handler that changes state calls ``ctx.store.put`` / ``ctx.store.delete``; the emulator
commits those writes to DuckDB before answering, or rolls them back if the handler raises.

Handlers are registered per service (``cleanrooms`` by default; ``cleanroomsml`` operations
name theirs), and a service is emulated once it has a handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.aws_model import service_model

if TYPE_CHECKING:
    from reconciler.emulator.context import RequestContext

__all__ = ["OPERATIONS", "Handler", "handler", "operation", "register"]

Handler = Callable[["RequestContext", dict[str, Any]], "dict[str, Any] | None"]

#: Service name -> operation name -> handler, for every operation the emulator answers.
OPERATIONS: dict[str, dict[str, Handler]] = {}


def register(name: str, handler: Handler, *, service: str = "cleanrooms") -> None:
    """Make ``handler`` answer operation ``name`` of ``service`` (replacing any earlier handler).

    Args:
        name: an operation name of the service model, e.g. ``"StartProtectedQuery"``.
        handler: ``handler(ctx, params) -> output dict | None``.
        service: the botocore service name (``cleanrooms``, ``cleanroomsml``).

    Raises:
        ValueError: ``name`` is not an operation of the model (a typo would otherwise go unnoticed).
    """
    if name not in service_model(service).operation_names:
        raise ValueError(f"{name!r} is not an operation of the {service} service model")
    OPERATIONS.setdefault(service, {})[name] = handler


def handler(name: str, service: str = "cleanrooms") -> Handler | None:
    """The handler of operation ``name`` of ``service``, or None when it is not emulated."""
    return OPERATIONS.get(service, {}).get(name)


_H = TypeVar("_H", bound=Handler)  # the decorated function keeps its own (narrower) return type


def operation(name: str, *, service: str = "cleanrooms") -> Callable[[_H], _H]:
    """Decorator form of ``register``."""

    def decorate(handler: _H) -> _H:
        register(name, handler, service=service)
        return handler

    return decorate
