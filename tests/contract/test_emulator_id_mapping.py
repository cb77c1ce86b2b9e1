"""ID namespace associations and ID mapping tables through boto3: create, populate, query through them.

OWNER (an advertiser) and PARTNER (a publisher who queries) know their people by different ids;
both have hashed emails. The local Entity Resolution stand-in holds the two ID namespaces (one
SOURCE, one TARGET) and a rule-based workflow matching on the email; PopulateIdMappingTable fills
the mapping, and a protected query joins the two tables through it under the collaboration's rules.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import pytest
from contract_helpers import OWNER, PARTNER, associate, create_table, error_of, finished

from reconciler import emulator

SOURCE_NS = f"arn:aws:entityresolution:us-east-1:{OWNER}:idnamespace/advertiser-ids"
TARGET_NS = f"arn:aws:entityresolution:us-east-1:{PARTNER}:idnamespace/publisher-ids"
WORKFLOW = f"arn:aws:entityresolution:us-east-1:{OWNER}:idmappingworkflow/email-match"

# 12 advertiser customers a0..a11 with emails e0..e11; the publisher knows e3..e14 (some in other
# case, with spaces) as p3..p14: the overlap is e3..e11 (nine people).
CUSTOMERS = [(f"a{i}", f"e{i}@example.com", float(i)) for i in range(12)]
READERS = [(f"p{i}", f"  E{i}@Example.com " if i % 2 else f"e{i}@example.com", "tv" if i < 8 else "web")
           for i in range(3, 15)]  # fmt: skip


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
                        "minimumIdentityCount": 2,
                        "type": "COUNT_DISTINCT",
                        "allowedAggregateExpressionType": "COLUMNS_ONLY",
                    }
                ],
            }
        }
    }


@pytest.fixture
def setup(emu: emulator.Emulator, owner: Any, partner: Any, tmp_path: Path) -> dict[str, Any]:
    con = duckdb.connect()
    con.execute("CREATE TABLE c (user_id VARCHAR, email VARCHAR, amount DOUBLE)")
    con.executemany("INSERT INTO c VALUES (?, ?, ?)", CUSTOMERS)
    con.execute(f"COPY c TO '{tmp_path / 'customers.csv'}' (HEADER)")
    con.execute("CREATE TABLE r (reader_id VARCHAR, email VARCHAR, channel VARCHAR)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?)", READERS)
    con.execute(f"COPY r TO '{tmp_path / 'readers.parquet'}' (FORMAT parquet)")
    er = emu.entity_resolution
    er.register_namespace(SOURCE_NS, type="SOURCE", path=tmp_path / "customers.csv", id_column="user_id")
    er.register_namespace(TARGET_NS, type="TARGET", path=tmp_path / "readers.parquet", id_column="reader_id")
    er.register_workflow(WORKFLOW, rules=[["email"]])
    collaboration = owner.create_collaboration(
        members=[
            {
                "accountId": PARTNER,
                "memberAbilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
                "displayName": "p",
            }
        ],
        name="identity",
        creatorMemberAbilities=[],
        creatorDisplayName="owner",
        queryLogStatus="DISABLED",
        analyticsEngine="SPARK",
    )["collaboration"]
    mo = owner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED")
    mp = partner.create_membership(collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED")
    mo, mp = mo["membership"], mp["membership"]
    for client, account, membership, name, file, columns, identity in (
        (owner, OWNER, mo, "customers", "customers.csv", ["user_id", "amount"], "user_id"),
        (partner, PARTNER, mp, "readers", "readers.parquet", ["reader_id", "channel"], "reader_id"),
    ):
        emu.catalog.register(account, "db", name, tmp_path / file)
        table = create_table(client, name, columns, database="db")
        client.create_configured_table_analysis_rule(
            configuredTableIdentifier=table["id"],
            analysisRuleType="CUSTOM",
            analysisRulePolicy=_custom(identity),
        )
        associate(client, account, membership["id"], table["id"], name=name)
    source = owner.create_id_namespace_association(
        membershipIdentifier=mo["id"],
        name="advertiser ids",
        inputReferenceConfig={"inputReferenceArn": SOURCE_NS, "manageResourcePolicies": True},
    )["idNamespaceAssociation"]
    target = partner.create_id_namespace_association(
        membershipIdentifier=mp["id"],
        name="publisher ids",
        inputReferenceConfig={"inputReferenceArn": TARGET_NS, "manageResourcePolicies": True},
    )["idNamespaceAssociation"]
    table = owner.create_id_mapping_table(
        membershipIdentifier=mo["id"],
        name="email_map",
        inputReferenceConfig={"inputReferenceArn": WORKFLOW, "manageResourcePolicies": True},
    )["idMappingTable"]
    return {
        "files": tmp_path,
        "mo": mo["id"],
        "mp": mp["id"],
        "source": source,
        "target": target,
        "table": table,
    }


def _start(partner: Any, membership: str, sql: str) -> str:
    return str(
        partner.start_protected_query(
            type="SQL",
            membershipIdentifier=membership,
            sqlParameters={"queryString": sql},
            resultConfiguration={
                "outputConfiguration": {
                    "s3": {"resultFormat": "CSV", "bucket": "results", "keyPrefix": "id/"}
                }
            },
        )["protectedQuery"]["id"]
    )


def _rows(emu: emulator.Emulator, query: dict[str, Any]) -> list[tuple[str, ...]]:
    path = emu.results_root / query["result"]["output"]["s3"]["location"].removeprefix("s3://")
    with path.open() as handle:
        return sorted(tuple(r.values()) for r in csv.DictReader(handle))


JOIN_SQL = (
    "SELECT r.channel, SUM(c.amount) AS total FROM customers c "
    "JOIN email_map m ON c.user_id = m.sourceId JOIN readers r ON r.reader_id = m.targetId GROUP BY r.channel"
)


def test_associations_and_table_read_back_as_the_model_says(
    owner: Any, partner: Any, setup: dict[str, Any]
) -> None:
    source, target, table = setup["source"], setup["target"], setup["table"]
    assert source["inputReferenceProperties"]["idNamespaceType"] == "SOURCE"
    assert target["inputReferenceProperties"]["idNamespaceType"] == "TARGET"
    assert ":membership/" in source["arn"] and "/idnamespaceassociation/" in source["arn"]
    assert table["inputReferenceProperties"]["idMappingTableInputSource"] == [
        {"idNamespaceAssociationId": source["id"], "type": "SOURCE"},
        {"idNamespaceAssociationId": target["id"], "type": "TARGET"},
    ]
    listed = owner.list_id_mapping_tables(membershipIdentifier=setup["mo"])["idMappingTableSummaries"]
    assert [t["id"] for t in listed] == [table["id"]]
    shared = partner.list_collaboration_id_namespace_associations(
        collaborationIdentifier=source["collaborationId"]
    )
    assert {a["id"] for a in shared["collaborationIdNamespaceAssociationSummaries"]} == {
        source["id"],
        target["id"],
    }
    # the partner cannot read the owner's table through its own membership
    error = error_of(
        lambda: partner.get_id_mapping_table(
            membershipIdentifier=setup["mp"], idMappingTableIdentifier=table["id"]
        )
    )
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def test_query_through_the_populated_mapping_matches_a_plain_join(
    emu: emulator.Emulator, owner: Any, partner: Any, setup: dict[str, Any]
) -> None:
    # before population the table is not among the collaboration's tables
    query = finished(partner, setup["mp"], _start(partner, setup["mp"], JOIN_SQL))
    assert query["status"] == "FAILED" and "email_map" in query["error"]["message"]
    owner.populate_id_mapping_table(
        membershipIdentifier=setup["mo"], idMappingTableIdentifier=setup["table"]["id"]
    )
    query = finished(partner, setup["mp"], _start(partner, setup["mp"], JOIN_SQL))
    assert query["status"] == "SUCCESS", query.get("error")
    mapping = emu.results_root / ".id-mapping" / f"{setup['table']['id']}.csv"
    pairs = duckdb.sql(f"SELECT * FROM read_csv_auto('{mapping}')").fetchall()
    assert sorted(pairs) == sorted((f"a{i}", f"p{i}") for i in range(3, 12))  # the documented rule's answer
    expected = duckdb.sql(
        f"SELECT r.channel, CAST(SUM(c.amount) AS VARCHAR) FROM '{setup['files'] / 'customers.csv'}' c "
        f"JOIN read_csv_auto('{mapping}') m ON c.user_id = m.sourceId "
        f"JOIN '{setup['files'] / 'readers.parquet'}' r ON r.reader_id = m.targetId GROUP BY r.channel"
    ).fetchall()
    assert _rows(emu, query) == sorted(expected) == [("tv", "25.0"), ("web", "38.0")]


_READERS_MAP = "FROM readers r JOIN email_map m ON r.reader_id = m.targetId"


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        (f"SELECT m.sourceId, SUM(1) {_READERS_MAP} GROUP BY m.sourceId", "only in JOIN conditions"),
        (
            "SELECT r.channel, SUM(1) FROM email_map m LEFT JOIN readers r ON r.reader_id = m.targetId "
            "JOIN customers c ON c.user_id = m.sourceId GROUP BY r.channel",
            "inner side",
        ),
        (f"SELECT r.channel, SUM(1) {_READERS_MAP} GROUP BY r.channel", "requireOverlap"),
        (
            "SELECT * FROM customers c JOIN email_map m ON c.user_id = m.sourceId "
            "JOIN readers r ON r.reader_id = m.targetId",
            "SELECT *",
        ),
    ],
)
def test_the_mapping_is_usable_only_through_the_overlap(
    owner: Any, partner: Any, setup: dict[str, Any], sql: str, says: str
) -> None:
    owner.populate_id_mapping_table(
        membershipIdentifier=setup["mo"], idMappingTableIdentifier=setup["table"]["id"]
    )
    query = finished(partner, setup["mp"], _start(partner, setup["mp"], sql))
    assert query["status"] == "FAILED"
    assert says in query["error"]["message"]


def test_namespace_in_use_cannot_be_deleted_and_unknown_references_are_refused(
    owner: Any, setup: dict[str, Any]
) -> None:
    error = error_of(
        lambda: owner.delete_id_namespace_association(
            membershipIdentifier=setup["mo"], idNamespaceAssociationIdentifier=setup["source"]["id"]
        )
    )
    assert error["Error"]["Code"] == "ConflictException"
    error = error_of(
        lambda: owner.create_id_namespace_association(
            membershipIdentifier=setup["mo"],
            name="unknown",
            inputReferenceConfig={
                "inputReferenceArn": f"arn:aws:entityresolution:us-east-1:{OWNER}:idnamespace/nope",
                "manageResourcePolicies": True,
            },
        )
    )
    assert error["Error"]["Code"] == "ValidationException" and "nope" in error["Error"]["Message"]
    owner.delete_id_mapping_table(
        membershipIdentifier=setup["mo"], idMappingTableIdentifier=setup["table"]["id"]
    )
    owner.delete_id_namespace_association(
        membershipIdentifier=setup["mo"], idNamespaceAssociationIdentifier=setup["source"]["id"]
    )
    assert (
        owner.list_id_namespace_associations(membershipIdentifier=setup["mo"])[
            "idNamespaceAssociationSummaries"
        ]
        == []
    )
