"""Fixtures for driving the emulator only through boto3 clients, as AWS would be driven.

Every test that takes the ``owner``/``partner``/``outsider`` clients (or ``client_for``) runs
twice: with clients answered in process (botocore's ``before-send`` hook) and with clients
sending real HTTP to ``reconciler serve``'s server on a loopback port (``endpoint_url``). The same
assertions hold for both, which is what "both transports answer identically" means here;
``test_transports.py`` also compares whole responses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
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
    http_client,
    join,
)

from reconciler import emulator
from reconciler.emulator.server import EmulatorServer


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


@pytest.fixture(params=["in-process", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    """How the clients reach the emulator."""
    return str(request.param)


@pytest.fixture
def server(emu: emulator.Emulator, transport: str) -> Iterator[EmulatorServer | None]:
    """The HTTP server in front of ``emu`` (None for in-process clients)."""
    if transport == "in-process":
        yield None
        return
    with EmulatorServer(emu, 0) as running:
        yield running


@pytest.fixture
def client_for(emu: emulator.Emulator, server: EmulatorServer | None) -> Callable[..., Any]:
    """``client_for(account, config=NO_RETRY)``: a cleanrooms client of ``account`` on this transport."""

    def make(account: str, config: Config = NO_RETRY) -> Any:
        if server is None:
            return emu.client("cleanrooms", account_id=account, config=config)
        return http_client(server.url, account, config=config)

    return make


@pytest.fixture
def owner(client_for: Callable[..., Any]) -> Any:
    return client_for(OWNER)


@pytest.fixture
def partner(client_for: Callable[..., Any]) -> Any:
    return client_for(PARTNER)


@pytest.fixture
def outsider(client_for: Callable[..., Any]) -> Any:
    return client_for(OUTSIDER)


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
