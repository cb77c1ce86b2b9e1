"""The boundary with botocore: its exceptions become BackendErrors that say whether retrying helps.

Throttling, 5xx answers, connection failures and AWS's IAM propagation delay become
``RetryableBackendError`` (``retry.is_retryable`` decides); validation errors, access denied and
conflicts become ``TerminalBackendError``, with a hint where AWS's own words would not tell a user
what to do. This module and ``clients`` are the only ones in the execution layer that import
botocore; nothing above them does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from reconciler.errors import BackendError, RetryableBackendError, TerminalBackendError
from reconciler.execution.retry import is_retryable

__all__ = ["translate_error"]

#: Extra words for terminal errors whose cause a user would not guess from AWS's message.
_CONFLICT_HINTS = {
    "SUBRESOURCES_EXIST": (
        "the resource still has children, so the steps ran in the wrong order; this is a bug in the"
        " plan's ordering (children must be deleted first): please report it"
    ),
    "ALREADY_EXISTS": (
        "a resource with this name already exists; run `reconciler plan` again to adopt or rename it"
    ),
}


def translate_error(exc: Exception, operation: str) -> BackendError:
    """Turn a botocore exception into a BackendError that says whether retrying can help.

    Args:
        exc: what botocore raised.
        operation: the API operation (for the message).

    Returns:
        ``RetryableBackendError`` for throttling, 5xx, connection failures and IAM propagation
        delays; ``TerminalBackendError`` for everything else.
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        response: Mapping[str, Any] = exc.response
        error = response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message") or exc)
        reason = str(response.get("reason") or error.get("reason") or "")
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = f"{operation} failed: {code}{f' ({reason})' if reason else ''}: {message}"
        if is_retryable(code, status, reason):
            return RetryableBackendError(text, code=code, operation=operation)
        hint = _CONFLICT_HINTS.get(reason, "") if code == "ConflictException" else ""
        if code == "AccessDeniedException":
            hint = "check the credentials used for this member's account (profile or role)"
        return TerminalBackendError(text, code=code, operation=operation, hint=hint)
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return RetryableBackendError(
            f"{operation} failed: {exc}", code=type(exc).__name__, operation=operation
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return TerminalBackendError(
            f"{operation} failed: no AWS credentials",
            code="NoCredentials",
            operation=operation,
            hint="set `credentials` for the member in the spec or RECONCILER_AWS_PROFILE_<MEMBER>",
        )
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return TerminalBackendError(f"{operation} was refused before sending: {exc}", operation=operation)
    return TerminalBackendError(f"{operation} failed: {type(exc).__name__}: {exc}", operation=operation)
