"""The emulated resource types as data, and the generic Create/Get/List/Update/Delete handlers.

Each ``EmulatedType`` says which AWS service serves it (``cleanrooms`` today; ``cleanroomsml``
types go in the same table), where a resource lives (per account, per membership, under a
configured table or an association), how its ARN is formed, which operations serve it, and
which small functions (``invariants``) run on create, update and delete. Field lists (what
Create copies, what Update may change, what Get and List return) come from the service model,
never from this file.

Records in the store (``kind -> id -> dict``) are in the API's output shape plus internal fields:
``_account`` (owning account) and ``_tags`` (tags, for TagResource/ListTagsForResource).
Analysis rules are keyed ``<parent id>/<TYPE>``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import sqlglot
from sqlglot import exp

from reconciler.aws_model import service_model
from reconciler.emulator import invariants
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import conflict, validation
from reconciler.emulator.registry import register
from reconciler.emulator.store import Record

__all__ = [
    "EMULATED_TYPES",
    "EmulatedType",
    "Scope",
    "listing",
    "new_id",
    "output_fields",
    "page",
    "register_types",
    "summary_fields",
]


class Scope(Enum):
    """Where a resource lives, which decides how it is found and who may touch it."""

    ACCOUNT = "account"
    MEMBERSHIP = "membership"
    TABLE_RULE = "table_rule"
    ASSOCIATION_RULE = "association_rule"


Build = Callable[[RequestContext, dict[str, Any], Record], dict[str, Any]]
Hook = Callable[[RequestContext, Record, dict[str, Any]], None]


@dataclass(frozen=True)
class EmulatedType:
    """One resource type of the API, as data.

    Attributes:
        name: its records' kind in the store (snake case).
        resource: the API's resource name (``Create<resource>`` etc.).
        id_param: the identifier member in Get/Update/Delete inputs.
        scope: where it lives (see ``Scope``).
        arn: ARN resource path template over the record (``{id}``, ``{membershipId}``), or None.
        resource_type: the value for errors' ``resourceType``: the model's enum has four values, so
            a kind it does not name (templates) gives the kind it lives in (``MEMBERSHIP``), an
            undocumented choice.
        build: create-time rules and derived fields: ``build(ctx, params, parent) -> fields``.
        on_update: update-time rules: ``on_update(ctx, record, changes)``.
        on_delete: delete-time rules: ``on_delete(ctx, record, {})``.
        cascade: store kinds whose records with ``<field> == id`` go with it, as ``(kind, field)``.
        service: the botocore name of the AWS service whose API serves it.
    """

    name: str
    resource: str
    id_param: str
    scope: Scope
    arn: str | None
    resource_type: str
    build: Build
    on_update: Hook | None = None
    on_delete: Hook | None = None
    cascade: tuple[tuple[str, str], ...] = field(default=())
    service: str = "cleanrooms"

    def op(self, verb: str) -> str | None:
        """``<verb><resource>`` if the model has it (List uses the plural)."""
        name = f"{verb}{self.resource}s" if verb == "List" else f"{verb}{self.resource}"
        return name if name in service_model(self.service).operation_names else None


def new_id() -> str:
    """A fresh resource id in AWS's format (a lower-case UUID)."""
    return str(uuid.uuid4())


def output_fields(operation: str, service: str = "cleanrooms") -> tuple[str, tuple[str, ...]]:
    """For a Create/Get/Update operation: the output member and the resource's member names."""
    shape = service_model(service).operation_model(operation).output_shape
    key, member = next(iter(shape.members.items()))
    return key, tuple(member.members)


def summary_fields(operation: str, service: str = "cleanrooms") -> tuple[str, tuple[str, ...]]:
    """For a List operation: the list member and the summary's member names."""
    shape = service_model(service).operation_model(operation).output_shape
    for key, member in shape.members.items():
        if member.type_name == "list":
            return key, tuple(member.member.members)
    raise ValueError(f"{operation} has no list output")


def input_fields(
    operation: str, *, exclude: Iterable[str] = ("tags",), service: str = "cleanrooms"
) -> tuple[str, ...]:
    """Body members of an operation's input (path/query members and ``exclude`` left out)."""
    shape = service_model(service).operation_model(operation).input_shape
    return tuple(
        name for name, m in shape.members.items() if "location" not in m.serialization and name not in exclude
    )


# -- pagination -------------------------------------------------------------------------------


def page(
    ctx: RequestContext, records: list[Record], params: dict[str, Any]
) -> tuple[list[Record], str | None]:
    """One page of ``records`` (already in order) per ``maxResults``/``nextToken``.

    The request's ``nextToken`` was checked before the handler ran (``tokens``): ``ctx.paging``
    says where this page starts and makes the token for the next one.
    """
    limit = params.get("maxResults") or _max_results(ctx)
    start = ctx.paging.start if ctx.paging is not None else 0
    chunk = records[start : start + limit]
    end = start + len(chunk)
    if end >= len(records) or ctx.paging is None:
        return chunk, None
    return chunk, ctx.paging.next_token(end)


def listing(
    ctx: RequestContext,
    records: list[Record],
    params: dict[str, Any],
    key: str,
    render: Callable[[Record], dict[str, Any]],
) -> dict[str, Any]:
    """A List operation's output: one page of ``records`` rendered under ``key``, plus ``nextToken``."""
    items, token = page(ctx, records, params)
    out: dict[str, Any] = {key: [render(r) for r in items]}
    if token:
        out["nextToken"] = token
    return out


def _max_results(ctx: RequestContext) -> int:
    member = ctx.operation.input_shape.members.get("maxResults")
    return int(member.metadata.get("max", 100)) if member is not None else 100


# -- build functions (create-time rules and derived fields) -----------------------------------


def _build_configured_table(ctx: RequestContext, params: dict[str, Any], parent: Record) -> dict[str, Any]:
    invariants.configured_tables_per_account(ctx)
    invariants.columns_per_allowlist(ctx, params["allowedColumns"])
    invariants.table_columns_unique(params["allowedColumns"])
    invariants.table_columns_in_catalog(ctx, params["tableReference"], params["allowedColumns"])
    reference = params["tableReference"]
    table_type = {"glue": "GLUE", "snowflake": "SNOWFLAKE", "athena": "ATHENA", "databricks": "DATABRICKS"}
    return {"analysisRuleTypes": [], "tableType": table_type.get(next(iter(reference)), "GLUE")}


def _update_configured_table(ctx: RequestContext, record: Record, changes: dict[str, Any]) -> None:
    if "allowedColumns" in changes:
        invariants.columns_per_allowlist(ctx, changes["allowedColumns"])
        invariants.table_columns_unique(changes["allowedColumns"])
        reference = changes.get("tableReference") or record["tableReference"]
        invariants.table_columns_in_catalog(ctx, reference, changes["allowedColumns"])
        rule = ctx.table_rule(record["id"])
        if rule is not None:
            policy = next(iter(rule["policy"]["v1"].values()))
            invariants.rule_columns_allowed({**record, **changes}, policy)


def _build_table_rule(ctx: RequestContext, params: dict[str, Any], table: Record) -> dict[str, Any]:
    rule_type = params["analysisRuleType"]
    policy = params["analysisRulePolicy"]
    invariants.analysis_rule_size(ctx, policy)
    invariants.rule_type_matches_policy(rule_type, policy)
    invariants.one_rule_per_table(ctx, table)
    _check_rule_policy(table, rule_type, policy)
    ctx.store.put("configured_table", table["id"], {**table, "analysisRuleTypes": [rule_type]})
    return {
        "configuredTableId": table["id"],
        "configuredTableArn": table["arn"],
        "type": rule_type,
        "policy": policy,
        "_account": table["_account"],
    }


def _check_rule_policy(table: Record, rule_type: str, policy: dict[str, Any]) -> None:
    body = policy["v1"][invariants.POLICY_MEMBER[rule_type]]
    invariants.rule_columns_allowed(table, body)
    invariants.rule_column_groups_disjoint(rule_type, body)
    invariants.analyses_or_providers(rule_type, body)


def _update_table_rule(ctx: RequestContext, record: Record, changes: dict[str, Any]) -> None:
    if "analysisRulePolicy" in changes:
        invariants.analysis_rule_size(ctx, changes["analysisRulePolicy"])
        invariants.rule_type_matches_policy(record["type"], changes["analysisRulePolicy"])
        table = ctx.configured_table(record["configuredTableId"]) or {}
        _check_rule_policy(table, record["type"], changes["analysisRulePolicy"])
        changes["policy"] = changes.pop("analysisRulePolicy")


def _delete_table_rule(ctx: RequestContext, record: Record, _: dict[str, Any]) -> None:
    table = ctx.configured_table(record["configuredTableId"])
    if table is not None:
        ctx.store.put("configured_table", table["id"], {**table, "analysisRuleTypes": []})


def _build_association(ctx: RequestContext, params: dict[str, Any], membership: Record) -> dict[str, Any]:
    table = ctx.own_configured_table(params["configuredTableIdentifier"])
    name = params["name"].lower()
    invariants.table_not_associated_twice(ctx, membership, table["id"])
    invariants.unique_association_name(ctx, membership, name)
    return {
        "name": name,
        "configuredTableId": table["id"],
        "configuredTableArn": table["arn"],
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "collaborationId": membership["collaborationId"],
        "analysisRuleTypes": [],
    }


def _build_association_rule(
    ctx: RequestContext, params: dict[str, Any], association: Record
) -> dict[str, Any]:
    rule_type = params["analysisRuleType"]
    policy = params["analysisRulePolicy"]
    invariants.analysis_rule_size(ctx, policy)
    invariants.rule_type_matches_policy(rule_type, policy)
    if ctx.association_rule(association["id"], rule_type) is not None:
        raise conflict(
            f"configured table association {association['id']} already has a {rule_type} analysis rule",
            reason="ALREADY_EXISTS",
            resource_id=association["id"],
            resource_type="CONFIGURED_TABLE_ASSOCIATION",
        )
    types = sorted({*association.get("analysisRuleTypes", []), rule_type})
    ctx.store.put(
        "configured_table_association", association["id"], {**association, "analysisRuleTypes": types}
    )
    return {
        "membershipIdentifier": association["membershipId"],
        "configuredTableAssociationId": association["id"],
        "configuredTableAssociationArn": association["arn"],
        "type": rule_type,
        "policy": policy,
        "_account": association["_account"],
    }


def _update_association_rule(ctx: RequestContext, record: Record, changes: dict[str, Any]) -> None:
    if "analysisRulePolicy" in changes:
        invariants.analysis_rule_size(ctx, changes["analysisRulePolicy"])
        invariants.rule_type_matches_policy(record["type"], changes["analysisRulePolicy"])
        changes["policy"] = changes.pop("analysisRulePolicy")


def _delete_association_rule(ctx: RequestContext, record: Record, _: dict[str, Any]) -> None:
    association = ctx.store.get("configured_table_association", record["configuredTableAssociationId"])
    if association is not None:
        types = [t for t in association.get("analysisRuleTypes", []) if t != record["type"]]
        ctx.store.put(
            "configured_table_association", association["id"], {**association, "analysisRuleTypes": types}
        )


def _build_analysis_template(
    ctx: RequestContext, params: dict[str, Any], membership: Record
) -> dict[str, Any]:
    invariants.templates_per_membership(ctx, membership)
    schema = params.get("schema") or {"referencedTables": _referenced_tables(params)}
    extra: dict[str, Any] = {}
    if params["format"] != "SQL":  # PySpark: AWS hashes the artifacts (and needs them to exist)
        if not params["source"].get("artifacts"):
            raise validation(f"a {params['format']} template needs source.artifacts", field="source")
        from reconciler.emulator.protected_jobs import artifact_metadata

        extra["sourceMetadata"] = artifact_metadata(ctx, params["source"])
    elif not params["source"].get("text"):
        raise validation("an SQL template needs source.text", field="source")
    return {
        **extra,
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "collaborationId": membership["collaborationId"],
        "collaborationArn": membership["collaborationArn"],
        "schema": schema,
    }


def _referenced_tables(params: dict[str, Any]) -> list[str]:
    """The tables an SQL template reads (as AWS derives ``schema.referencedTables``)."""
    text = params["source"].get("text")
    if params["format"] != "SQL" or not text:
        return []
    try:
        tree = sqlglot.parse_one(re.sub(r":(\w+)", r"'\1'", text), read="postgres")
    except sqlglot.errors.ParseError as exc:
        raise validation(
            f"the analysis template SQL cannot be parsed: {exc}", reason="INVALID_QUERY"
        ) from None
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    names = {t.name.lower() for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes}
    return sorted(names)


def _build_budget_template(ctx: RequestContext, params: dict[str, Any], membership: Record) -> dict[str, Any]:
    invariants.budget_type_matches_parameters(params["privacyBudgetType"], params["parameters"])
    invariants.one_budget_template_per_collaboration(ctx, membership)
    return {
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "collaborationId": membership["collaborationId"],
        "collaborationArn": membership["collaborationArn"],
        "autoRefresh": params.get("autoRefresh") or "CALENDAR_MONTH",
    }


def _update_budget_template(ctx: RequestContext, record: Record, changes: dict[str, Any]) -> None:
    if changes.get("privacyBudgetType") != record["privacyBudgetType"]:
        raise validation(
            f"privacyBudgetType {changes.get('privacyBudgetType')} does not match the template's "
            f"{record['privacyBudgetType']}",
            field="privacyBudgetType",
        )
    invariants.budget_type_matches_parameters(record["privacyBudgetType"], changes.get("parameters"))
    if changes.get("parameters"):
        key, update = next(iter(changes["parameters"].items()))
        merged = {**record["parameters"].get(key, {}), **update}
        changes["parameters"] = {key: merged}


def _build_audience_model_association(
    ctx: RequestContext, params: dict[str, Any], membership: Record
) -> dict[str, Any]:
    """A Clean Rooms ML configured audience model of the caller, made available to a collaboration."""
    hit = ctx.store.by_arn(params["configuredAudienceModelArn"])
    if hit is None or hit[0] != "configured_audience_model" or hit[1]["_account"] != ctx.account_id:
        raise validation(
            f"{params['configuredAudienceModelArn']} is not a configured audience model of account "
            f"{ctx.account_id}",
            field="configuredAudienceModelArn",
        )
    return {
        "name": params["configuredAudienceModelAssociationName"],
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "collaborationId": membership["collaborationId"],
        "collaborationArn": membership["collaborationArn"],
    }


def _delete_configured_table(ctx: RequestContext, record: Record, _: dict[str, Any]) -> None:
    invariants.table_not_associated(ctx, record)


# -- the table ----------------------------------------------------------------------------------

EMULATED_TYPES: dict[str, EmulatedType] = {
    k.name: k
    for k in (
        EmulatedType(
            name="configured_table",
            resource="ConfiguredTable",
            id_param="configuredTableIdentifier",
            scope=Scope.ACCOUNT,
            arn="configuredtable/{id}",
            resource_type="CONFIGURED_TABLE",
            build=_build_configured_table,
            on_update=_update_configured_table,
            on_delete=_delete_configured_table,
            cascade=(("configured_table_analysis_rule", "configuredTableId"),),
        ),
        EmulatedType(
            name="configured_table_analysis_rule",
            resource="ConfiguredTableAnalysisRule",
            id_param="analysisRuleType",
            scope=Scope.TABLE_RULE,
            arn=None,
            resource_type="CONFIGURED_TABLE",
            build=_build_table_rule,
            on_update=_update_table_rule,
            on_delete=_delete_table_rule,
        ),
        EmulatedType(
            name="configured_table_association",
            resource="ConfiguredTableAssociation",
            id_param="configuredTableAssociationIdentifier",
            scope=Scope.MEMBERSHIP,
            arn="membership/{membershipId}/configuredtableassociation/{id}",
            resource_type="CONFIGURED_TABLE_ASSOCIATION",
            build=_build_association,
            cascade=(("configured_table_association_analysis_rule", "configuredTableAssociationId"),),
        ),
        EmulatedType(
            name="configured_table_association_analysis_rule",
            resource="ConfiguredTableAssociationAnalysisRule",
            id_param="analysisRuleType",
            scope=Scope.ASSOCIATION_RULE,
            arn=None,
            resource_type="CONFIGURED_TABLE_ASSOCIATION",
            build=_build_association_rule,
            on_update=_update_association_rule,
            on_delete=_delete_association_rule,
        ),
        EmulatedType(
            name="analysis_template",
            resource="AnalysisTemplate",
            id_param="analysisTemplateIdentifier",
            scope=Scope.MEMBERSHIP,
            arn="membership/{membershipId}/analysistemplate/{id}",
            resource_type="MEMBERSHIP",
            build=_build_analysis_template,
        ),
        EmulatedType(
            name="privacy_budget_template",
            resource="PrivacyBudgetTemplate",
            id_param="privacyBudgetTemplateIdentifier",
            scope=Scope.MEMBERSHIP,
            arn="membership/{membershipId}/privacybudgettemplate/{id}",
            resource_type="MEMBERSHIP",
            build=_build_budget_template,
            on_update=_update_budget_template,
        ),
        EmulatedType(
            name="configured_audience_model_association",
            resource="ConfiguredAudienceModelAssociation",
            id_param="configuredAudienceModelAssociationIdentifier",
            scope=Scope.MEMBERSHIP,
            arn="membership/{membershipId}/configuredaudiencemodelassociation/{id}",
            resource_type="MEMBERSHIP",
            build=_build_audience_model_association,
        ),
    )
}


# -- generic handlers ---------------------------------------------------------------------------


def _parent(ctx: RequestContext, kind: EmulatedType, params: dict[str, Any], *, write: bool) -> Record:
    """The record a resource of ``kind`` lives under (the caller's), checked for the caller."""
    if kind.scope is Scope.ACCOUNT:
        return {}
    if kind.scope is Scope.MEMBERSHIP:
        return ctx.own_membership(params["membershipIdentifier"], active=write)
    if kind.scope is Scope.TABLE_RULE:
        return ctx.own_configured_table(params["configuredTableIdentifier"])
    membership = ctx.own_membership(params["membershipIdentifier"], active=write)
    aid = params["configuredTableAssociationIdentifier"]
    association = ctx.store.get("configured_table_association", aid)
    if association is None or association["membershipId"] != membership["id"]:
        raise ctx.missing("CONFIGURED_TABLE_ASSOCIATION", aid)
    return association


def _resolve(ctx: RequestContext, kind: EmulatedType, params: dict[str, Any], *, write: bool) -> Record:
    parent = _parent(ctx, kind, params, write=write)
    if kind.scope is Scope.ACCOUNT:
        return ctx.own_configured_table(params[kind.id_param])
    if kind.scope in (Scope.TABLE_RULE, Scope.ASSOCIATION_RULE):
        rid = f"{parent['id']}/{params['analysisRuleType']}"
        record = ctx.store.get(kind.name, rid)
        if record is None:
            raise ctx.missing(
                kind.resource_type, parent["id"], f"{params['analysisRuleType']} analysis rule of"
            )
        return record
    rid = params[kind.id_param]
    record = ctx.store.get(kind.name, rid)
    if record is None or record.get("membershipId") != parent["id"]:
        raise ctx.missing(kind.resource_type, rid, kind.resource)
    return record


def _record_id(kind: EmulatedType, record: Record) -> str:
    if kind.scope is Scope.TABLE_RULE:
        return f"{record['configuredTableId']}/{record['type']}"
    if kind.scope is Scope.ASSOCIATION_RULE:
        return f"{record['configuredTableAssociationId']}/{record['type']}"
    return str(record["id"])


def _creator(kind: EmulatedType) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    op = kind.op("Create")
    assert op is not None
    key, detail = output_fields(op, kind.service)
    copied = input_fields(op, service=kind.service)

    def create(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parent = _parent(ctx, kind, params, write=True)
        record: Record = {f: params[f] for f in copied if f in params and f not in ("analysisRuleType",)}
        record.pop("analysisRulePolicy", None)
        record.update(kind.build(ctx, params, parent))
        now = ctx.timestamp()
        record.setdefault("_account", ctx.account_id)
        record["createTime"] = now
        record["updateTime"] = now
        if kind.arn is not None:
            record["id"] = new_id()
            record["arn"] = ctx.arn(kind.arn.format(**record))
            record["_tags"] = dict(params.get("tags") or {})
        ctx.store.put(kind.name, _record_id(kind, record), record)
        return {key: ctx.view(record, detail)}

    return create


def _getter(kind: EmulatedType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    key, detail = output_fields(op, kind.service)

    def get(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {key: ctx.view(_resolve(ctx, kind, params, write=False), detail)}

    return get


def _lister(kind: EmulatedType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    key, summary = summary_fields(op, kind.service)

    def list_(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if kind.scope is Scope.ACCOUNT:
            records = ctx.store.find(kind.name, _account=ctx.account_id)
        else:
            membership = ctx.own_membership(params["membershipIdentifier"])
            records = ctx.store.find(kind.name, membershipId=membership["id"])
        return listing(ctx, records, params, key, lambda r: ctx.view(r, summary))

    return list_


def _updater(kind: EmulatedType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    key, detail = output_fields(op, kind.service)
    allowed = input_fields(op, service=kind.service) + (
        ("analysisRuleType",) if kind.scope is not Scope.ACCOUNT else ()
    )

    def update(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = _resolve(ctx, kind, params, write=True)
        changes = {f: params[f] for f in allowed if f in params and f != "analysisRuleType"}
        if kind.on_update is not None:
            kind.on_update(ctx, record, changes)
        changes.pop("privacyBudgetType", None)
        updated = {**record, **changes, "updateTime": ctx.timestamp()}
        ctx.store.put(kind.name, _record_id(kind, updated), updated)
        return {key: ctx.view(updated, detail)}

    return update


def _deleter(kind: EmulatedType) -> Callable[[RequestContext, dict[str, Any]], None]:
    def delete(ctx: RequestContext, params: dict[str, Any]) -> None:
        record = _resolve(ctx, kind, params, write=False)
        if kind.on_delete is not None:
            kind.on_delete(ctx, record, {})
        rid = _record_id(kind, record)
        for child_kind, parent_field in kind.cascade:
            for child in ctx.store.find(child_kind, **{parent_field: record["id"]}):
                ctx.store.delete(child_kind, _record_id(EMULATED_TYPES[child_kind], child))
        ctx.store.delete(kind.name, rid)

    return delete


def register_types(kinds: Iterable[EmulatedType]) -> None:
    """Register the generic Create/Get/List/Update/Delete handlers of ``kinds`` (rows of the table)."""
    for kind in kinds:
        for verb in ("Create", "Get", "List", "Update", "Delete"):
            op = kind.op(verb)
            if op is None:
                continue
            if verb == "Create":
                register(op, _creator(kind), service=kind.service)
            elif verb == "Get":
                register(op, _getter(kind, op), service=kind.service)
            elif verb == "List":
                register(op, _lister(kind, op), service=kind.service)
            elif verb == "Update":
                register(op, _updater(kind, op), service=kind.service)
            else:
                register(op, _deleter(kind), service=kind.service)


register_types(EMULATED_TYPES.values())
