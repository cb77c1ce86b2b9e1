"""Pagination, persistence, fault injection, the file lock, and coverage of the model."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.serialize import create_serializer
from contract_helpers import NO_RETRY, OWNER, PARTNER, create_collaboration, create_table, error_of, join

from reconciler import emulator
from reconciler.aws_model import service_model
from reconciler.emulator.protocol import Router

REPO = Path(__file__).resolve().parents[2]


# -- pagination -----------------------------------------------------------------------------


def test_pagination_with_tokens_and_paginators(owner: Any, partner: Any) -> None:
    ids = [create_table(owner, name=f"t{i}")["id"] for i in range(7)]
    create_table(partner, name="theirs")
    pages, token = [], None
    while True:
        kwargs = {"maxResults": 3} | ({"nextToken": token} if token else {})
        response = owner.list_configured_tables(**kwargs)
        pages.append([t["id"] for t in response["configuredTableSummaries"]])
        token = response.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == ids
    paginated = owner.get_paginator("list_configured_tables").paginate(PaginationConfig={"PageSize": 2})
    assert [t["id"] for page in paginated for t in page["configuredTableSummaries"]] == ids


def test_bad_or_foreign_tokens_are_refused(owner: Any) -> None:
    for i in range(3):
        create_table(owner, name=f"t{i}")
    token = owner.list_configured_tables(maxResults=1)["nextToken"]
    assert (
        error_of(lambda: owner.list_configured_tables(nextToken="garbage"))["Error"]["Code"]
        == "ValidationException"
    )
    foreign = error_of(lambda: owner.list_collaborations(nextToken=token))
    assert foreign["Error"]["Code"] == "ValidationException"


# -- persistence ------------------------------------------------------------------------------


def test_state_survives_reconnect(tmp_path: Path) -> None:
    path = tmp_path / "local.duckdb"
    data = tmp_path / "orders.csv"
    data.write_text("a,b\n1,2\n")
    with emulator.connect(path) as first:
        client = first.client("cleanrooms", account_id=OWNER, config=NO_RETRY)
        collaboration = create_collaboration(client, tags={"stack": "s"})
        membership = join(client, collaboration["id"])
        first.catalog.register(OWNER, "sales", "orders", data)
    with emulator.connect(path) as second:
        client = second.client("cleanrooms", account_id=OWNER, config=NO_RETRY)
        assert (
            client.get_membership(membershipIdentifier=membership["id"])["membership"]["status"] == "ACTIVE"
        )
        got = client.get_collaboration(collaborationIdentifier=collaboration["id"])["collaboration"]
        assert got["membershipId"] == membership["id"]
        assert client.list_tags_for_resource(resourceArn=collaboration["arn"])["tags"] == {"stack": "s"}
        entry = second.catalog.lookup(OWNER, "sales", "orders")
        assert entry is not None and entry.column_types == {"a": "bigint", "b": "bigint"}
        assert second.results_root == tmp_path / "results"


def test_failed_call_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "local.duckdb"
    with emulator.connect(path) as emu:
        client = emu.client("cleanrooms", account_id=OWNER, config=NO_RETRY)
        pays = {"queryCompute": {"isResponsible": True}}
        members = [
            {
                "accountId": PARTNER,
                "memberAbilities": ["CAN_QUERY"],
                "displayName": "p",
                "paymentConfiguration": pays,
            }
        ]
        error_of(lambda: create_collaboration(client, creatorPaymentConfiguration=pays, members=members))
    with emulator.connect(path) as emu:
        client = emu.client("cleanrooms", account_id=PARTNER, config=NO_RETRY)
        assert client.list_collaborations()["collaborationList"] == []


def test_two_connections_in_one_process_share_state(tmp_path: Path) -> None:
    path = tmp_path / "local.duckdb"
    with emulator.connect(path) as one, emulator.connect(path) as two:
        table = create_table(one.client("cleanrooms", account_id=OWNER))
        got = two.client("cleanrooms", account_id=OWNER).get_configured_table(
            configuredTableIdentifier=table["id"]
        )
        assert got["configuredTable"]["id"] == table["id"]


# -- fault injection --------------------------------------------------------------------------


def test_throttling_is_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    def outcomes() -> list[str]:
        with emulator.connect() as emu:
            client = emu.client("cleanrooms", account_id=OWNER, config=NO_RETRY)
            result = []
            for _ in range(40):
                try:
                    client.list_collaborations()
                    result.append("ok")
                except client.exceptions.ThrottlingException:
                    result.append("throttled")
            return result

    monkeypatch.setenv("RECONCILER_LOCAL_FAULTS", json.dumps({"throttle_rate": 0.5, "seed": 7}))
    first, second = outcomes(), outcomes()
    assert first == second
    assert 5 < first.count("throttled") < 35
    monkeypatch.setenv("RECONCILER_LOCAL_FAULTS", json.dumps({"throttle_rate": 1.0}))
    with emulator.connect() as emu:
        client = emu.client("cleanrooms", account_id=OWNER, config=NO_RETRY)
        error = error_of(lambda: client.list_collaborations())
        assert (
            error["Error"]["Code"] == "ThrottlingException"
            and error["ResponseMetadata"]["HTTPStatusCode"] == 429
        )


def test_latency_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_LOCAL_FAULTS", json.dumps({"latency_ms": 60}))
    with emulator.connect() as emu:
        client = emu.client("cleanrooms", account_id=OWNER)
        start = time.perf_counter()
        client.list_collaborations()
        assert time.perf_counter() - start >= 0.06


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"throttle": 1}', "unknown key 'throttle'"),
        ('{"throttle_rate": 2}', "between 0 and 1"),
        ('{"crash_after_writes": 0}', "at least 1"),
        ('{"latency_ms": "slow"}', "must be a number"),
    ],
)
def test_bad_fault_settings_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, value: str, fragment: str
) -> None:
    monkeypatch.setenv("RECONCILER_LOCAL_FAULTS", value)
    with pytest.raises(emulator.LocalFaultsError) as info:
        emulator.connect()
    assert fragment in info.value.message and "RECONCILER_LOCAL_FAULTS" in info.value.message


CRASHER = textwrap.dedent(
    """
    import sys
    from reconciler import emulator
    emu = emulator.connect(sys.argv[1])
    client = emu.client("cleanrooms", account_id="111111111111")
    for i in range(10):
        client.create_configured_table(
            name=f"t{i}", tableReference={"glue": {"databaseName": "d", "tableName": f"t{i}"}},
            allowedColumns=["a"], analysisMethod="DIRECT_QUERY",
        )
        print(i, flush=True)
    """
)


def test_crash_after_writes_keeps_the_last_write(tmp_path: Path) -> None:
    path = tmp_path / "local.duckdb"
    env = {
        "RECONCILER_LOCAL_FAULTS": json.dumps({"crash_after_writes": 3}),
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", CRASHER, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 137, done.stderr
    assert done.stdout.split() == ["0", "1"]
    with emulator.connect(path) as emu:
        tables = emu.client("cleanrooms", account_id=OWNER).list_configured_tables()[
            "configuredTableSummaries"
        ]
        assert sorted(t["name"] for t in tables) == ["t0", "t1", "t2"]


# -- two processes, one file --------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from reconciler import emulator
    emu = emulator.connect(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    emu.close()
    """
)


def test_second_process_gets_a_clear_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "local.duckdb"
    with emulator.connect(path) as emu:
        create_table(emu.client("cleanrooms", account_id=OWNER))
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "ready"
            with pytest.raises(emulator.LocalBackendLockedError) as info:
                emulator.connect(path, lock_timeout=0.3)
            assert str(path) in info.value.message and str(holder.pid) in info.value.message
            assert info.value.hint
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=60)
    with emulator.connect(path) as emu:
        tables = emu.client("cleanrooms", account_id=OWNER).list_configured_tables()[
            "configuredTableSummaries"
        ]
        assert len(tables) == 1


# -- the model ---------------------------------------------------------------------------------


def test_every_required_operation_is_implemented() -> None:
    model_ops = set(service_model("cleanrooms").operation_names)
    assert set(emulator.REQUIRED_OPERATIONS) <= model_ops
    missing = sorted(set(emulator.REQUIRED_OPERATIONS) - emulator.IMPLEMENTED_OPERATIONS)
    assert missing == [], f"operations the reconciler uses but the emulator does not answer: {missing}"
    assert emulator.IMPLEMENTED_OPERATIONS <= model_ops


def _dummy(shape: Any) -> Any:
    if shape.type_name == "structure":
        return {n: _dummy(m) for n, m in shape.members.items() if n in shape.required_members}
    if shape.type_name == "list":
        return [_dummy(shape.member)]
    if shape.type_name == "map":
        return {"k": _dummy(shape.value)}
    if shape.type_name in ("integer", "long"):
        return 1
    if shape.type_name in ("float", "double"):
        return 1.0
    if shape.type_name == "boolean":
        return True
    if shape.type_name == "timestamp":
        return 0
    return "arn:aws:cleanrooms:us-east-1:111111111111:membership/a/b"


def test_router_maps_every_operation_back_to_itself() -> None:
    model = service_model("cleanrooms")
    router = Router(model)
    serializer = create_serializer("rest-json", include_validation=False)
    for name in model.operation_names:
        op = model.operation_model(name)
        params = _dummy(op.input_shape) if op.input_shape is not None else {}
        request_dict = serializer.serialize_to_request(params, op)
        prepare_request_dict(request_dict, endpoint_url="https://cleanrooms.us-east-1.amazonaws.com")
        prepared = create_request_object(request_dict).prepare()
        url = urlsplit(prepared.url)
        matched, _ = router.match(prepared.method, url.path, parse_qs(url.query))
        assert matched.name == name
