"""The service's own rules, one small named function each, answered with AWS's errors.

Each function checks one thing AWS checks (a quota, a lifecycle rule, a consistency rule
between fields) and raises a ``ServiceError`` when it does not hold. Handlers call them by
name, so the list below is also the list of what the emulator enforces beyond the model's
field constraints (those are in ``validation``). Quota checks read their limits from the
quotas table (``quotas.QUOTAS``) through ``ctx.limit``, in the caller's Region.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sized
from typing import Any

from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import access_denied, conflict, quota_exceeded, validation
from reconciler.emulator.store import Record

__all__ = [
    "CLEAN_ROOMS_SQL_CLOSED_AFTER",
    "analyses_or_providers",
    "analysis_rule_size",
    "collaborations_per_account",
    "columns_per_allowlist",
    "configured_tables_per_account",
    "memberships_per_account",
    "ongoing_queries_per_membership",
    "budget_type_matches_parameters",
    "clean_rooms_sql_still_open",
    "creator_only",
    "distinct_member_accounts",
    "membership_has_no_subresources",
    "one_budget_template_per_collaboration",
    "one_querier",
    "one_rule_per_table",
    "query_compute_payers",
    "rule_columns_allowed",
    "rule_column_groups_disjoint",
    "rule_type_matches_policy",
    "table_columns_unique",
    "table_columns_in_catalog",
    "table_not_associated",
    "table_not_associated_twice",
    "templates_per_membership",
    "members_per_collaboration",
    "membership_payment",
    "metrics_need_collaboration_metrics",
    "result_configuration_needs_receiver",
    "unique_association_name",
    "within_quota",
]

#: AWS stopped accepting the Clean Rooms SQL engine for collaborations created after this day.
CLEAN_ROOMS_SQL_CLOSED_AFTER = dt.date(2025, 7, 16)

#: Policy union member name for each analysis rule type.
POLICY_MEMBER = {"AGGREGATION": "aggregation", "LIST": "list", "CUSTOM": "custom"}


# -- collaborations and members ---------------------------------------------------------------


def clean_rooms_sql_still_open(ctx: RequestContext, engine: str | None) -> None:
    """``analyticsEngine: CLEAN_ROOMS_SQL`` is refused for collaborations created after 2025-07-16."""
    if engine == "CLEAN_ROOMS_SQL" and ctx.now().date() > CLEAN_ROOMS_SQL_CLOSED_AFTER:
        raise validation(
            "The CLEAN_ROOMS_SQL analytics engine is not available for new collaborations created after "
            f"{CLEAN_ROOMS_SQL_CLOSED_AFTER.isoformat()}; use SPARK",
            field="analyticsEngine",
        )


def distinct_member_accounts(creator: str, accounts: Iterable[str]) -> None:
    """Each account appears once, and the creator is not also listed in ``members``."""
    seen: set[str] = set()
    for account in accounts:
        if account == creator:
            raise validation(
                f"account {account} is the collaboration creator and cannot also be listed in members"
            )
        if account in seen:
            raise validation(f"account {account} is listed more than once in members")
        seen.add(account)


def within_quota(ctx: RequestContext, name: str, count: int) -> None:
    """``count`` (what there would be after the call) stays within quota ``name``.

    Raises:
        ServiceError: ServiceQuotaExceededException naming the quota and its value.
    """
    limit = ctx.limit(name)
    if count > limit:
        raise quota_exceeded(name, limit)


def members_per_collaboration(ctx: RequestContext, count: int) -> None:
    """At most the quota of invited members (the creator aside) per collaboration."""
    within_quota(ctx, "Members invited per collaboration", count)


def collaborations_per_account(ctx: RequestContext) -> None:
    """The caller has created fewer collaborations (in this Region, not deleted) than its quota."""
    mine = ctx.store.count("collaboration", creatorAccountId=ctx.account_id)
    within_quota(ctx, "Collaborations created per account", mine + 1)


def memberships_per_account(ctx: RequestContext) -> None:
    """The caller has fewer ACTIVE memberships (in this Region) than its quota."""
    active = ctx.store.count("membership", _account=ctx.account_id, status="ACTIVE")
    within_quota(ctx, "Memberships per account", active + 1)


def one_querier(members: Iterable[Record]) -> None:
    """Only one member of a collaboration may have CAN_QUERY."""
    queriers = [m["accountId"] for m in members if "CAN_QUERY" in m["abilities"]]
    if len(queriers) > 1:
        raise validation(
            f"only one member can have CAN_QUERY; found {len(queriers)}: {', '.join(queriers)}",
            reason="INVALID_CONFIGURATION",
        )


def query_compute_payers(members: list[Record]) -> None:
    """Exactly one member pays for query compute; by default the member who can query.

    Members with no explicit ``paymentConfiguration`` get one: the querier (or, if nobody can
    query, the creator, who is first) pays unless someone else was named.
    """
    explicit = [m for m in members if m.get("paymentConfiguration") is not None]
    payers = [m for m in explicit if m["paymentConfiguration"]["queryCompute"]["isResponsible"]]
    if len(payers) > 1:
        names = ", ".join(m["accountId"] for m in payers)
        raise validation(
            f"exactly one member must pay for query compute; {len(payers)} are responsible: {names}",
            reason="INVALID_CONFIGURATION",
        )
    if not payers:
        candidates = [m for m in members if "CAN_QUERY" in m["abilities"]] or members[:1]
        payer = candidates[0]
        if payer.get("paymentConfiguration") is not None:
            raise validation(
                f"no member pays for query compute; the member who can query ({payer['accountId']}) "
                "pays by default but its paymentConfiguration says it is not responsible",
                reason="INVALID_CONFIGURATION",
            )
        payers = [payer]
    for member in members:
        if member.get("paymentConfiguration") is None:
            member["paymentConfiguration"] = {"queryCompute": {"isResponsible": member is payers[0]}}


def creator_only(ctx: RequestContext, collaboration: Record, action: str) -> None:
    """Only the collaboration's creator may ``action`` (update, delete, remove members, ...)."""
    if collaboration["creatorAccountId"] != ctx.account_id:
        raise access_denied(
            f"only the collaboration creator ({collaboration['creatorAccountId']}) can {action}; "
            f"the caller is {ctx.account_id}"
        )


def result_configuration_needs_receiver(member: Record, params: dict[str, Any]) -> None:
    """Only a member who can receive results sets a default result configuration."""
    if params.get("defaultResultConfiguration") and "CAN_RECEIVE_RESULTS" not in member["abilities"]:
        raise validation(
            f"member {member['accountId']} cannot receive results (no CAN_RECEIVE_RESULTS), so it cannot set "
            "a defaultResultConfiguration",
            field="defaultResultConfiguration",
        )


def metrics_need_collaboration_metrics(collaboration: Record, params: dict[str, Any]) -> None:
    """Membership metrics are available only when the collaboration has metrics enabled."""
    if params.get("isMetricsEnabled") and not collaboration.get("isMetricsEnabled"):
        raise validation(
            f"collaboration {collaboration['id']} does not have metrics enabled, so its memberships cannot",
            field="isMetricsEnabled",
        )


def membership_payment(member: Record, given: dict[str, Any] | None) -> dict[str, Any]:
    """The member accepts exactly the query-compute responsibility the creator assigned to it.

    A payer who cannot query must say so explicitly (the model's ``paymentConfiguration`` doc);
    accepting TRUE when not responsible, or FALSE when responsible, is an error.

    Returns:
        The membership's ``paymentConfiguration``.
    """
    assigned = bool(member.get("paymentConfiguration", {}).get("queryCompute", {}).get("isResponsible"))
    if given is None:
        if assigned and "CAN_QUERY" not in member["abilities"]:
            raise validation(
                "paymentConfiguration is required: the collaboration creator made this member, who cannot "
                "query, responsible for query compute costs",
                field="paymentConfiguration",
            )
        return {"queryCompute": {"isResponsible": assigned}}
    accepted = bool(given.get("queryCompute", {}).get("isResponsible"))
    if accepted != assigned:
        raise validation(
            f"paymentConfiguration.queryCompute.isResponsible must be {str(assigned).lower()}: the "
            f"collaboration creator {'made' if assigned else 'did not make'} this member responsible for "
            "query compute costs",
            field="paymentConfiguration.queryCompute.isResponsible",
        )
    return given


#: The Clean Rooms ML costs a member can be made responsible for (MembershipMLPaymentConfig).
ML_COSTS = ("modelTraining", "modelInference", "syntheticDataGeneration")


def ml_payer(members: list[Record], member: Record, cost: str) -> bool:
    """Whether the creator made ``member`` responsible for the ML ``cost``.

    AWS: "If the collaboration creator has not specified anyone to pay for model inference costs,
    then the member who can query is the default payer" (the same for training).
    """

    def assigned(m: Record) -> bool | None:
        part = ((m.get("paymentConfiguration") or {}).get("machineLearning") or {}).get(cost)
        return None if part is None else bool(part.get("isResponsible"))

    if any(assigned(m) for m in members):
        return assigned(member) is True
    return "CAN_QUERY" in member.get("abilities", [])


def membership_ml_payment(members: list[Record], member: Record, given: dict[str, Any] | None) -> None:
    """A membership accepts exactly the ML cost responsibilities the creator assigned to its member.

    The API reference (MembershipModelInferencePaymentConfig, ...TrainingPaymentConfig): an error
    for FALSE when responsible and for TRUE when not.
    """
    accepted = (given or {}).get("machineLearning") or {}
    for cost in ML_COSTS:
        if cost not in accepted:
            continue
        responsible = ml_payer(members, member, cost)
        if bool(accepted[cost].get("isResponsible")) != responsible:
            field = f"paymentConfiguration.machineLearning.{cost}.isResponsible"
            raise validation(
                f"{field} must be {str(responsible).lower()}: the collaboration creator "
                f"{'made' if responsible else 'did not make'} this member responsible for {cost} costs",
                field=field,
            )


def membership_has_no_subresources(ctx: RequestContext, membership: Record) -> None:
    """A membership can be deleted only after every resource under it is deleted."""
    mid = membership["id"]
    for kind in (
        "configured_table_association",
        "analysis_template",
        "privacy_budget_template",
        "configured_audience_model_association",
        "configured_model_algorithm_association",
        "ml_input_channel",
    ):
        if ctx.store.find(kind, membershipId=mid):
            raise conflict(
                f"membership {mid} still has {kind.replace('_', ' ')}s; delete every resource under the "
                "membership first",
                reason="SUBRESOURCES_EXIST",
                resource_id=mid,
                resource_type="MEMBERSHIP",
            )


# -- configured tables and their rules ------------------------------------------------------


def columns_per_allowlist(ctx: RequestContext, columns: Sized) -> None:
    """``allowedColumns`` lists at most the quota of columns."""
    within_quota(ctx, "Columns per configured table allowlist", len(columns))


def configured_tables_per_account(ctx: RequestContext) -> None:
    """The caller has fewer configured tables (in this Region) than its quota."""
    mine = ctx.store.count("configured_table", _account=ctx.account_id)
    within_quota(ctx, "Configured tables per account", mine + 1)


def analysis_rule_size(ctx: RequestContext, policy: dict[str, Any]) -> None:
    """An analysis rule's policy, as JSON, is at most the quota's kilobytes (1,000 bytes each)."""
    size = len(json.dumps(policy, separators=(",", ":")).encode())
    limit = ctx.limit("Analysis rule size") * 1000
    if size > limit:
        raise quota_exceeded("Analysis rule size", ctx.limit("Analysis rule size"))


def table_columns_unique(columns: list[str]) -> None:
    """``allowedColumns`` lists each column once."""
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise validation(f"allowedColumns lists {', '.join(dupes)} more than once", field="allowedColumns")


def table_columns_in_catalog(ctx: RequestContext, reference: dict[str, Any], columns: list[str]) -> None:
    """When the Glue table is registered locally, every allowed column must exist in it."""
    glue = reference.get("glue")
    if not glue:
        return
    entry = ctx.catalog.lookup(ctx.account_id, glue["databaseName"], glue["tableName"])
    if entry is None:
        return
    unknown = [c for c in columns if c not in entry.column_types]
    if unknown:
        raise validation(
            f"allowedColumns {', '.join(unknown)} are not columns of "
            f"{glue['databaseName']}.{glue['tableName']}",
            field="allowedColumns",
        )


def table_not_associated(ctx: RequestContext, table: Record) -> None:
    """A configured table that is still associated with a collaboration cannot be deleted."""
    if ctx.store.find("configured_table_association", configuredTableId=table["id"]):
        raise conflict(
            f"configured table {table['id']} is associated with a collaboration; delete its configured "
            "table associations first",
            reason="INVALID_STATE",
            resource_id=table["id"],
            resource_type="CONFIGURED_TABLE",
        )


def rule_type_matches_policy(rule_type: str, policy: dict[str, Any]) -> None:
    """``analysisRuleType`` names the same rule as the policy's ``v1`` member."""
    member = next(iter(policy.get("v1", {})), None)
    if member != POLICY_MEMBER[rule_type]:
        raise validation(
            f"analysisRuleType {rule_type} does not match the policy, which is a {member} rule",
            field="analysisRulePolicy",
        )


def one_rule_per_table(ctx: RequestContext, table: Record) -> None:
    """A configured table has at most one analysis rule."""
    existing = ctx.table_rule(table["id"])
    if existing is not None:
        raise conflict(
            f"configured table {table['id']} already has a {existing['type']} analysis rule; only one "
            "analysis rule is allowed per configured table",
            reason="ALREADY_EXISTS",
            resource_id=table["id"],
            resource_type="CONFIGURED_TABLE",
        )


def _rule_columns(rule: dict[str, Any]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for key in ("joinColumns", "dimensionColumns", "listColumns", "disallowedOutputColumns"):
        if key in rule:
            groups[key] = list(rule[key])
    if "aggregateColumns" in rule:
        groups["aggregateColumns"] = [c for agg in rule["aggregateColumns"] for c in agg["columnNames"]]
    if "outputConstraints" in rule:
        groups["outputConstraints"] = [c["columnName"] for c in rule["outputConstraints"]]
    if "differentialPrivacy" in rule:
        groups["differentialPrivacy"] = [c["name"] for c in rule["differentialPrivacy"].get("columns", [])]
    return groups


def rule_columns_allowed(table: Record, rule: dict[str, Any]) -> None:
    """Every column an analysis rule names is one of the table's ``allowedColumns``."""
    allowed = set(table["allowedColumns"])
    for group, columns in _rule_columns(rule).items():
        unknown = [c for c in columns if c not in allowed]
        if unknown:
            raise validation(
                f"{group} names {', '.join(unknown)}, which are not allowed columns of configured table "
                f"{table['id']}",
                reason="INVALID_CONFIGURATION",
                field=f"analysisRulePolicy.v1.{group}",
            )


def rule_column_groups_disjoint(rule_type: str, rule: dict[str, Any]) -> None:
    """Aggregate and join columns are not dimensions; list join columns are not list columns."""
    groups = _rule_columns(rule)
    pairs = {
        "AGGREGATION": [("aggregateColumns", "dimensionColumns"), ("joinColumns", "dimensionColumns")],
        "LIST": [("joinColumns", "listColumns")],
        "CUSTOM": [],
    }[rule_type]
    for left, right in pairs:
        both = sorted(set(groups.get(left, [])) & set(groups.get(right, [])))
        if both:
            raise validation(
                f"columns {', '.join(both)} cannot be both {left} and {right}",
                reason="INVALID_CONFIGURATION",
                field=f"analysisRulePolicy.v1.{right}",
            )


def analyses_or_providers(rule_type: str, rule: dict[str, Any]) -> None:
    """A custom rule allows templates or analysis providers, not both; ANY_QUERY needs providers."""
    if rule_type != "CUSTOM":
        return
    analyses = rule.get("allowedAnalyses", [])
    providers = rule.get("allowedAnalysisProviders") or []
    wildcard = any(a in ("ANY_QUERY", "ANY_JOB") for a in analyses)
    if wildcard and not providers:
        raise validation(
            "allowedAnalysisProviders is required when allowedAnalyses is ANY_QUERY or ANY_JOB",
            reason="INVALID_CONFIGURATION",
            field="analysisRulePolicy.v1.custom.allowedAnalysisProviders",
        )
    if providers and not wildcard:
        raise validation(
            "a custom rule allows either analysis template ARNs or analysis providers, not both",
            reason="INVALID_CONFIGURATION",
            field="analysisRulePolicy.v1.custom.allowedAnalysisProviders",
        )


# -- associations, templates, budgets ---------------------------------------------------------


def table_not_associated_twice(ctx: RequestContext, membership: Record, table_id: str) -> None:
    """A configured table is associated at most once per membership."""
    kind = "configured_table_association"
    for record in ctx.store.find(kind, membershipId=membership["id"], configuredTableId=table_id):
        if record["configuredTableId"] == table_id:
            raise conflict(
                f"configured table {table_id} is already associated with membership {membership['id']} "
                f"as {record['name']!r}",
                reason="ALREADY_EXISTS",
                resource_id=record["id"],
                resource_type="CONFIGURED_TABLE_ASSOCIATION",
            )


def unique_association_name(ctx: RequestContext, membership: Record, name: str) -> None:
    """Association names are the collaboration's table names, so they are unique in it."""
    clash = ctx.association_by_name(membership["collaborationId"], name)
    if clash is not None:
        raise conflict(
            f"a table named {name!r} already exists in collaboration {membership['collaborationId']}",
            reason="ALREADY_EXISTS",
            resource_id=clash["id"],
            resource_type="CONFIGURED_TABLE_ASSOCIATION",
        )


def templates_per_membership(ctx: RequestContext, membership: Record) -> None:
    """At most the quota of analysis templates per membership."""
    count = ctx.store.count("analysis_template", membershipId=membership["id"])
    within_quota(ctx, "Analysis templates per membership", count + 1)


def ongoing_queries_per_membership(ctx: RequestContext, membership: Record) -> None:
    """At most the quota of protected queries SUBMITTED or STARTED per membership."""
    ongoing = [
        r
        for r in ctx.store.find("protected_query", membershipId=membership["id"])
        if r["status"] in ("SUBMITTED", "STARTED")
    ]
    within_quota(ctx, "Concurrent ongoing queries per membership", len(ongoing) + 1)


def one_budget_template_per_collaboration(ctx: RequestContext, membership: Record) -> None:
    """Each collaboration has at most one privacy budget template."""
    existing = ctx.store.find("privacy_budget_template", collaborationId=membership["collaborationId"])
    if existing:
        raise conflict(
            f"collaboration {membership['collaborationId']} already has privacy budget template "
            f"{existing[0]['id']}; update it instead",
            reason="ALREADY_EXISTS",
            resource_id=existing[0]["id"],
        )


def budget_type_matches_parameters(budget_type: str, parameters: dict[str, Any] | None) -> None:
    """``privacyBudgetType`` names the same budget as the ``parameters`` union member."""
    if not parameters:
        return
    expected = {"DIFFERENTIAL_PRIVACY": "differentialPrivacy", "ACCESS_BUDGET": "accessBudget"}.get(
        budget_type
    )
    given = next(iter(parameters))
    if given != expected:
        raise validation(
            f"privacyBudgetType {budget_type} does not match parameters.{given}", field="parameters"
        )
