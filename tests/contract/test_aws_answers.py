"""AWS's answers where the emulator once differed, one test per difference (issue 16's "Why").

Each runs over both transports (in process and HTTP to ``reconciler serve``'s server): error codes
of the model's enum with ``retry``; opaque, tamper-evident ``ListProtectedQueries`` tokens; the
documented quotas; SPARK when no engine is given; ``resourceType`` on tag errors; asynchronous
protected queries (SUBMITTED -> STARTED -> SUCCESS, CANCELLED, TIMED_OUT). The refusal wording
over tables of different rule types is checked in tests/engine/test_run_and_messages.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from contract_helpers import (
    OWNER,
    PARTNER,
    Clock,
    World,
    associate,
    create_collaboration,
    create_table,
    error_of,
    finished,
    join,
)

from reconciler import emulator
from reconciler.aws_model import documented_values
from reconciler.emulator.query_runner import DEFAULT_TIMEOUT

RESULTS = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results", "keyPrefix": "q/"}}}
LISTED = "SELECT b, SUM(c) AS total FROM orders GROUP BY b"
#: PARTNER may run any query on OWNER's orders, but never output its identity column a.
CUSTOM = {
    "v1": {
        "custom": {
            "allowedAnalyses": ["ANY_QUERY"],
            "allowedAnalysisProviders": [PARTNER],
            "disallowedOutputColumns": ["a"],
        }
    }
}


@pytest.fixture
def world(owner: Any, partner: Any) -> World:
    """OWNER's orders under a CUSTOM rule, associated; both members joined."""
    collaboration = create_collaboration(owner)
    mo, mp = join(owner, collaboration["id"]), join(partner, collaboration["id"])
    table = create_table(owner)
    owner.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="CUSTOM", analysisRulePolicy=CUSTOM
    )
    return World(collaboration, mo, mp, table, associate(owner, OWNER, mo["id"], table["id"]))


@pytest.fixture
def data(emu: emulator.Emulator, tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text("a,b,c\n" + "".join(f"p{i},x{i % 2},{i}\n" for i in range(6)))
    emu.catalog.register(OWNER, "sales", "orders", path)
    return path


def _start(partner: Any, world: World, sql: str = LISTED) -> str:
    return str(
        partner.start_protected_query(
            type="SQL",
            membershipIdentifier=world.partner_membership["id"],
            sqlParameters={"queryString": sql},
            resultConfiguration=RESULTS,
        )["protectedQuery"]["id"]
    )


def _status(partner: Any, world: World, query_id: str) -> str:
    query = partner.get_protected_query(
        membershipIdentifier=world.partner_membership["id"], protectedQueryIdentifier=query_id
    )["protectedQuery"]
    return str(query["status"])


# -- failed queries: codes of the model's enum, with retry ---------------------------------------


def test_failed_queries_carry_a_documented_code_and_retry(partner: Any, world: World, data: Path) -> None:
    codes = set(documented_values("ProtectedQueryError", "code"))
    assert "MALFORMED_QUERY" in codes and "OTHER" not in codes and "PARSE_ERROR" not in codes
    membership = world.partner_membership["id"]
    for sql in ("SELECT a FROM orders", "SELEC b FROM", "SELECT 1; SELECT 2"):
        query = finished(partner, membership, _start(partner, world, sql))
        assert query["status"] == "FAILED", sql
        assert query["error"]["code"] == "MALFORMED_QUERY", (sql, query["error"])
        assert query["error"]["retry"] == {"retryable": False}, sql


# -- ListProtectedQueries tokens --------------------------------------------------------------


def test_protected_query_tokens_are_opaque_and_tamper_evident(partner: Any, world: World, data: Path) -> None:
    membership = world.partner_membership["id"]
    for _ in range(3):
        finished(partner, membership, _start(partner, world))
    page = partner.list_protected_queries(membershipIdentifier=membership, maxResults=1)
    token = page["nextToken"]
    assert not token.isdigit()
    more = partner.list_protected_queries(membershipIdentifier=membership, maxResults=1, nextToken=token)
    assert more["protectedQueries"][0]["id"] != page["protectedQueries"][0]["id"]
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for forged in ("garbage", "99", "1", flipped):
        error = error_of(
            lambda f=forged: partner.list_protected_queries(membershipIdentifier=membership, nextToken=f)
        )
        assert error["Error"]["Code"] == "ValidationException", forged
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400  # never a 500 a client retries
    other_filter = error_of(
        lambda: partner.list_protected_queries(
            membershipIdentifier=membership, status="SUCCESS", nextToken=token
        )
    )
    assert other_filter["Error"]["Code"] == "ValidationException"
    other_operation = error_of(lambda: partner.list_memberships(nextToken=token))
    assert other_operation["Error"]["Code"] == "ValidationException"


# -- quotas -----------------------------------------------------------------------------------


def test_ten_collaborations_per_account(owner: Any) -> None:
    for i in range(10):
        create_collaboration(owner, name=f"c{i}")
    error = error_of(lambda: create_collaboration(owner, name="eleventh"))
    assert error["Error"]["Code"] == "ServiceQuotaExceededException"
    assert (error["quotaName"], error["quotaValue"]) == ("Collaborations created per account", 10.0)


def test_one_hundred_allowlisted_columns(owner: Any) -> None:
    assert (
        len(create_table(owner, name="wide", columns=[f"c{i}" for i in range(100)])["allowedColumns"]) == 100
    )
    error = error_of(lambda: create_table(owner, name="wider", columns=[f"c{i}" for i in range(101)]))
    assert error["Error"]["Code"] == "ServiceQuotaExceededException"
    assert (error["quotaName"], error["quotaValue"]) == ("Columns per configured table allowlist", 100.0)


@pytest.mark.parametrize("queries", ["manual"])
def test_five_concurrent_queries_per_membership(
    emu: emulator.Emulator, partner: Any, world: World, data: Path
) -> None:
    for _ in range(5):
        _start(partner, world)
    error = error_of(lambda: _start(partner, world))
    assert error["Error"]["Code"] == "ServiceQuotaExceededException"
    assert (error["quotaName"], error["quotaValue"]) == ("Concurrent ongoing queries per membership", 5.0)
    emu.queries.run_pending()  # once they finish, there is room again
    assert _status(partner, world, _start(partner, world)) == "SUBMITTED"


# -- the default engine -------------------------------------------------------------------------


def test_a_collaboration_without_an_engine_is_spark(owner: Any) -> None:
    args = {
        "members": [],
        "name": "walkthrough",
        "creatorMemberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
        "creatorDisplayName": "owner",
        "queryLogStatus": "DISABLED",
    }
    created = owner.create_collaboration(**args)["collaboration"]
    assert created["analyticsEngine"] == "SPARK"
    got = owner.get_collaboration(collaborationIdentifier=created["id"])["collaboration"]
    assert got["analyticsEngine"] == "SPARK"


# -- tag errors ---------------------------------------------------------------------------------


def test_tag_errors_name_the_resource_type(owner: Any, world: World) -> None:
    arn = world.collaboration["arn"]
    missing = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    for call in (
        lambda: owner.list_tags_for_resource(resourceArn=missing),
        lambda: owner.tag_resource(resourceArn=missing, tags={"k": "v"}),
        lambda: owner.untag_resource(resourceArn=missing, tagKeys=["k"]),
    ):
        error = error_of(call)
        assert error["Error"]["Code"] == "ResourceNotFoundException"
        assert error["resourceType"] == "COLLABORATION" and error["resourceId"]


# -- asynchronous protected queries ---------------------------------------------------------------


@pytest.mark.parametrize("queries", ["manual"])
def test_queries_go_submitted_started_success(
    emu: emulator.Emulator, partner: Any, world: World, data: Path
) -> None:
    qid = _start(partner, world)
    assert _status(partner, world, qid) == "SUBMITTED"
    assert emu.queries.start_pending() == [qid]
    assert _status(partner, world, qid) == "STARTED"
    assert emu.queries.finish_started() == [qid]
    query = finished(partner, world.partner_membership["id"], qid)
    assert query["status"] == "SUCCESS", query.get("error")


@pytest.mark.parametrize("queries", ["manual"])
def test_a_started_query_cancelled_writes_nothing(
    emu: emulator.Emulator, partner: Any, world: World, data: Path
) -> None:
    qid = _start(partner, world)
    emu.queries.start_pending()
    partner.update_protected_query(
        membershipIdentifier=world.partner_membership["id"],
        protectedQueryIdentifier=qid,
        targetStatus="CANCELLED",
    )
    assert emu.queries.finish_started() == []
    assert _status(partner, world, qid) == "CANCELLED"
    assert not list(emu.results_root.glob(f"**/{qid}/*"))


@pytest.mark.parametrize("queries", ["manual"])
def test_a_query_not_finished_in_time_is_timed_out(
    emu: emulator.Emulator, clock: Clock, partner: Any, world: World, data: Path
) -> None:
    running = _start(partner, world)
    emu.queries.start_pending()
    waiting = _start(partner, world)
    clock.advance(seconds=DEFAULT_TIMEOUT + 1)
    assert _status(partner, world, waiting) == "TIMED_OUT"
    emu.queries.finish_started()  # a run that ends after its deadline is thrown away
    assert _status(partner, world, running) == "TIMED_OUT"
    assert not list(emu.results_root.glob(f"**/{running}/*"))
