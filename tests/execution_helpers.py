"""Helpers shared by the tests of ``reconciler.execution`` that fake AWS clients."""

from __future__ import annotations

from typing import Any


class EmptyLists:
    """A client of ``service`` for an account with none of its resources.

    Every List answers empty and every Get raises ResourceNotFoundException (how the crawl learns
    that a singleton such as a membership's ML configuration is not there).

    Fakes of one part of an API use it for the rest, so a resource type added to the crawl does not
    break them (its List finds nothing) while any other call still fails loudly.
    """

    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, method: str) -> Any:
        from botocore import xform_name

        from reconciler.aws_model import service_model

        model = service_model(self.service)
        operation = {xform_name(op): op for op in model.operation_names}.get(method, method)
        if operation.startswith("Get"):

            def missing(**_: Any) -> Any:
                from botocore.exceptions import ClientError

                error = {"Code": "ResourceNotFoundException", "Message": "not found"}
                raise ClientError({"Error": error}, operation)

            return missing
        if not operation.startswith("List"):
            raise AttributeError(f"{method} was not expected of {self.service} here")
        output = model.operation_model(operation).output_shape
        return lambda **_: {name: [] for name, m in output.members.items() if m.type_name == "list"}
