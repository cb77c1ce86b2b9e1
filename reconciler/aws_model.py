"""Botocore's service models, loaded once: the tool's only source of knowledge about the API.

Limits (lengths, patterns, enums, list sizes), operations, HTTP bindings and documentation
strings all come from here at run time, never copied by hand.
"""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import ServiceModel

__all__ = ["service_model"]


@functools.cache
def service_model(service_name: str = "cleanrooms") -> ServiceModel:
    """Return botocore's model for ``cleanrooms`` or ``cleanroomsml`` (cached per process).

    Args:
        service_name: the botocore service name.

    Returns:
        The ``botocore.model.ServiceModel``.
    """
    # A session that ignores AWS_PROFILE: reading the bundled model must not depend on (or fail
    # because of) the user's credentials configuration.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return session.get_service_model(service_name)
