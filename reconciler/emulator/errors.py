"""The emulator's two kinds of failure: answers AWS would give, and problems of the local setup.

``ServiceError`` is an AWS error *answer*: the protocol layer turns it into an HTTP response
(status from the error shape, ``x-amzn-errortype`` header, JSON body), so boto3 raises a
``ClientError`` with AWS's code. It is never seen by a user directly.

``LocalBackendError`` and its children are ``ReconcilerError``s: the local backend itself cannot
be used (the DuckDB file is locked by another process, ``RECONCILER_LOCAL_FAULTS`` is not valid
JSON, ...). The CLI prints them without a traceback.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import ReconcilerError, StateError

__all__ = [
    "LocalBackendError",
    "LocalBackendLockedError",
    "LocalFaultsError",
    "ServiceError",
    "access_denied",
    "conflict",
    "not_found",
    "quota_exceeded",
    "throttled",
    "validation",
]


class ServiceError(Exception):
    """An error answer of the Clean Rooms service: AWS's code, a message, and the shape's fields.

    Args:
        code: the error shape name (``ValidationException``, ``ConflictException``, ...).
        message: what went wrong, phrased as AWS would.
        fields: the error shape's other members (``reason``, ``resourceId``, ``quotaName``, ...).
    """

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = {k: v for k, v in fields.items() if v is not None}


def validation(
    message: str, *, reason: str = "FIELD_VALIDATION_FAILED", field: str | None = None
) -> ServiceError:
    """A ``ValidationException``; ``field`` (a dotted path) fills ``fieldList``."""
    extra: dict[str, Any] = {"reason": reason}
    if field:
        extra["fieldList"] = [{"name": field, "message": message}]
    return ServiceError("ValidationException", message, **extra)


def not_found(resource_type: str | None, resource_id: str, what: str = "") -> ServiceError:
    """A ``ResourceNotFoundException`` for a resource of ``resource_type``.

    In ``cleanrooms`` ``resourceType`` is required by the model and takes one of four values
    (``CONFIGURED_TABLE``, ``COLLABORATION``, ``MEMBERSHIP``, ``CONFIGURED_TABLE_ASSOCIATION``); for
    resources of other kinds the caller names the one they live in (see
    ``EmulatedType.resource_type``). ``cleanroomsml``'s exception has only a message: None.
    """
    noun = what or (resource_type or "resource").replace("_", " ").lower()
    fields = {"resourceId": resource_id, "resourceType": resource_type} if resource_type else {}
    return ServiceError("ResourceNotFoundException", f"{noun} {resource_id} not found", **fields)


def access_denied(message: str) -> ServiceError:
    """An ``AccessDeniedException`` (the caller's account may not do this)."""
    return ServiceError("AccessDeniedException", message, reason="INSUFFICIENT_PERMISSIONS")


def conflict(
    message: str, *, reason: str, resource_id: str = "", resource_type: str | None = None
) -> ServiceError:
    """A ``ConflictException`` with ``reason`` ALREADY_EXISTS, SUBRESOURCES_EXIST or INVALID_STATE."""
    return ServiceError(
        "ConflictException",
        message,
        reason=reason,
        resourceId=resource_id or None,
        resourceType=resource_type,
    )


def quota_exceeded(quota_name: str, quota_value: float) -> ServiceError:
    """A ``ServiceQuotaExceededException`` naming the quota and its value."""
    return ServiceError(
        "ServiceQuotaExceededException",
        f"quota exceeded: {quota_name} (limit {quota_value:g})",
        quotaName=quota_name,
        quotaValue=float(quota_value),
    )


def throttled() -> ServiceError:
    """A ``ThrottlingException`` (fault injection)."""
    return ServiceError("ThrottlingException", "Rate exceeded")


class LocalBackendError(ReconcilerError):
    """The embedded local backend cannot be used as configured."""


class LocalBackendLockedError(LocalBackendError, StateError):
    """Another process holds the local backend's DuckDB file."""


class LocalFaultsError(LocalBackendError):
    """``RECONCILER_LOCAL_FAULTS`` is not a valid fault-injection setting."""
