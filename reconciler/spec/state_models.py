"""``kind: RemoteState``: where a stack's state cache and lock live when CI runners share them.

One document per stack at most. Without it (and without ``RECONCILER_STATE``), the state cache
and the lock stay in the workspace's ``.reconciler/`` directory. ``execution.remote`` uses it.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, model_validator
from pydantic.config import JsonDict

from reconciler.spec.models import SpecModel

#: What ``_one_place`` checks, for editors (JSON Schema ``if``/``then``).
_BY_BACKEND: JsonDict = {
    "allOf": [
        {
            "if": {"properties": {"backend": {"const": "s3"}}},
            "then": {"required": ["bucket"], "not": {"required": ["table"]}},
        },
        {
            "if": {"properties": {"backend": {"const": "dynamodb"}}},
            "then": {
                "required": ["table"],
                "not": {"anyOf": [{"required": ["bucket"]}, {"required": ["prefix"]}]},
            },
        },
    ]
}

__all__ = ["STATE_DOCUMENT_MODELS", "RemoteStateSpec"]


class RemoteStateSpec(SpecModel):
    """The stack's state and lock in S3 (conditional writes) or DynamoDB (conditional puts).

    ``backend: s3`` needs ``bucket`` (and takes a key ``prefix``); ``backend: dynamodb`` needs
    ``table``, whose partition key is the string ``LockID`` (the key schema of Terraform's lock
    table). Credentials come from the standard AWS chain (``AWS_PROFILE``, the environment, an
    instance role); ``region`` defaults to the chain's region.
    """

    model_config = ConfigDict(json_schema_extra=_BY_BACKEND)  # merged with SpecModel's

    kind: Literal["RemoteState"]
    backend: Literal["s3", "dynamodb"]
    """Where the state and the lock live."""
    bucket: str | None = None
    """The S3 bucket (``backend: s3``)."""
    prefix: str = ""
    """Key prefix of the stack's objects (``ci/state``); each stack and backend gets keys of its own."""
    table: str | None = None
    """The DynamoDB table (``backend: dynamodb``), partition key ``LockID`` (string)."""
    region: str | None = None
    """The bucket's or table's region (default: the AWS chain's, e.g. ``AWS_REGION``)."""

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if self.backend == "s3" and (not self.bucket or self.table is not None):
            raise ValueError("backend: s3 needs `bucket` (and no `table`)")
        if self.backend == "dynamodb" and (not self.table or self.bucket is not None or self.prefix):
            raise ValueError("backend: dynamodb needs `table` (and no `bucket` or `prefix`)")
        return self

    def url(self) -> str:
        """The same place as ``RECONCILER_STATE`` spells it: ``s3://bucket/prefix`` or ``dynamodb://table``.

        >>> RemoteStateSpec(kind="RemoteState", backend="s3", bucket="b", prefix="ci/").url()
        's3://b/ci'
        """
        if self.backend == "s3":
            prefix = self.prefix.strip("/")
            return f"s3://{self.bucket}" + (f"/{prefix}" if prefix else "")
        return f"dynamodb://{self.table}"


#: ``kind:`` value -> model, merged into ``DOCUMENT_MODELS``.
STATE_DOCUMENT_MODELS: dict[str, type[SpecModel]] = {"RemoteState": RemoteStateSpec}
