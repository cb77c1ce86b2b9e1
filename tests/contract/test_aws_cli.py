"""The AWS CLI, a client this project did not write, against ``reconciler serve`` in its own process.

``reconciler serve --port 0`` runs as a subprocess on a free loopback port; every step is the real
``aws`` entry point (``aws --endpoint-url ... cleanrooms ...``) in a subprocess of its own, with a
12-digit access key id as the calling account, as the README shows. The steps follow the
published walkthroughs: collaboration, memberships, configured tables, rules, associations,
protected queries, list/get with ``--query``, pagination with ``--max-items``, tags, removing a
member, leaving, deleting. The server is stopped with SIGTERM and must exit cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from contract_helpers import OWNER, PARTNER, ROLE

from reconciler.aws_model import documented_values

BIN = Path(sys.executable).parent
OUTSIDER_KEY = "444455556666"
LEAVER = "555566667777"
PURCHASES = "person,region,amount\n" + "".join(
    f"p{i},{region},{amount}\n"
    for i, (region, amount) in enumerate([("a", 10)] * 4 + [("b", 5)] * 3 + [("c", 1)])
)
AGGREGATION = {
    "aggregation": {
        "aggregateColumns": [{"columnNames": ["amount"], "function": "SUM"}],
        "joinColumns": ["person"],
        "dimensionColumns": ["region"],
        "scalarFunctions": [],
        "outputConstraints": [{"columnName": "person", "minimum": 3, "type": "COUNT_DISTINCT"}],
    }
}
RESULTS = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results", "keyPrefix": "cli/"}}}


@dataclass
class Served:
    """A running ``reconciler serve`` and how to call it with the AWS CLI."""

    process: subprocess.Popen[str]
    url: str
    workspace: Path
    log: Path

    def run(self, account: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workspace),
            "AWS_ACCESS_KEY_ID": account,
            "AWS_SECRET_ACCESS_KEY": "any-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(self.workspace / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workspace / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        command = [str(BIN / "aws"), "--endpoint-url", self.url, "--output", "json", "cleanrooms", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)

    def ok(self, account: str, *args: str) -> Any:
        """Run a step that must succeed; its JSON output (None when it prints nothing)."""
        done = self.run(account, *args)
        assert done.returncode == 0, f"aws cleanrooms {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None

    def fails(self, account: str, code: str, *args: str) -> str:
        """Run a step that AWS answers with error ``code``; the CLI's message."""
        done = self.run(account, *args)
        assert done.returncode != 0, done.stdout
        assert f"An error occurred ({code})" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        return done.stderr


def _start_server(workspace: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    command = [str(BIN / "reconciler"), "serve", "--port", "0", "--workspace", str(workspace), *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving the local backend"):
            url = line.rsplit(" at ", 1)[1].strip()
            assert url.startswith("http://127.0.0.1:"), url
            return process, url
    process.wait(timeout=30)
    raise AssertionError(
        f"reconciler serve exited {process.returncode}: {process.stderr.read() if process.stderr else ''}"
    )


def _stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> str:
    """Signal the server to stop; it must exit 0. Returns the rest of its output."""
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    return out


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "purchases.csv"
    data.write_text(PURCHASES)
    log = tmp_path / "requests.log"
    process, url = _start_server(
        tmp_path, "--table", f"{OWNER}:db.purchases={data}", "--request-log", str(log)
    )
    try:
        yield Served(process, url, tmp_path, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=60)


def _poll(served: Served, membership: str, query_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        query: dict[str, Any] = served.ok(
            PARTNER,
            "get-protected-query",
            "--membership-identifier",
            membership,
            "--protected-query-identifier",
            query_id,
            "--query",
            "protectedQuery",
        )
        if query["status"] in {"SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT"}:
            return query
        assert time.monotonic() < deadline, query
        time.sleep(0.2)


def _start_query(served: Served, membership: str, sql: str) -> dict[str, Any]:
    started: dict[str, Any] = served.ok(
        PARTNER,
        "start-protected-query",
        "--type",
        "SQL",
        "--membership-identifier",
        membership,
        "--sql-parameters",
        json.dumps({"queryString": sql}),
        "--result-configuration",
        json.dumps(RESULTS),
        "--query",
        "protectedQuery",
    )
    return started


def test_walkthrough_with_the_aws_cli(served: Served) -> None:
    # A collaboration as the walkthroughs create it: no --analytics-engine, so SPARK.
    members = [
        {
            "accountId": PARTNER,
            "memberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
            "displayName": "partner",
        },
        {"accountId": LEAVER, "memberAbilities": [], "displayName": "leaver"},
    ]
    collaboration = served.ok(
        OWNER,
        "create-collaboration",
        "--name",
        "retail",
        "--description",
        "walkthrough",
        "--members",
        json.dumps(members),
        "--creator-member-abilities",
        "[]",
        "--creator-display-name",
        "owner",
        "--query-log-status",
        "ENABLED",
    )["collaboration"]
    assert collaboration["analyticsEngine"] == "SPARK"
    assert collaboration["creatorAccountId"] == OWNER  # the access key id is the account
    cid = collaboration["id"]
    assert served.ok(OWNER, "list-collaborations", "--query", "collaborationList[].name") == ["retail"]
    assert served.ok(
        PARTNER, "list-members", "--collaboration-identifier", cid, "--query", "memberSummaries[].status"
    ) == [
        "INVITED",
        "INVITED",
        "INVITED",
    ]

    # Both members join; the owner configures a table, its rule and its association.
    mo = served.ok(
        OWNER, "create-membership", "--collaboration-identifier", cid, "--query-log-status", "ENABLED"
    )
    mp = served.ok(
        PARTNER, "create-membership", "--collaboration-identifier", cid, "--query-log-status", "ENABLED"
    )
    mo_id, mp_id = mo["membership"]["id"], mp["membership"]["id"]
    table = served.ok(
        OWNER,
        "create-configured-table",
        "--name",
        "purchases",
        "--table-reference",
        json.dumps({"glue": {"databaseName": "db", "tableName": "purchases"}}),
        "--allowed-columns",
        "person",
        "region",
        "amount",
        "--analysis-method",
        "DIRECT_QUERY",
        "--query",
        "configuredTable",
    )
    policy = served.workspace / "policy.json"
    policy.write_text(json.dumps({"v1": AGGREGATION}))
    rule = served.ok(
        OWNER,
        "create-configured-table-analysis-rule",
        "--configured-table-identifier",
        table["id"],
        "--analysis-rule-type",
        "AGGREGATION",
        "--analysis-rule-policy",
        f"file://{policy}",
    )["analysisRule"]
    assert rule["type"] == "AGGREGATION"
    association = served.ok(
        OWNER,
        "create-configured-table-association",
        "--name",
        "purchases",
        "--membership-identifier",
        mo_id,
        "--configured-table-identifier",
        table["id"],
        "--role-arn",
        ROLE.format(account=OWNER),
        "--query",
        "configuredTableAssociation",
    )
    schemas = served.ok(
        PARTNER, "list-schemas", "--collaboration-identifier", cid, "--query", "schemaSummaries[].name"
    )
    assert schemas == ["purchases"]

    # A protected query is SUBMITTED, then polled to SUCCESS; only groups of 3+ people are written.
    started = _start_query(
        served, mp_id, "SELECT region, SUM(amount) AS total FROM purchases GROUP BY region"
    )
    assert started["status"] == "SUBMITTED"
    done = _poll(served, mp_id, started["id"])
    assert done["status"] == "SUCCESS", done
    location = done["result"]["output"]["s3"]["location"]
    result = served.workspace / ".reconciler" / "results" / location.removeprefix("s3://")
    rows = sorted(result.read_text().splitlines()[1:])
    assert rows == ["a,40", "b,15"]  # region c (1 person) is suppressed

    # A refused query FAILS with a code of the model's enum (never OTHER or PARSE_ERROR).
    refused = _poll(served, mp_id, _start_query(served, mp_id, "SELECT person FROM purchases")["id"])
    assert refused["status"] == "FAILED"
    codes = set(documented_values("ProtectedQueryError", "code"))
    assert codes and refused["error"]["code"] in codes
    # (awscli 1.46 ships an older cleanrooms model without ProtectedQueryError.retry, so the CLI drops
    # that member; test_aws_answers.py checks it through boto3.)
    unparsable = _poll(served, mp_id, _start_query(served, mp_id, "SELEC region FROM")["id"])
    assert unparsable["status"] == "FAILED" and unparsable["error"]["code"] in codes

    # Pagination as the CLI does it: --max-items gives a NextToken, --starting-token the rest.
    first = served.ok(PARTNER, "list-protected-queries", "--membership-identifier", mp_id, "--max-items", "2")
    assert len(first["protectedQueries"]) == 2 and first["NextToken"]
    rest = served.ok(
        PARTNER,
        "list-protected-queries",
        "--membership-identifier",
        mp_id,
        "--max-items",
        "2",
        "--starting-token",
        first["NextToken"],
    )
    seen = [q["id"] for q in first["protectedQueries"] + rest["protectedQueries"]]
    assert len(seen) == 3 and len(set(seen)) == 3 and "NextToken" not in rest
    # A garbage or forged token is a ValidationException (HTTP 400, so the CLI does not retry it).
    for forged in ("garbage", "99"):
        served.fails(
            PARTNER,
            "ValidationException",
            "list-protected-queries",
            "--membership-identifier",
            mp_id,
            "--no-paginate",
            "--next-token",
            forged,
        )

    # Tags, and a tag call on an ARN that does not exist.
    arn = collaboration["arn"]
    served.ok(OWNER, "tag-resource", "--resource-arn", arn, "--tags", "team=ads,stage=test")
    served.ok(OWNER, "untag-resource", "--resource-arn", arn, "--tag-keys", "stage")
    assert served.ok(OWNER, "list-tags-for-resource", "--resource-arn", arn) == {"tags": {"team": "ads"}}
    missing = arn.rsplit("/", 1)[0] + "/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
    served.fails(OWNER, "ResourceNotFoundException", "list-tags-for-resource", "--resource-arn", missing)

    # Someone outside the collaboration sees nothing of it.
    served.fails(
        OUTSIDER_KEY, "AccessDeniedException", "get-collaboration", "--collaboration-identifier", cid
    )

    # Remove the member; the owner's association and membership go; the collaboration is deleted.
    served.ok(OWNER, "delete-member", "--collaboration-identifier", cid, "--account-id", PARTNER)
    status = served.ok(
        PARTNER, "get-membership", "--membership-identifier", mp_id, "--query", "membership.status"
    )
    assert status == "REMOVED"
    served.ok(
        OWNER,
        "delete-configured-table-association",
        "--membership-identifier",
        mo_id,
        "--configured-table-association-identifier",
        association["id"],
    )
    # A member leaves; the creator cannot (AWS: it deletes the collaboration instead).
    ml = served.ok(
        LEAVER, "create-membership", "--collaboration-identifier", cid, "--query-log-status", "DISABLED"
    )
    served.ok(LEAVER, "delete-membership", "--membership-identifier", ml["membership"]["id"])
    statuses = served.ok(
        OWNER, "list-members", "--collaboration-identifier", cid, "--query", "memberSummaries"
    )
    assert {m["accountId"]: m["status"] for m in statuses} == {
        OWNER: "ACTIVE",
        PARTNER: "REMOVED",
        LEAVER: "LEFT",
    }
    served.fails(OWNER, "ConflictException", "delete-membership", "--membership-identifier", mo_id)
    served.ok(OWNER, "delete-collaboration", "--collaboration-identifier", cid)
    assert served.ok(OWNER, "list-collaborations", "--query", "collaborationList") == []

    # SIGTERM: a clean stop, and the request log has a line per request the CLI made.
    out = _stop(served.process)
    assert "Stopped; the state is kept in" in out
    lines = served.log.read_text().splitlines()
    lists = [line for line in lines if " ListProtectedQueries 400 ValidationException " in line]
    assert len(lists) == 2, lists  # one request per forged token: no retries
    assert not [line for line in lines if " 500 " in line]


def test_the_state_outlives_the_server(tmp_path: Path) -> None:
    process, url = _start_server(tmp_path)
    first = Served(process, url, tmp_path, tmp_path / "unused")
    members = [{"accountId": PARTNER, "memberAbilities": ["CAN_QUERY"], "displayName": "p"}]
    first.ok(
        OWNER,
        "create-collaboration",
        "--name",
        "kept",
        "--members",
        json.dumps(members),
        "--creator-member-abilities",
        "[]",
        "--creator-display-name",
        "o",
        "--query-log-status",
        "DISABLED",
    )
    assert "Stopped; the state is kept in" in _stop(process, signal.SIGINT)  # Ctrl-C
    process, url = _start_server(tmp_path)
    try:
        again = Served(process, url, tmp_path, tmp_path / "unused")
        assert again.ok(OWNER, "list-collaborations", "--query", "collaborationList[].name") == ["kept"]
    finally:
        _stop(process)
