"""Both transports answer identically: the same call, in process and over HTTP, gets the same answer.

One emulator, two clients per account: one answered by botocore's ``before-send`` hook, one sending
real HTTP to ``EmulatorServer`` on a loopback port. Writes go through either; every read and
every error is asked of both and compared whole (only the request id and raw headers, which
botocore fills in per request, are left out).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from contract_helpers import (
    AGGREGATION_POLICY,
    NO_RETRY,
    OUTSIDER,
    OWNER,
    PARTNER,
    associate,
    create_collaboration,
    create_table,
    finished,
    http_client,
    join,
)

from reconciler import emulator
from reconciler.emulator.server import EmulatorServer

RESULTS = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results", "keyPrefix": "t/"}}}


@pytest.fixture
def pairs(emu: emulator.Emulator) -> Iterator[dict[str, tuple[Any, Any]]]:
    """account -> (in-process client, HTTP client), both on ``emu``."""
    with EmulatorServer(emu, 0) as server:
        yield {
            account: (
                emu.client("cleanrooms", account_id=account, config=NO_RETRY),
                http_client(server.url, account),
            )
            for account in (OWNER, PARTNER, OUTSIDER)
        }


def _answer(client: Any, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        response: dict[str, Any] = getattr(client, method)(**kwargs)
    except ClientError as exc:
        response = dict(exc.response)
    metadata = response.pop("ResponseMetadata", {})
    response["status"] = metadata.get("HTTPStatusCode")
    return response


def _same(pair: tuple[Any, Any], method: str, **kwargs: Any) -> dict[str, Any]:
    local, http = (_answer(client, method, kwargs) for client in pair)
    assert local == http, method
    return local


def test_every_read_and_error_is_the_same_over_both_transports(
    emu: emulator.Emulator, pairs: dict[str, tuple[Any, Any]], tmp_path: Path
) -> None:
    owner, partner, outsider = pairs[OWNER], pairs[PARTNER], pairs[OUTSIDER]
    data = tmp_path / "orders.csv"
    data.write_text("a,b,c\n" + "".join(f"p{i},x{i % 2},{i}\n" for i in range(6)))
    emu.catalog.register(OWNER, "sales", "orders", data)
    collaboration = create_collaboration(owner[1], tags={"team": "ads"})  # written over HTTP
    cid = collaboration["id"]
    mo = join(owner[0], cid)  # written in process
    mp = join(partner[1], cid)
    table = create_table(owner[0])
    owner[1].create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"],
        analysisRuleType="AGGREGATION",
        analysisRulePolicy=AGGREGATION_POLICY,
    )
    association = associate(owner[1], OWNER, mo["id"], table["id"])
    ok = partner[1].start_protected_query(
        type="SQL",
        membershipIdentifier=mp["id"],
        sqlParameters={"queryString": "SELECT b, SUM(c) FROM orders GROUP BY b"},
        resultConfiguration=RESULTS,
    )["protectedQuery"]
    bad = partner[0].start_protected_query(
        type="SQL",
        membershipIdentifier=mp["id"],
        sqlParameters={"queryString": "SELECT a FROM orders"},
        resultConfiguration=RESULTS,
    )["protectedQuery"]
    for query in (ok, bad):
        finished(partner[0], mp["id"], query["id"])

    answers = [
        _same(owner, "get_collaboration", collaborationIdentifier=cid),
        _same(owner, "list_collaborations"),
        _same(partner, "list_collaborations", memberStatus="ACTIVE"),
        _same(owner, "list_members", collaborationIdentifier=cid),
        _same(owner, "get_membership", membershipIdentifier=mo["id"]),
        _same(partner, "list_memberships"),
        _same(owner, "get_configured_table", configuredTableIdentifier=table["id"]),
        _same(owner, "list_configured_tables"),
        _same(
            owner,
            "get_configured_table_analysis_rule",
            configuredTableIdentifier=table["id"],
            analysisRuleType="AGGREGATION",
        ),
        _same(
            owner,
            "get_configured_table_association",
            membershipIdentifier=mo["id"],
            configuredTableAssociationIdentifier=association["id"],
        ),
        _same(owner, "list_configured_table_associations", membershipIdentifier=mo["id"]),
        _same(partner, "list_schemas", collaborationIdentifier=cid),
        _same(partner, "get_schema", collaborationIdentifier=cid, name="orders"),
        _same(partner, "batch_get_schema", collaborationIdentifier=cid, names=["orders", "absent"]),
        _same(owner, "list_tags_for_resource", resourceArn=collaboration["arn"]),
        _same(
            partner, "get_protected_query", membershipIdentifier=mp["id"], protectedQueryIdentifier=ok["id"]
        ),
        _same(
            partner, "get_protected_query", membershipIdentifier=mp["id"], protectedQueryIdentifier=bad["id"]
        ),
        _same(partner, "list_protected_queries", membershipIdentifier=mp["id"]),
        _same(partner, "list_protected_queries", membershipIdentifier=mp["id"], maxResults=1),
        # errors
        _same(owner, "get_collaboration", collaborationIdentifier="00000000-0000-0000-0000-000000000000"),
        _same(outsider, "get_collaboration", collaborationIdentifier=cid),
        _same(partner, "list_protected_queries", membershipIdentifier=mp["id"], nextToken="99"),
        _same(owner, "list_tags_for_resource", resourceArn=collaboration["arn"][:-4] + "0000"),
        _same(owner, "delete_membership", membershipIdentifier=mo["id"]),
    ]
    statuses = [a["status"] for a in answers]
    assert statuses[:19] == [200] * 19
    assert statuses[19:] == [403, 403, 400, 404, 409]  # an unknown id reads as one not shared with you
    assert answers[16]["protectedQuery"]["error"]["code"] == "MALFORMED_QUERY"


def test_validation_errors_are_the_same_over_both_transports(emu: emulator.Emulator) -> None:
    unchecked = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    with EmulatorServer(emu, 0) as server:
        pair = (
            emu.client("cleanrooms", account_id=OWNER, config=unchecked),
            http_client(server.url, OWNER, config=unchecked),
        )
        for kwargs in (
            {"name": "x" * 200, "members": [], "creatorMemberAbilities": [], "creatorDisplayName": "o"},
            {
                "name": "x",
                "members": [],
                "creatorMemberAbilities": ["CAN_FLY"],
                "creatorDisplayName": "o",
                "queryLogStatus": "DISABLED",
            },
        ):
            answer = _same(pair, "create_collaboration", **kwargs)
            assert answer["Error"]["Code"] == "ValidationException" and answer["status"] == 400
