"""What members see of each other: collaboration-scoped views and schemas.

A member reads another member's analysis templates and privacy budget template only through
the ``*Collaboration*`` operations, and another member's tables only as schemas: one schema per
configured table association of an ACTIVE membership, named by the association, with the
configured table's allowed columns (types from the local Glue stand-in when the table is
registered there, else ``string``) and its analysis rule. Nothing here writes.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.context import RequestContext
from reconciler.emulator.registry import operation
from reconciler.emulator.resource_types import listing, output_fields, summary_fields
from reconciler.emulator.store import Record

__all__ = ["schema_of"]

_TEMPLATE_KEY, _TEMPLATE_FIELDS = output_fields("GetCollaborationAnalysisTemplate")
_TEMPLATE_LIST_KEY, _TEMPLATE_SUMMARY = summary_fields("ListCollaborationAnalysisTemplates")
_BUDGET_KEY, _BUDGET_FIELDS = output_fields("GetCollaborationPrivacyBudgetTemplate")
_BUDGET_LIST_KEY, _BUDGET_SUMMARY = summary_fields("ListCollaborationPrivacyBudgetTemplates")
_SCHEMA_KEY, _SCHEMA_FIELDS = output_fields("GetSchema")
_SCHEMA_LIST_KEY, _SCHEMA_SUMMARY = summary_fields("ListSchemas")
_RULE_KEY, _RULE_FIELDS = output_fields("GetSchemaAnalysisRule")


def _listed(
    ctx: RequestContext, records: list[Record], params: dict[str, Any], key: str, fields: Any
) -> dict[str, Any]:
    return listing(ctx, records, params, key, lambda r: ctx.view(r, fields))


def _shared(ctx: RequestContext, kind: str, collaboration_id: str) -> list[Record]:
    """Records of ``kind`` in the collaboration that belong to ACTIVE memberships, as members see them."""
    active = {
        m["id"] for m in ctx.store.find("membership", collaborationId=collaboration_id, status="ACTIVE")
    }
    return [
        {**r, "creatorAccountId": r["_account"]}
        for r in ctx.store.find(kind, collaborationId=collaboration_id)
        if r["membershipId"] in active
    ]


# -- analysis templates and privacy budget templates ------------------------------------------


@operation("GetCollaborationAnalysisTemplate")
def get_collaboration_analysis_template(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Any member's analysis template, by ARN."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    for record in _shared(ctx, "analysis_template", collaboration["id"]):
        if record["arn"] == params["analysisTemplateArn"]:
            return {_TEMPLATE_KEY: ctx.view(record, _TEMPLATE_FIELDS)}
    raise ctx.missing("COLLABORATION", params["analysisTemplateArn"], "analysis template")


@operation("ListCollaborationAnalysisTemplates")
def list_collaboration_analysis_templates(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Every member's analysis templates in the collaboration."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    records = _shared(ctx, "analysis_template", collaboration["id"])
    return _listed(ctx, records, params, _TEMPLATE_LIST_KEY, _TEMPLATE_SUMMARY)


@operation("BatchGetCollaborationAnalysisTemplate")
def batch_get_collaboration_analysis_template(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Several templates by ARN; unknown ARNs are reported in ``errors``, not raised."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    by_arn = {r["arn"]: r for r in _shared(ctx, "analysis_template", collaboration["id"])}
    found, errors = [], []
    for arn in params["analysisTemplateArns"]:
        if arn in by_arn:
            found.append(ctx.view(by_arn[arn], _TEMPLATE_FIELDS))
        else:
            errors.append(
                {"arn": arn, "code": "ResourceNotFoundException", "message": "analysis template not found"}
            )
    return {"collaborationAnalysisTemplates": found, "errors": errors}


@operation("GetCollaborationPrivacyBudgetTemplate")
def get_collaboration_privacy_budget_template(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The collaboration's privacy budget template, whoever created it."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    for record in _shared(ctx, "privacy_budget_template", collaboration["id"]):
        if record["id"] == params["privacyBudgetTemplateIdentifier"]:
            return {_BUDGET_KEY: ctx.view(record, _BUDGET_FIELDS)}
    raise ctx.missing("COLLABORATION", params["privacyBudgetTemplateIdentifier"], "privacy budget template")


@operation("ListCollaborationPrivacyBudgetTemplates")
def list_collaboration_privacy_budget_templates(
    ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    """The collaboration's privacy budget templates (at most one)."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    records = _shared(ctx, "privacy_budget_template", collaboration["id"])
    return _listed(ctx, records, params, _BUDGET_LIST_KEY, _BUDGET_SUMMARY)


# -- schemas --------------------------------------------------------------------------------


def schema_of(ctx: RequestContext, association: Record) -> dict[str, Any]:
    """The schema members see for one configured table association (API ``Schema`` shape)."""
    table = ctx.configured_table(association["configuredTableId"]) or {}
    rule = ctx.table_rule(table.get("id", ""))
    glue = table.get("tableReference", {}).get("glue")
    entry = (
        ctx.catalog.lookup(table.get("_account", ""), glue["databaseName"], glue["tableName"])
        if glue
        else None
    )
    types = entry.column_types if entry else {}
    collaboration = ctx.collaboration(association["collaborationId"]) or {}
    detail: dict[str, Any] = {"analysisType": "DIRECT_ANALYSIS"}
    if rule is None:
        detail |= {
            "status": "NOT_READY",
            "reasons": [
                {"code": "ANALYSIS_RULE_MISSING", "message": "the configured table has no analysis rule"}
            ],
        }
    else:
        detail |= {"status": "READY", "analysisRuleType": rule["type"]}
        if "differentialPrivacy" in rule["policy"]["v1"].get("custom", {}):
            detail["configurations"] = ["DIFFERENTIAL_PRIVACY"]
    return {
        "columns": [{"name": c, "type": types.get(c, "string")} for c in table.get("allowedColumns", [])],
        "partitionKeys": [],
        "analysisRuleTypes": [rule["type"]] if rule else [],
        "analysisMethod": table.get("analysisMethod"),
        "selectedAnalysisMethods": table.get("selectedAnalysisMethods"),
        "creatorAccountId": association["_account"],
        "name": association["name"],
        "collaborationId": association["collaborationId"],
        "collaborationArn": collaboration.get("arn"),
        "description": association.get("description", ""),
        "createTime": association["createTime"],
        "updateTime": max(association["updateTime"], table.get("updateTime", 0.0)),
        "type": "TABLE",
        "schemaStatusDetails": [detail],
        "resourceArn": association["arn"],
        "schemaTypeProperties": {
            "configuredTableAssociation": {"configuredTableAssociationId": association["id"]}
        },
    }


def _association(ctx: RequestContext, collaboration_id: str, name: str) -> Record:
    record = ctx.association_by_name(collaboration_id, name)
    if record is None:
        raise ctx.missing("CONFIGURED_TABLE_ASSOCIATION", name, "schema")
    return record


@operation("GetSchema")
def get_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """One table of the collaboration, by its association name."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    association = _association(ctx, collaboration["id"], params["name"])
    return {_SCHEMA_KEY: ctx.view(schema_of(ctx, association), _SCHEMA_FIELDS)}


@operation("ListSchemas")
def list_schemas(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Every table of the collaboration (only TABLE schemas exist locally)."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    schemas = [schema_of(ctx, a) for a in ctx.associations(collaboration["id"])]
    if params.get("schemaType"):
        schemas = [s for s in schemas if s["type"] == params["schemaType"]]
    return _listed(ctx, schemas, params, _SCHEMA_LIST_KEY, _SCHEMA_SUMMARY)


@operation("BatchGetSchema")
def batch_get_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Several schemas by name; unknown names are reported in ``errors``."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    found, errors = [], []
    for name in params["names"]:
        association = ctx.association_by_name(collaboration["id"], name)
        if association is None:
            errors.append(
                {"name": name, "code": "ResourceNotFoundException", "message": f"schema {name} not found"}
            )
        else:
            found.append(ctx.view(schema_of(ctx, association), _SCHEMA_FIELDS))
    return {"schemas": found, "errors": errors}


def _schema_rule(
    ctx: RequestContext, collaboration_id: str, name: str, rule_type: str
) -> dict[str, Any] | None:
    association = ctx.association_by_name(collaboration_id, name)
    if association is None:
        return None
    rule = ctx.table_rule(association["configuredTableId"])
    if rule is None or rule["type"] != rule_type:
        return None
    out = {
        "collaborationId": collaboration_id,
        "type": rule_type,
        "name": name,
        "createTime": rule["createTime"],
        "updateTime": rule["updateTime"],
        "policy": rule["policy"],
    }
    collaboration_rule = ctx.association_rule(association["id"], rule_type)
    if collaboration_rule is not None:
        out["collaborationPolicy"] = collaboration_rule["policy"]
    return out


@operation("GetSchemaAnalysisRule")
def get_schema_analysis_rule(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """A table's analysis rule (and its collaboration analysis rule), as members see it."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    rule = _schema_rule(ctx, collaboration["id"], params["name"], params["type"])
    if rule is None:
        raise ctx.missing(
            "CONFIGURED_TABLE_ASSOCIATION", f"{params['name']}/{params['type']}", "schema analysis rule"
        )
    return {_RULE_KEY: ctx.view(rule, _RULE_FIELDS)}


@operation("BatchGetSchemaAnalysisRule")
def batch_get_schema_analysis_rule(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Several schema analysis rules; missing ones are reported in ``errors``."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    found, errors = [], []
    for request in params["schemaAnalysisRuleRequests"]:
        rule = _schema_rule(ctx, collaboration["id"], request["name"], request["type"])
        if rule is None:
            message = f"no {request['type']} analysis rule on schema {request['name']}"
            errors.append({**request, "code": "ResourceNotFoundException", "message": message})
        else:
            found.append(ctx.view(rule, _RULE_FIELDS))
    return {"analysisRules": found, "errors": errors}
