"""The AWS backend's exact call shapes, checked with botocore's Stubber (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from execution_helpers import EmptyLists

from reconciler.errors import RetryableBackendError, TerminalBackendError
from reconciler.execution.backend import Boto3Backend
from reconciler.execution.clients import Account, AwsClients, LocalClients
from reconciler.execution.retry import Backoff, with_retries
from reconciler.execution.state import ADDRESS_TAG, STACK_TAG, State
from reconciler.execution.translate import translate_error
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.model import Step
from reconciler.planner.resource import ObservedResource, Ref

RETAILER = Account("retailer", "123456789012")
ADTECH = Account("adtech", "987654321098")
COLLAB_ID = "11111111-1111-1111-1111-111111111111"
COLLAB_ARN = f"arn:aws:cleanrooms:us-east-1:123456789012:collaboration/{COLLAB_ID}"
NOW = "2026-01-01T00:00:00Z"


def _client() -> Any:
    return boto3.client(
        "cleanrooms", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


class StubbedClients:
    """A ClientSource handing out one stubbed client per account."""

    name = "aws"

    def __init__(self, *accounts: Account) -> None:
        self.clients = {a.account_id: _client() for a in accounts}
        self.stubs = {k: Stubber(c) for k, c in self.clients.items()}
        for stub in self.stubs.values():
            stub.activate()

    def client(self, account: Account, service: str = "cleanrooms") -> Any:
        return EmptyLists("cleanroomsml") if service == "cleanroomsml" else self.clients[account.account_id]

    def act_as(self, account_id: str, *, member: str, region: str) -> None:
        return None

    def close(self) -> None:
        pass


def _client_error(code: str, status: int, **extra: Any) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra},
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status", "extra", "retryable"),
    [
        ("ThrottlingException", 429, {}, True),
        ("InternalServerException", 500, {}, True),
        ("SomethingNew", 503, {}, True),
        ("ValidationException", 400, {"reason": "IAM_SYNCHRONIZATION_DELAY"}, True),
        ("ValidationException", 400, {"reason": "FIELD_VALIDATION_FAILED"}, False),
        ("AccessDeniedException", 403, {}, False),
        ("ConflictException", 409, {"reason": "SUBRESOURCES_EXIST"}, False),
    ],
)
def test_errors_are_translated_at_the_boundary(
    code: str, status: int, extra: dict[str, Any], retryable: bool
) -> None:
    error = translate_error(_client_error(code, status, **extra), "DeleteMembership")
    assert isinstance(error, RetryableBackendError if retryable else TerminalBackendError)
    assert error.code == code and error.operation == "DeleteMembership"
    assert "DeleteMembership failed" in error.message


def test_subresources_exist_says_the_order_was_wrong() -> None:
    error = translate_error(
        _client_error("ConflictException", 409, reason="SUBRESOURCES_EXIST"), "DeleteMembership"
    )
    assert "wrong order" in error.hint


def test_retries_back_off_then_give_up() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableBackendError("throttled", code="ThrottlingException")
        return "ok"

    seen: list[int] = []
    policy = Backoff(attempts=5, base=0.1, cap=0.15)
    assert with_retries(flaky, policy, on_retry=lambda n, e: seen.append(n), sleep=sleeps.append) == "ok"
    assert seen == [1, 2] and len(sleeps) == 2 and all(0 <= s <= 0.15 for s in sleeps)

    def always() -> str:
        raise RetryableBackendError("throttled", code="ThrottlingException")

    with pytest.raises(RetryableBackendError, match="gave up after 5 attempts"):
        with_retries(always, policy, sleep=lambda s: None)


def test_terminal_errors_are_not_retried() -> None:
    calls: list[int] = []

    def bad() -> str:
        calls.append(1)
        raise TerminalBackendError("nope")

    with pytest.raises(TerminalBackendError):
        with_retries(bad, Backoff(), sleep=lambda s: None)
    assert len(calls) == 1


def test_read_lists_tags_gets_and_crawls_children_with_exact_shapes() -> None:
    clients = StubbedClients(RETAILER, ADTECH)
    stub = clients.stubs[RETAILER.account_id]
    summary = {
        "id": COLLAB_ID,
        "arn": COLLAB_ARN,
        "name": "retail",
        "creatorAccountId": RETAILER.account_id,
        "creatorDisplayName": "Acme",
        "createTime": NOW,
        "updateTime": NOW,
        "memberStatus": "ACTIVE",
    }
    stub.add_response("list_collaborations", {"collaborationList": [summary]}, {})
    stub.add_response("list_memberships", {"membershipSummaries": []}, {"status": "ACTIVE"})
    stub.add_response("list_configured_tables", {"configuredTableSummaries": []}, {})
    stub.add_response(
        "list_tags_for_resource",
        {"tags": {STACK_TAG: "demo", ADDRESS_TAG: "collaboration.retail", "team": "m"}},
        {"resourceArn": COLLAB_ARN},
    )
    collaboration = {
        **summary,
        "description": "d",
        "queryLogStatus": "ENABLED",
    }
    stub.add_response(
        "get_collaboration", {"collaboration": collaboration}, {"collaborationIdentifier": COLLAB_ID}
    )
    member = {
        "accountId": ADTECH.account_id,
        "status": "INVITED",
        "displayName": "AdTech",
        "abilities": ["CAN_RECEIVE_RESULTS"],
        "createTime": NOW,
        "updateTime": NOW,
        "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
    }
    gone = {**member, "accountId": "555555555555", "status": "REMOVED"}
    stub.add_response(
        "list_members", {"memberSummaries": [member, gone]}, {"collaborationIdentifier": COLLAB_ID}
    )
    # adtech sees the collaboration too, but it is the creator's resource: not read twice
    adtech = clients.stubs[ADTECH.account_id]
    adtech.add_response("list_collaborations", {"collaborationList": [summary]}, {})
    adtech.add_response("list_memberships", {"membershipSummaries": []}, {"status": "ACTIVE"})
    adtech.add_response("list_configured_tables", {"configuredTableSummaries": []}, {})
    backend = Boto3Backend(clients, [RETAILER, ADTECH], parallelism=1)

    state = backend.read("demo")

    stub.assert_no_pending_responses()
    adtech.assert_no_pending_responses()
    collab_address = Address.of(Kind.COLLABORATION, "retail")
    member_address = Address.of(Kind.MEMBER, "retail", "adtech")
    # a removed member is observed with its final status: the plan must never invite it again
    removed = Address.of(Kind.MEMBER, "retail", "555555555555")
    assert set(state.resources) == {collab_address, member_address, removed}
    assert state.resources[removed].gone == "REMOVED" and not state.resources[member_address].gone
    observed = state.get(collab_address)
    assert observed is not None and observed.id == COLLAB_ID and observed.arn == COLLAB_ARN
    assert observed.attributes["tags"] == {"team": "m"}  # identity tags are not attributes
    assert observed.owner == "retailer"
    m = state.get(member_address)
    assert m is not None and m.account_id == ADTECH.account_id
    assert m.attributes["collaborationIdentifier"] == Ref(collab_address, "id")
    assert backend.calls == 9 + 2 * 4  # and per account, the four account-level ML Lists (empty)


def test_read_follows_next_tokens_and_skips_other_stacks() -> None:
    clients = StubbedClients(RETAILER)
    stub = clients.stubs[RETAILER.account_id]
    table_arn = "arn:aws:cleanrooms:us-east-1:123456789012:configuredtable/" + "4" * 36
    table = {
        "id": "4" * 36,
        "arn": table_arn,
        "name": "t",
        "tableType": "GLUE",
        "createTime": NOW,
        "updateTime": NOW,
        "analysisRuleTypes": [],
        "analysisMethod": "DIRECT_QUERY",
    }
    stub.add_response("list_collaborations", {"collaborationList": []}, {})
    stub.add_response("list_memberships", {"membershipSummaries": []}, {"status": "ACTIVE"})
    stub.add_response("list_configured_tables", {"configuredTableSummaries": [], "nextToken": "p2"}, {})
    stub.add_response("list_configured_tables", {"configuredTableSummaries": [table]}, {"nextToken": "p2"})
    stub.add_response("list_tags_for_resource", {"tags": {STACK_TAG: "other"}}, {"resourceArn": table_arn})
    state = Boto3Backend(clients, [RETAILER], parallelism=1).read("demo")
    stub.assert_no_pending_responses()
    assert len(state) == 0


def test_create_step_resolves_refs_and_adds_identity_tags() -> None:
    clients = StubbedClients(ADTECH)
    stub = clients.stubs[ADTECH.account_id]
    collab = Address.of(Kind.COLLABORATION, "retail")
    membership = Address.of(Kind.MEMBERSHIP, "retail", "adtech")
    state = State(
        {collab: ObservedResource(collab, {}, owner="retailer", id=COLLAB_ID, arn=COLLAB_ARN)}, "demo"
    )
    step = Step(
        f"create {membership}",
        membership,
        "create",
        "CreateMembership",
        {"collaborationIdentifier": Ref(collab, "id"), "queryLogStatus": "ENABLED", "tags": {"team": "m"}},
        owner="adtech",
        account_id=ADTECH.account_id,
    )
    arn = "arn:aws:cleanrooms:us-east-1:987654321098:membership/" + "3" * 36
    response = {
        "membership": {
            "id": "3" * 36,
            "arn": arn,
            "collaborationArn": COLLAB_ARN,
            "collaborationId": COLLAB_ID,
            "collaborationCreatorAccountId": RETAILER.account_id,
            "collaborationCreatorDisplayName": "Acme",
            "collaborationName": "retail",
            "createTime": NOW,
            "updateTime": NOW,
            "status": "ACTIVE",
            "memberAbilities": [],
            "queryLogStatus": "ENABLED",
            "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
        }
    }
    stub.add_response(
        "create_membership",
        response,
        {
            "collaborationIdentifier": COLLAB_ID,
            "queryLogStatus": "ENABLED",
            "tags": {"team": "m", STACK_TAG: "demo", ADDRESS_TAG: "membership.retail.adtech"},
        },
    )
    backend = Boto3Backend(clients, [ADTECH])
    result = backend.run_step(step, state, "demo")
    stub.assert_no_pending_responses()
    assert result.resource is not None and result.resource.id == "3" * 36 and result.resource.arn == arn


def test_step_retries_throttling_and_reports_each_retry() -> None:
    clients = StubbedClients(RETAILER)
    stub = clients.stubs[RETAILER.account_id]
    collab = Address.of(Kind.COLLABORATION, "retail")
    state = State(
        {collab: ObservedResource(collab, {"name": "retail"}, owner="retailer", id=COLLAB_ID, arn=COLLAB_ARN)}
    )
    step = Step(
        f"update {collab}",
        collab,
        "update",
        "UpdateCollaboration",
        {"collaborationIdentifier": Ref(collab, "id"), "description": "new"},
        owner="retailer",
    )
    stub.add_client_error("update_collaboration", "ThrottlingException", http_status_code=429)
    collaboration = {
        "id": COLLAB_ID,
        "arn": COLLAB_ARN,
        "name": "retail",
        "description": "new",
        "creatorAccountId": RETAILER.account_id,
        "creatorDisplayName": "Acme",
        "createTime": NOW,
        "updateTime": NOW,
        "memberStatus": "ACTIVE",
        "queryLogStatus": "ENABLED",
    }
    stub.add_response(
        "update_collaboration",
        {"collaboration": collaboration},
        {"collaborationIdentifier": COLLAB_ID, "description": "new"},
    )
    retries: list[int] = []
    backend = Boto3Backend(clients, [RETAILER], retry=Backoff(attempts=3, base=0.001, cap=0.001))
    result = backend.run_step(step, state, "demo", on_retry=lambda n, e: retries.append(n))
    assert retries == [1] and result.retries == 1
    assert result.resource is not None and result.resource.attributes["description"] == "new"


def test_unresolvable_reference_is_a_clear_terminal_error() -> None:
    clients = StubbedClients(ADTECH)
    collab = Address.of(Kind.COLLABORATION, "retail")
    membership = Address.of(Kind.MEMBERSHIP, "retail", "adtech")
    step = Step(
        f"create {membership}",
        membership,
        "create",
        "CreateMembership",
        {"collaborationIdentifier": Ref(collab, "id"), "queryLogStatus": "ENABLED"},
        owner="adtech",
    )
    with pytest.raises(TerminalBackendError, match="needs the id of collaboration.retail"):
        Boto3Backend(clients, [ADTECH]).run_step(step, State(), "demo")


class FakeSession:
    """Records how sessions are made; hands out stubbed STS and Clean Rooms clients."""

    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeSession.made.append(kwargs)
        self.kwargs = kwargs

    def client(self, service: str, region_name: str, config: Any) -> Any:
        client = boto3.client(
            service, region_name=region_name, aws_access_key_id="x", aws_secret_access_key="y"
        )
        if service == "sts":
            stub = Stubber(client)
            stub.add_response(
                "assume_role",
                {
                    "Credentials": {
                        "AccessKeyId": "AKIAEXAMPLEEXAMPLE12",
                        "SecretAccessKey": "s" * 40,
                        "SessionToken": "t" * 40,
                        "Expiration": NOW,
                    }
                },
                {
                    "RoleArn": "arn:aws:iam::987654321098:role/FromEnv",
                    "RoleSessionName": "cleanrooms-reconciler",
                },
            )
            stub.activate()
        assert config.retries["mode"] == "standard"
        return client


def test_aws_credentials_come_from_the_environment_before_the_spec() -> None:
    FakeSession.made = []
    env = {
        "RECONCILER_AWS_PROFILE_AD_TECH": "adtech-prod",
        "RECONCILER_AWS_ROLE_ARN_AD_TECH": "arn:aws:iam::987654321098:role/FromEnv",
    }
    clients = AwsClients(environ=env, session_factory=FakeSession)
    account = Account("ad-tech", ADTECH.account_id, "eu-west-1", profile="from-spec", role_arn="arn:spec")
    assert clients.credentials_for(account) == ("adtech-prod", "arn:aws:iam::987654321098:role/FromEnv")
    client = clients.client(account)
    assert client.meta.region_name == "eu-west-1"
    assert FakeSession.made[0] == {"profile_name": "adtech-prod"}
    assert FakeSession.made[1]["aws_session_token"] == "t" * 40
    assert clients.client(account) is client  # one client per account


def test_aws_spec_profile_used_without_environment() -> None:
    FakeSession.made = []
    clients = AwsClients(environ={}, session_factory=FakeSession)
    clients.client(Account("retailer", RETAILER.account_id, profile="retail"))
    assert FakeSession.made == [{"profile_name": "retail"}]


def test_aws_clients_are_made_per_account_region_and_service() -> None:
    FakeSession.made = []
    clients = AwsClients(environ={}, session_factory=FakeSession)
    here = Account("retailer", RETAILER.account_id, "us-east-1", profile="retail")
    rooms = clients.client(here)
    ml = clients.client(here, "cleanroomsml")
    there = clients.client(Account("retailer", RETAILER.account_id, "eu-west-1", profile="retail"))
    assert rooms.meta.service_model.service_name == "cleanrooms"
    assert ml.meta.service_model.service_name == "cleanroomsml"
    assert there.meta.region_name == "eu-west-1" and there is not rooms
    assert clients.client(here, "cleanroomsml") is ml
    assert FakeSession.made == [{"profile_name": "retail"}]  # one session per account


def test_only_local_clients_act_as_accounts_without_credentials(tmp_path: Path) -> None:
    assert AwsClients(environ={}).act_as("111122223333", member="gone", region="us-east-1") is None
    local = LocalClients(tmp_path / "local.duckdb")
    try:
        assert local.act_as("111122223333", member="gone", region="eu-west-1") == Account(
            "gone", "111122223333", "eu-west-1"
        )
    finally:
        local.close()
