"""Fixtures for driving the emulator only through boto3 clients, as AWS would be driven."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from contract_helpers import (
    LIST_POLICY,
    NO_RETRY,
    OUTSIDER,
    OWNER,
    PARTNER,
    Clock,
    World,
    associate,
    create_collaboration,
    create_table,
    join,
)

from reconciler import emulator


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queries() -> str:
    """How the emulator runs protected queries; a test parametrizes it to ``manual`` to step them."""
    return "background"


@pytest.fixture
def emu(clock: Clock, queries: Any) -> Iterator[emulator.Emulator]:
    with emulator.connect(now=clock, queries=queries) as e:
        yield e


@pytest.fixture
def owner(emu: emulator.Emulator) -> Any:
    return emu.client("cleanrooms", account_id=OWNER, config=NO_RETRY)


@pytest.fixture
def partner(emu: emulator.Emulator) -> Any:
    return emu.client("cleanrooms", account_id=PARTNER, config=NO_RETRY)


@pytest.fixture
def outsider(emu: emulator.Emulator) -> Any:
    return emu.client("cleanrooms", account_id=OUTSIDER, config=NO_RETRY)


@pytest.fixture
def world(owner: Any, partner: Any) -> World:
    collaboration = create_collaboration(owner)
    mo = join(owner, collaboration["id"])
    mp = join(partner, collaboration["id"])
    table = create_table(owner)
    owner.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="LIST", analysisRulePolicy=LIST_POLICY
    )
    association = associate(owner, OWNER, mo["id"], table["id"])
    return World(collaboration, mo, mp, table, association)
