"""Helpers for tests that drive the emulator through boto3.

Accounts, a standard collaboration, a movable clock, error extraction.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

OWNER = "111111111111"
PARTNER = "222222222222"
OUTSIDER = "333333333333"
ROLE = "arn:aws:iam::{account}:role/cleanrooms-access"
NO_RETRY = Config(retries={"total_max_attempts": 1})


def http_client(
    url: str,
    account: str,
    *,
    config: Config = NO_RETRY,
    service: str = "cleanrooms",
    region: str = "us-east-1",
) -> Any:
    """A boto3-style client of ``account`` that sends real HTTP to ``url`` (``reconciler serve``)."""
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return session.create_client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=account,
        aws_secret_access_key="local",
        config=config,
    )


def create_collaboration(client: Any, **overrides: Any) -> dict[str, Any]:
    """A SPARK collaboration where OWNER creates and PARTNER can query and receive results."""
    args: dict[str, Any] = {
        "members": [
            {
                "accountId": PARTNER,
                "memberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
                "displayName": "partner",
            }
        ],
        "name": "retail",
        "creatorMemberAbilities": [],
        "creatorDisplayName": "owner",
        "queryLogStatus": "DISABLED",
        "analyticsEngine": "SPARK",
    }
    args.update(overrides)
    return client.create_collaboration(**args)["collaboration"]


def join(client: Any, collaboration_id: str, **extra: Any) -> dict[str, Any]:
    return client.create_membership(
        collaborationIdentifier=collaboration_id, queryLogStatus="DISABLED", **extra
    )["membership"]


def create_table(
    client: Any, name: str = "orders", columns: Sequence[str] = ("a", "b", "c"), database: str = "sales"
) -> Any:
    """A DIRECT_QUERY configured table over the Glue table ``database.name``."""
    return client.create_configured_table(
        name=name,
        tableReference={"glue": {"databaseName": database, "tableName": name}},
        allowedColumns=list(columns),
        analysisMethod="DIRECT_QUERY",
    )["configuredTable"]


def associate(client: Any, account: str, membership_id: str, table_id: str, name: str = "orders") -> Any:
    return client.create_configured_table_association(
        name=name,
        membershipIdentifier=membership_id,
        configuredTableIdentifier=table_id,
        roleArn=ROLE.format(account=account),
    )["configuredTableAssociation"]


LIST_POLICY = {"v1": {"list": {"joinColumns": ["a"], "listColumns": ["b"]}}}
AGGREGATION_POLICY = {
    "v1": {
        "aggregation": {
            "aggregateColumns": [{"columnNames": ["c"], "function": "SUM"}],
            "joinColumns": ["a"],
            "dimensionColumns": ["b"],
            "scalarFunctions": [],
            "outputConstraints": [{"columnName": "a", "minimum": 2, "type": "COUNT_DISTINCT"}],
        }
    }
}


@dataclass
class World:
    """A collaboration both OWNER and PARTNER joined, with OWNER's table associated."""

    collaboration: dict[str, Any]
    owner_membership: dict[str, Any]
    partner_membership: dict[str, Any]
    table: dict[str, Any]
    association: dict[str, Any]


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """Run ``call`` expecting a ClientError; return its parsed error response."""
    with pytest.raises(ClientError) as info:
        call()
    response: dict[str, Any] = info.value.response
    return response


@dataclass
class Clock:
    """A movable clock for the emulator."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


#: Protected-query statuses after which nothing changes.
FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT"})


def finished(client: Any, membership: str, query_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GetProtectedQuery until the query ends, as a client of AWS does; return the query."""
    deadline = time.monotonic() + timeout
    while True:
        query: dict[str, Any] = client.get_protected_query(
            membershipIdentifier=membership, protectedQueryIdentifier=query_id
        )["protectedQuery"]
        if query["status"] in FINAL:
            return query
        if time.monotonic() > deadline:
            raise AssertionError(f"protected query {query_id} is still {query['status']} after {timeout} s")
        time.sleep(0.01)
