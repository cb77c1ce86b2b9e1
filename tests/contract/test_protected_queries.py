"""Protected queries end to end through boto3 alone: resources, catalog, Start/Get/List/Update, results."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest
from contract_helpers import OWNER, PARTNER, associate, create_table, error_of, finished

from reconciler import emulator

# purchases (OWNER): region a has 4 people, b has 3, c has 1; threshold is 3 distinct people.
PURCHASES = (
    [(f"p{i}", "a", 10.0) for i in range(4)]
    + [(f"p{i}", "b", 5.0) for i in (4, 5, 6, 4)]
    + [("p7", "c", 1.0)]
)
IMPRESSIONS = [(f"p{i}", "web" if i < 5 else "tv") for i in range(7)]  # tv reaches p5 and p6 only


def _custom(identity: str) -> dict[str, Any]:
    return {
        "v1": {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "allowedAnalysisProviders": [PARTNER],
                "disallowedOutputColumns": [identity],
                "aggregationThresholds": [
                    {
                        "identityColumns": [identity],
                        "minimumIdentityCount": 3,
                        "type": "COUNT_DISTINCT",
                        "allowedAggregateExpressionType": "COLUMNS_ONLY",
                    }
                ],
            }
        }
    }


def _table(
    client: Any, emu: emulator.Emulator, account: str, name: str, path: Path, columns: list[str]
) -> str:
    emu.catalog.register(account, "db", name, path)
    table = create_table(client, name, columns, database="db")
    client.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="CUSTOM", analysisRulePolicy=_custom("person")
    )
    return str(table["id"])


@pytest.fixture
def setup(emu: emulator.Emulator, owner: Any, partner: Any, tmp_path: Path) -> dict[str, Any]:
    con = duckdb.connect()
    con.execute("CREATE TABLE p (person VARCHAR, region VARCHAR, amount DOUBLE)")
    con.executemany("INSERT INTO p VALUES (?, ?, ?)", PURCHASES)
    con.execute(f"COPY p TO '{tmp_path / 'purchases.csv'}' (HEADER)")
    con.execute("CREATE TABLE i (person VARCHAR, channel VARCHAR)")
    con.executemany("INSERT INTO i VALUES (?, ?)", IMPRESSIONS)
    con.execute(f"COPY i TO '{tmp_path / 'impressions.parquet'}' (FORMAT parquet)")
    collaboration = owner.create_collaboration(
        members=[
            {
                "accountId": PARTNER,
                "memberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
                "displayName": "p",
            }
        ],
        name="retail",
        creatorMemberAbilities=[],
        creatorDisplayName="owner",
        queryLogStatus="ENABLED",
        analyticsEngine="SPARK",
    )["collaboration"]
    mo = owner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="ENABLED")[
        "membership"
    ]
    mp = partner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="ENABLED")[
        "membership"
    ]
    for client, account, membership, name, file, columns in (
        (owner, OWNER, mo, "purchases", "purchases.csv", ["person", "region", "amount"]),
        (partner, PARTNER, mp, "impressions", "impressions.parquet", ["person", "channel"]),
    ):
        table_id = _table(client, emu, account, name, tmp_path / file, columns)
        associate(client, account, membership["id"], table_id, name=name)
    return {"membership": mp["id"], "owner_membership": mo["id"]}


def _start(partner: Any, membership: str, fmt: str = "CSV", **sql: Any) -> str:
    return str(
        partner.start_protected_query(
            type="SQL",
            membershipIdentifier=membership,
            sqlParameters=sql,
            resultConfiguration={
                "outputConfiguration": {
                    "s3": {"resultFormat": fmt, "bucket": "results", "keyPrefix": "runs/"}
                }
            },
        )["protectedQuery"]["id"]
    )


def _result_path(emu: emulator.Emulator, query: dict[str, Any]) -> Path:
    location = query["result"]["output"]["s3"]["location"]
    assert location.startswith("s3://")
    return emu.results_root / location.removeprefix("s3://")


def test_query_runs_and_writes_only_groups_above_the_threshold(
    emu: emulator.Emulator, partner: Any, setup: dict[str, Any]
) -> None:
    qid = _start(
        partner,
        setup["membership"],
        queryString="SELECT region, SUM(amount) AS total FROM purchases GROUP BY region",
    )
    query = finished(partner, setup["membership"], qid)
    assert query["status"] == "SUCCESS", query.get("error")
    assert query["statistics"]["totalDurationInMillis"] >= 0
    with _result_path(emu, query).open() as handle:
        rows = sorted((r["region"], float(r["total"])) for r in csv.DictReader(handle))
    people: dict[str, set[str]] = defaultdict(set)
    totals: dict[str, float] = defaultdict(float)
    for person, region, amount in PURCHASES:
        people[region].add(person)
        totals[region] += amount
    assert rows == sorted((r, totals[r]) for r in totals if len(people[r]) >= 3)
    assert [r for r, _ in rows] == ["a", "b"]


def test_join_across_members_with_parquet_output(
    emu: emulator.Emulator, partner: Any, setup: dict[str, Any]
) -> None:
    sql = (
        "SELECT i.channel, COUNT(*) AS n FROM purchases p JOIN impressions i ON p.person = i.person "
        "GROUP BY i.channel"
    )
    qid = _start(partner, setup["membership"], fmt="PARQUET", queryString=sql)
    query = finished(partner, setup["membership"], qid)
    assert query["status"] == "SUCCESS", query.get("error")
    path = _result_path(emu, query)
    assert path.suffix == ".parquet"
    assert duckdb.sql(f"SELECT channel, n FROM '{path}' ORDER BY channel").fetchall() == [
        ("web", 6)
    ]  # tv: 2 people


def test_refused_query_fails_with_reason_and_reads_nothing(
    emu: emulator.Emulator, partner: Any, setup: dict[str, Any]
) -> None:
    qid = _start(partner, setup["membership"], queryString="SELECT person, region FROM purchases")
    query = finished(partner, setup["membership"], qid)
    assert query["status"] == "FAILED"
    assert query["error"]["code"] == "MALFORMED_QUERY"  # a documented ProtectedQueryError code
    assert query["error"]["message"].startswith("query refused [output_column_disallowed]")
    assert query["error"]["retry"] == {"retryable": False}
    assert "purchases" in query["error"]["message"] and "person" in query["error"]["message"]
    assert "result" not in query
    assert not list((emu.results_root / "results").glob(f"**/{qid}/*"))


@pytest.mark.parametrize("queries", ["manual"])  # nothing runs until run_pending()
def test_cancel_before_it_runs_then_conflict(
    emu: emulator.Emulator, partner: Any, setup: dict[str, Any]
) -> None:
    membership = setup["membership"]
    qid = _start(partner, membership, queryString="SELECT region, COUNT(*) FROM purchases GROUP BY region")
    cancelled = partner.update_protected_query(
        membershipIdentifier=membership, protectedQueryIdentifier=qid, targetStatus="CANCELLED"
    )
    assert cancelled["protectedQuery"]["status"] == "CANCELLED"
    got = partner.get_protected_query(membershipIdentifier=membership, protectedQueryIdentifier=qid)[
        "protectedQuery"
    ]
    assert got["status"] == "CANCELLED"
    assert emu.queries.run_pending() == []  # a cancelled query never runs
    again = error_of(
        lambda: partner.update_protected_query(
            membershipIdentifier=membership, protectedQueryIdentifier=qid, targetStatus="CANCELLED"
        )
    )
    assert again["Error"]["Code"] == "ConflictException"


def test_list_filters_by_status_and_logs_every_finished_query(
    emu: emulator.Emulator, partner: Any, setup: dict[str, Any]
) -> None:
    membership = setup["membership"]
    ok = _start(partner, membership, queryString="SELECT region, COUNT(*) FROM purchases GROUP BY region")
    bad = _start(partner, membership, queryString="SELECT 1; SELECT 2")
    for qid in (ok, bad):
        finished(partner, membership, qid)
    listed = partner.list_protected_queries(membershipIdentifier=membership)["protectedQueries"]
    assert {q["id"]: q["status"] for q in listed} == {ok: "SUCCESS", bad: "FAILED"}
    failed = partner.list_protected_queries(membershipIdentifier=membership, status="FAILED")[
        "protectedQueries"
    ]
    assert [q["id"] for q in failed] == [bad]
    lines = (emu.results_root / "query-logs" / f"{membership}.jsonl").read_text().splitlines()
    logged = {json.loads(line)["protectedQueryId"]: json.loads(line)["status"] for line in lines}
    assert logged == {ok: "SUCCESS", bad: "FAILED"}


def test_template_run_binds_parameters(emu: emulator.Emulator, partner: Any, setup: dict[str, Any]) -> None:
    membership = setup["membership"]
    template = partner.create_analysis_template(
        membershipIdentifier=membership,
        name="by_region",
        format="SQL",
        source={"text": "SELECT region, COUNT(*) AS n FROM purchases WHERE amount >= :floor GROUP BY region"},
        analysisParameters=[{"name": "floor", "type": "DOUBLE", "defaultValue": "0"}],
    )["analysisTemplate"]
    qid = _start(partner, membership, analysisTemplateArn=template["arn"], parameters={"floor": "5"})
    query = finished(partner, membership, qid)
    assert query["status"] == "SUCCESS", query.get("error")
    with _result_path(emu, query).open() as handle:
        assert sorted(r["region"] for r in csv.DictReader(handle)) == ["a", "b"]
    bad = _start(partner, membership, analysisTemplateArn=template["arn"], parameters={"floor": "5 OR 1=1"})
    failed = finished(partner, membership, bad)
    assert failed["status"] == "FAILED" and "not a valid DOUBLE" in failed["error"]["message"]


def test_only_a_member_who_can_query_may_start(owner: Any, setup: dict[str, Any]) -> None:
    error = error_of(
        lambda: owner.start_protected_query(
            type="SQL",
            membershipIdentifier=setup["owner_membership"],
            sqlParameters={"queryString": "SELECT region, COUNT(*) FROM purchases GROUP BY region"},
            resultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results"}}},
        )
    )
    assert error["Error"]["Code"] == "AccessDeniedException"


def test_unknown_query_is_not_found(partner: Any, setup: dict[str, Any]) -> None:
    error = error_of(
        lambda: partner.get_protected_query(
            membershipIdentifier=setup["membership"],
            protectedQueryIdentifier="00000000-0000-0000-0000-000000000000",
        )
    )
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def _start_with(partner: Any, membership: str, spark: dict[str, str]) -> str:
    return str(
        partner.start_protected_query(
            type="SQL",
            membershipIdentifier=membership,
            sqlParameters={
                "queryString": "SELECT region, SUM(amount) AS total FROM purchases GROUP BY region"
            },
            resultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results"}}},
            computeConfiguration={"worker": {"type": "CR.1X", "number": 4, "properties": {"spark": spark}}},
        )["protectedQuery"]["id"]
    )


def test_unsupported_spark_properties_are_refused_with_the_supported_list(
    partner: Any, setup: dict[str, Any]
) -> None:
    with pytest.raises(partner.exceptions.ValidationException, match="spark.sql.shuffle.partitions"):
        _start_with(partner, setup["membership"], {"spark.sql.ansi.enabled": "false"})
    with pytest.raises(partner.exceptions.ValidationException, match="less than or equal to 50"):
        _start_with(partner, setup["membership"], {f"spark.x{i}": "1" for i in range(51)})


def _totals(
    emu: emulator.Emulator, partner: Any, membership: str, spark: dict[str, str]
) -> list[tuple[str, float]]:
    qid = _start_with(partner, membership, spark)
    query = finished(partner, membership, qid, timeout=600.0)  # a cold JVM starts first
    assert query["status"] == "SUCCESS", query.get("error")
    with _result_path(emu, query).open() as handle:
        return sorted((r["region"], float(r["total"])) for r in csv.DictReader(handle))


@pytest.mark.spark
def test_the_local_backend_runs_protected_queries_on_spark_when_set(
    emu: emulator.Emulator, partner: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECONCILER_LOCAL_ENGINE=spark: the same checked statement, on Spark, with the request's
    supported Spark properties applied; the same rows as the default engine."""
    on_duckdb = _totals(emu, partner, setup["membership"], {"spark.sql.shuffle.partitions": "3"})
    monkeypatch.setenv("RECONCILER_LOCAL_ENGINE", "spark")
    on_spark = _totals(emu, partner, setup["membership"], {"spark.sql.shuffle.partitions": "3"})
    assert on_spark == on_duckdb == [("a", 40.0), ("b", 20.0)]
