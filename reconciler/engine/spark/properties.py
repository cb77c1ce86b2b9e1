"""``computeConfiguration.worker.properties.spark``: which Spark properties a protected query may set.

The API allows up to 50 properties, keys of 1 to 200 characters and values of 0 to 500 (read from
botocore's ``SparkProperties`` shape at run time, never copied). AWS says the map "configures
Apache Spark settings to optimize performance", but the documentation this project could search
lists no supported property names (UNCONFIRMED). The safer answer: only properties that change
how a query is executed, never what it answers or what it can reach, are accepted, each with the
values it may take (``SUPPORTED``); any other key is refused with that list. All of them are
session settings, so ``--engine spark`` applies them to the query's own session; the default
engine has nothing to tune and ignores them after validating.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.aws_model import service_model

__all__ = ["SUPPORTED", "PropertyLimits", "PropertyError", "limits", "validate"]


class PropertyError(ValueError):
    """A Spark property the local engine refuses; ``field`` is the request field to blame."""

    def __init__(self, message: str, field: str = "computeConfiguration.worker.properties.spark"):
        super().__init__(message)
        self.field = field


def _boolean(value: str) -> bool:
    return value.strip().lower() in ("true", "false")


def _count(value: str) -> bool:
    return value.strip().isdigit() and 1 <= int(value) <= 100_000


def _size(value: str) -> bool:
    return re.fullmatch(r"-1|\d{1,15}\s*([kmgt]i?b?|b)?", value.strip(), re.IGNORECASE) is not None


def _seconds(value: str) -> bool:
    return re.fullmatch(r"\d{1,6}\s*s?", value.strip(), re.IGNORECASE) is not None


#: Property -> the values it accepts. Execution strategy only: partitioning, adaptive execution,
#: join strategy thresholds. Nothing here changes results (ANSI mode, time zone, case
#: sensitivity, map key policy and the like stay as AWS runs them) or reaches files or code.
SUPPORTED: Mapping[str, Callable[[str], bool]] = {
    "spark.sql.shuffle.partitions": _count,
    "spark.sql.adaptive.enabled": _boolean,
    "spark.sql.adaptive.coalescePartitions.enabled": _boolean,
    "spark.sql.adaptive.skewJoin.enabled": _boolean,
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": _size,
    "spark.sql.autoBroadcastJoinThreshold": _size,
    "spark.sql.broadcastTimeout": _seconds,
    "spark.sql.files.maxPartitionBytes": _size,
    "spark.sql.files.openCostInBytes": _size,
    "spark.sql.join.preferSortMergeJoin": _boolean,
}


@dataclass(frozen=True)
class PropertyLimits:
    """The API's limits on the map (botocore's ``SparkProperties`` shape)."""

    max_entries: int
    key_min: int
    key_max: int
    value_min: int
    value_max: int


def limits() -> PropertyLimits:
    """The limits as the installed botocore model states them."""
    shape = service_model("cleanrooms").shape_for("SparkProperties")
    key, value = shape.key.metadata, shape.value.metadata  # type: ignore[attr-defined]
    return PropertyLimits(
        int(shape.metadata.get("max", 50)),
        int(key.get("min", 1)),
        int(key.get("max", 200)),
        int(value.get("min", 0)),
        int(value.get("max", 500)),
    )


def validate(properties: Mapping[str, str] | None) -> dict[str, str]:
    """The properties, checked against the API's limits and the supported list.

    Raises:
        PropertyError: too many properties, a key or value of the wrong length, a property that is
            not supported (the message lists the supported ones), or a value it cannot take.
    """
    if not properties:
        return {}
    bounds = limits()
    if len(properties) > bounds.max_entries:
        raise PropertyError(
            f"at most {bounds.max_entries} Spark properties may be set, not {len(properties)}"
        )
    checked: dict[str, str] = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not bounds.key_min <= len(key) <= bounds.key_max:
            raise PropertyError(
                f"a Spark property name is {bounds.key_min} to {bounds.key_max} characters: {str(key)[:60]!r}"
            )
        if not isinstance(value, str) or not bounds.value_min <= len(value) <= bounds.value_max:
            raise PropertyError(
                f"the value of Spark property {key} is {bounds.value_min} to {bounds.value_max} characters"
            )
        accepts = SUPPORTED.get(key)
        if accepts is None:
            raise PropertyError(
                f"Spark property {key} is not supported; the supported properties are "
                + ", ".join(sorted(SUPPORTED))
            )
        if not accepts(value):
            raise PropertyError(f"Spark property {key} cannot be {value[:60]!r}")
        checked[key] = value.strip()
    return checked
