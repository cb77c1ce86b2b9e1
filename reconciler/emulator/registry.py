"""The operation handler table: how an operation name becomes Python code.

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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.aws_model import service_model

if TYPE_CHECKING:
    from reconciler.emulator.context import RequestContext

__all__ = ["OPERATIONS", "Handler", "operation", "register"]

Handler = Callable[["RequestContext", dict[str, Any]], "dict[str, Any] | None"]

#: Operation name -> handler, for every operation the emulator answers.
OPERATIONS: dict[str, Handler] = {}


def register(name: str, handler: Handler, *, service: str = "cleanrooms") -> None:
    """Make ``handler`` answer operation ``name`` (replacing any earlier handler).

    Args:
        name: an operation name of the service model, e.g. ``"StartProtectedQuery"``.
        handler: ``handler(ctx, params) -> output dict | None``.
        service: the botocore service name (only ``cleanrooms`` is routed today).

    Raises:
        ValueError: ``name`` is not an operation of the model (a typo would otherwise go unnoticed).
    """
    if name not in service_model(service).operation_names:
        raise ValueError(f"{name!r} is not an operation of the {service} service model")
    OPERATIONS[name] = handler


def operation(name: str) -> Callable[[Handler], Handler]:
    """Decorator form of ``register``."""

    def decorate(handler: Handler) -> Handler:
        register(name, handler)
        return handler

    return decorate
