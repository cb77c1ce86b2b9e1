"""Helpers for the safety tests: a generated stack with many write steps, and a census of the backend."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import yaml

from reconciler import emulator

MEMBERS = {
    "retailer": "111111111111",
    "brand": "222222222222",
    "agency": "333333333333",
}


def _member(key: str, account: str, querier: bool) -> dict[str, Any]:
    member: dict[str, Any] = {
        "accountId": account,
        "displayName": key.title(),
        "abilities": ["CAN_QUERY", "CAN_RECEIVE_RESULTS"] if querier else ["CAN_RECEIVE_RESULTS"],
        "membership": {
            "queryLogStatus": "ENABLED",
            "defaultResultConfiguration": {
                "outputConfiguration": {"s3": {"bucket": f"{key}-results", "resultFormat": "CSV"}},
                "roleArn": f"arn:aws:iam::{account}:role/Results",
            },
        },
    }
    if querier:
        member["paymentConfiguration"] = {"queryCompute": {"isResponsible": True}}
        member["membership"]["paymentConfiguration"] = {"queryCompute": {"isResponsible": True}}
    return member


def write_big_stack(root: Path, *, tables: int = 6, templates: int = 2, name: str = "big") -> Path:
    """A stack of one collaboration, three members and ``tables`` configured tables, each with a
    custom rule, an association and an association rule, plus ``templates`` analysis templates.

    Its apply makes ``1 + 3 + 4 * tables + templates`` writes (32 by default).
    """
    stack = root / "specs" / name
    stack.mkdir(parents=True)
    collaboration = "big-collab"
    docs: list[dict[str, Any]] = [
        {
            "kind": "Collaboration",
            "name": collaboration,
            "creator": "retailer",
            "queryLogStatus": "ENABLED",
            "analyticsEngine": "SPARK",
            "members": {k: _member(k, a, k == "retailer") for k, a in MEMBERS.items()},
            "tags": {"team": "safety"},
        }
    ]
    owners = list(MEMBERS)
    for i in range(tables):
        owner = owners[i % len(owners)]
        docs.append(
            {
                "kind": "ConfiguredTable",
                "name": f"t{i}",
                "owner": owner,
                "tableReference": {"glue": {"databaseName": "db", "tableName": f"t{i}"}},
                "allowedColumns": ["hashed_email", "segment", "amount"],
                "analysisRule": {
                    "type": "CUSTOM",
                    "policy": {
                        "allowedAnalyses": ["ANY_QUERY"],
                        "allowedAnalysisProviders": ["retailer"],
                        "disallowedOutputColumns": ["hashed_email"],
                    },
                },
                "associations": [
                    {
                        "collaboration": collaboration,
                        "name": f"t{i}",
                        "roleArn": f"arn:aws:iam::{MEMBERS[owner]}:role/Table",
                        "analysisRule": {"allowedResultReceivers": ["retailer"]},
                    }
                ],
            }
        )
    for j in range(templates):
        table = f"t{(3 * j) % tables}"
        docs.append(
            {
                "kind": "AnalysisTemplate",
                "name": f"segments-{j}",
                "owner": "retailer",
                "collaboration": collaboration,
                "source": {
                    "text": f"WITH people AS (SELECT DISTINCT segment, hashed_email FROM {table}) "
                    "SELECT people.segment, COUNT(*) AS n FROM people GROUP BY people.segment"
                },
            }
        )
    for k, doc in enumerate(docs):
        (stack / f"{k:02d}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return stack


def census(workdir: Path, accounts: list[str] | None = None) -> collections.Counter[tuple[str, ...]]:
    """Count what the local backend holds, by identity, through boto3 List/Get calls only.

    Keys: ``("collaboration", name)``, ``("membership", collaboration, account)``,
    ``("configured_table", account, name)``, ``("analysis_rule", table name, type)``,
    ``("association", collaboration, name)``, ``("association_rule", association, type)``,
    ``("analysis_template", collaboration, name)``, ``("budget", collaboration, type)``.
    A count above 1 is a duplicate.
    """
    found: collections.Counter[tuple[str, ...]] = collections.Counter()
    service = emulator.connect(workdir / ".reconciler" / "local.duckdb")
    try:
        for account in accounts or list(MEMBERS.values()):
            c = service.client("cleanrooms", account_id=account)
            for collab in c.list_collaborations()["collaborationList"]:
                if collab["creatorAccountId"] == account:
                    found["collaboration", collab["name"]] += 1
            for table in c.list_configured_tables()["configuredTableSummaries"]:
                found["configured_table", account, table["name"]] += 1
                for rule_type in c.get_configured_table(configuredTableIdentifier=table["id"])[
                    "configuredTable"
                ]["analysisRuleTypes"]:
                    found["analysis_rule", table["name"], rule_type] += 1
            for membership in c.list_memberships(status="ACTIVE")["membershipSummaries"]:
                collab_name = membership["collaborationName"]
                found["membership", collab_name, account] += 1
                mid = membership["id"]
                for assoc in c.list_configured_table_associations(membershipIdentifier=mid)[
                    "configuredTableAssociationSummaries"
                ]:
                    found["association", collab_name, assoc["name"]] += 1
                    got = c.get_configured_table_association(
                        membershipIdentifier=mid, configuredTableAssociationIdentifier=assoc["id"]
                    )["configuredTableAssociation"]
                    for rule_type in got.get("analysisRuleTypes", []):
                        found["association_rule", assoc["name"], rule_type] += 1
                for template in c.list_analysis_templates(membershipIdentifier=mid)[
                    "analysisTemplateSummaries"
                ]:
                    found["analysis_template", collab_name, template["name"]] += 1
                for budget in c.list_privacy_budget_templates(membershipIdentifier=mid)[
                    "privacyBudgetTemplateSummaries"
                ]:
                    found["budget", collab_name, budget["privacyBudgetType"]] += 1
    finally:
        service.close()
    return found


def duplicates(found: collections.Counter[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """The identities held more than once."""
    return {key: n for key, n in found.items() if n > 1}
