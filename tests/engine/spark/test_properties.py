"""computeConfiguration.worker.properties.spark: the API's limits, and only supported properties."""

from __future__ import annotations

import pytest

from reconciler.engine.spark.properties import SUPPORTED, PropertyError, limits, validate


def test_the_limits_come_from_the_api_model() -> None:
    bounds = limits()
    assert (bounds.max_entries, bounds.key_min, bounds.key_max, bounds.value_min, bounds.value_max) == (
        50,
        1,
        200,
        0,
        500,
    )


def test_supported_properties_pass_trimmed() -> None:
    assert validate({"spark.sql.shuffle.partitions": " 8 ", "spark.sql.adaptive.enabled": "true"}) == {
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "true",
    }
    assert validate(None) == {}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"spark.sql.ansi.enabled": "false"}, "not supported; the supported properties are"),
        ({"spark.sql.session.timeZone": "America/New_York"}, "not supported"),
        ({f"spark.sql.x{i}": "1" for i in range(51)}, "at most 50"),
        ({"": "1"}, "1 to 200 characters"),
        ({"spark.sql.shuffle.partitions": "9" * 501}, "0 to 500 characters"),
        ({"spark.sql.shuffle.partitions": "lots"}, "cannot be 'lots'"),
    ],
)
def test_everything_else_is_refused_with_the_reason(properties: dict[str, str], message: str) -> None:
    with pytest.raises(PropertyError, match=message):
        validate(properties)


def test_nothing_supported_changes_answers() -> None:
    """ANSI mode, the time zone and file access stay as the session seals them."""
    assert not {k for k in SUPPORTED if "ansi" in k or "timeZone" in k or "runSQLOnFiles" in k}
