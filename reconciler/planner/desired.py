"""desired: a loaded Stack -> the desired Resources, API-shaped and in normal form.

Each spec document becomes one or more Resources (see ``addresses`` for their addresses):

- a Collaboration -> ``collaboration`` (the whole CreateCollaboration request; its creator
  fields and initial ``members`` list are compared through the ``member`` resources) + one
  ``member`` per member (the creator included) + one ``membership`` per member whose
  ``membership`` the stack manages;
- a ConfiguredTable -> ``configured_table`` + ``analysis_rule`` + per association an
  ``association`` and, with a collaboration-level rule, an ``association_rule``;
- an AnalysisTemplate -> ``analysis_template``; a PrivacyBudgetTemplate -> ``privacy_budget_template``;
- the Clean Rooms ML documents -> their resources (``ml_desired``).
- ID namespace associations and ID mapping tables -> theirs (``id_desired``).

Logical names become Refs (``Ref(membership.retail.adtech)``, ``Ref(analysis_template..., "arn")``)
that apply resolves to ids and ARNs; member keys in policies become account ids (known from the
spec). Payment defaults follow the service model's documentation: when the creator names no
payer for query compute, the member who can query pays. Each DesiredResource carries the member key and
account that make its calls, its YAML location and ``lifecycle.preventDestroy``.

This module reads the spec models only; it does not validate (``reconciler.spec`` did).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from reconciler.planner import id_desired, ml_desired
from reconciler.planner.addresses import Address, Kind, parse
from reconciler.planner.moves import Move
from reconciler.planner.normal_form import canonical
from reconciler.planner.resource import DesiredResource, Ref
from reconciler.spec import (
    AnalysisTemplateSpec,
    CollaborationSpec,
    ConfiguredTableSpec,
    PrivacyBudgetTemplateSpec,
    Stack,
)

__all__ = ["moves", "resources", "table_region"]

#: Spec field name -> API field name, where the spec reads better than the API.
_RENAMES = {"abilities": "memberAbilities", "mlAbilities": "mlMemberAbilities"}
_TEMPLATE_RENAMES = {**_RENAMES, "parameters": "analysisParameters"}
_SPEC_ONLY = {"lifecycle", "credentials", "membership", "kind", "owner", "localData", "associations",
              "analysisRule", "collaboration", "creator", "members", "region", "existing",
              "collaborationId", "referencedTables", "source", "key"}  # fmt: skip


def _dump(model: BaseModel, *, renames: Mapping[str, str] = _RENAMES) -> dict[str, Any]:
    data = model.model_dump(exclude_none=True, exclude=_SPEC_ONLY)
    return {renames.get(k, k): v for k, v in data.items()}


class _Lookups:
    """Lookups across the stack: member keys -> accounts, names -> addresses."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.accounts: dict[str, str] = {}
        for collab in stack.collaborations:
            for key, member in collab.members.items():
                self.accounts.setdefault(key, member.accountId)
        self.templates: dict[tuple[str, str], Address] = {
            (t.collaboration, t.name): Address.of(Kind.ANALYSIS_TEMPLATE, t.collaboration, t.owner, t.name)
            for t in stack.analysis_templates
        }
        self.associations: dict[tuple[str, str], Address] = {
            (a.collaboration, a.name): Address.of(Kind.ASSOCIATION, a.collaboration, t.owner, a.name)
            for t in stack.configured_tables
            for a in t.associations
        }
        self.regions = {c.key: c.region for c in stack.collaborations}

    def table_region(self, table: ConfiguredTableSpec) -> str | None:
        """Where a configured table lives: the region of the collaborations it is associated to."""
        return table_region(self.stack, table)

    def account(self, key: str) -> str:
        return self.accounts.get(key, key)

    def resource(
        self, address: Address, attrs: Mapping[str, Any], node: BaseModel, owner: str, **extra: Any
    ) -> DesiredResource:
        lifecycle = getattr(node, "lifecycle", None)
        extra.setdefault("region", self.regions.get(address.collaboration or ""))
        return DesiredResource(
            address,
            canonical(address.kind, attrs),
            owner=owner,
            account_id=self.accounts.get(owner),
            source=self.stack.locate(node),
            prevent_destroy=bool(lifecycle and lifecycle.preventDestroy),
            **extra,
        )


def _payments(collab: CollaborationSpec) -> dict[str, dict[str, Any]]:
    """Each member's payment configuration, with the documented default payer filled in."""
    explicit = {
        k: m.paymentConfiguration.model_dump(exclude_none=True)
        for k, m in collab.members.items()
        if m.paymentConfiguration
    }
    anyone_pays = any(p.get("queryCompute", {}).get("isResponsible") for p in explicit.values())
    out = {}
    for key, member in collab.members.items():
        default = not anyone_pays and "CAN_QUERY" in member.abilities
        out[key] = explicit.get(key) or {"queryCompute": {"isResponsible": default}}
    return out


def _collaboration(ctx: _Lookups, collab: CollaborationSpec) -> Iterator[DesiredResource]:
    name = collab.key  # the address is the stable key; the API's name is an attribute like any other
    address = Address.of(Kind.COLLABORATION, name)
    ref = Ref(address)
    payments = _payments(collab)
    creator = collab.members[collab.creator]
    member_specs = {
        key: {
            "accountId": m.accountId,
            "displayName": m.displayName,
            "memberAbilities": list(m.abilities),
            "mlMemberAbilities": m.mlAbilities.model_dump() if m.mlAbilities else None,
            "paymentConfiguration": payments[key],
        }
        for key, m in collab.members.items()
    }
    attrs = {
        **_dump(collab),
        "members": [spec for key, spec in member_specs.items() if key != collab.creator],
        "creatorMemberAbilities": list(creator.abilities),
        "creatorMLMemberAbilities": member_specs[collab.creator]["mlMemberAbilities"],
        "creatorDisplayName": creator.displayName,
        "creatorPaymentConfiguration": payments[collab.creator],
    }
    yield ctx.resource(
        address, attrs, collab, collab.creator, existing=collab.existing, id=collab.collaborationId
    )
    for key, member in collab.members.items():
        member_address = Address.of(Kind.MEMBER, name, key)
        yield DesiredResource(
            member_address,
            canonical(Kind.MEMBER, {"collaborationIdentifier": ref, **member_specs[key]}),
            owner=collab.creator,
            account_id=creator.accountId,
            source=ctx.stack.locate(collab, "members", key, key=True),
            region=collab.region,
        )
        if member.membership is not None:
            m = member.membership
            membership = {
                "collaborationIdentifier": ref,
                **_dump(m),
                "paymentConfiguration": m.paymentConfiguration.model_dump(exclude_none=True)
                if m.paymentConfiguration
                else payments[key],
            }
            yield ctx.resource(Address.of(Kind.MEMBERSHIP, name, key), membership, m, key)


def _policy(ctx: _Lookups, rule_type: str, policy: Mapping[str, Any], collabs: list[str]) -> dict[str, Any]:
    """``analysisRulePolicy`` with member keys as account ids and template names as ARN Refs."""
    body = dict(policy)
    for field in ("allowedAnalysisProviders", "allowedResultReceivers"):
        if field in body:
            body[field] = [ctx.account(k) for k in body[field]]
    if "allowedAnalyses" in body:
        body["allowedAnalyses"] = [_template_arn(ctx, name, collabs) for name in body["allowedAnalyses"]]
    return {"v1": {rule_type.lower(): body}}


def _template_arn(ctx: _Lookups, name: str, collabs: list[str]) -> Any:
    for collab in collabs:
        if (collab, name) in ctx.templates:
            return Ref(ctx.templates[(collab, name)], "arn")
    return name  # ANY_QUERY, ANY_JOB, or an ARN written out


def _configured_table(ctx: _Lookups, table: ConfiguredTableSpec) -> Iterator[DesiredResource]:
    owner = table.owner
    address = Address.of(Kind.CONFIGURED_TABLE, owner, table.key)
    region = ctx.table_region(table)
    yield ctx.resource(address, _dump(table), table, owner, region=region)
    rule = table.analysisRule
    collabs = [a.collaboration for a in table.associations]
    rule_address = Address.of(Kind.ANALYSIS_RULE, owner, table.key)
    if rule is not None:
        policy = _policy(ctx, rule.type, rule.policy.model_dump(exclude_none=True), collabs)
        attrs = {
            "configuredTableIdentifier": Ref(address),
            "analysisRuleType": rule.type,
            "analysisRulePolicy": policy,
        }
        yield ctx.resource(rule_address, attrs, rule, owner, region=region)
    for assoc in table.associations:
        membership = Ref(Address.of(Kind.MEMBERSHIP, assoc.collaboration, owner))
        assoc_address = Address.of(Kind.ASSOCIATION, assoc.collaboration, owner, assoc.name)
        attrs = {
            **_dump(assoc),
            "membershipIdentifier": membership,
            "configuredTableIdentifier": Ref(address),
        }
        yield ctx.resource(assoc_address, attrs, assoc, owner)
        if assoc.analysisRule is not None and rule is not None:
            receivers = assoc.analysisRule.allowedResultReceivers or []
            attrs = {
                "membershipIdentifier": membership,
                "configuredTableAssociationIdentifier": Ref(assoc_address),
                "analysisRuleType": rule.type,
                "analysisRulePolicy": _policy(
                    ctx, rule.type, assoc.analysisRule.model_dump(exclude_none=True), [assoc.collaboration]
                ),
            }
            members = tuple(Address.of(Kind.MEMBER, assoc.collaboration, k) for k in receivers)
            yield ctx.resource(
                Address.of(Kind.ASSOCIATION_RULE, assoc.collaboration, owner, assoc.name),
                attrs,
                assoc.analysisRule,
                owner,
                depends_on=(rule_address, *members),
            )


def _template(ctx: _Lookups, template: AnalysisTemplateSpec) -> DesiredResource:
    collab = template.collaboration
    attrs = {
        **_dump(template, renames=_TEMPLATE_RENAMES),
        "membershipIdentifier": Ref(Address.of(Kind.MEMBERSHIP, collab, template.owner)),
        **_template_source(ctx, template),
        "schema": {"referencedTables": template.referencedTables} if template.referencedTables else None,
    }
    reads = tuple(
        ctx.associations[(collab, t)]
        for t in template.referencedTables or []
        if (collab, t) in ctx.associations
    )
    address = Address.of(Kind.ANALYSIS_TEMPLATE, collab, template.owner, template.name)
    return ctx.resource(address, attrs, template, template.owner, depends_on=reads)


def _template_source(ctx: _Lookups, template: AnalysisTemplateSpec) -> dict[str, Any]:
    """``source`` as the API takes it; a PySpark template's also ``sourceMetadata``, its files' hashes
    (compared with what AWS reports, so an edited script is a change, as an edited SQL file is)."""
    artifacts = template.source.artifacts
    if artifacts is None:
        return {"source": {"text": ctx.stack.template_sql(template) or template.source.text or ""}}
    source = artifacts.model_dump(exclude_none=True)
    source["entryPoint"].pop("file")
    for extra in source.get("additionalArtifacts", []):
        extra.pop("file")
    hashes = ctx.stack.template_artifacts(template)
    return {
        "source": {"artifacts": source},
        "sourceMetadata": hashes.source_metadata() if hashes is not None else None,
    }


def _budget(ctx: _Lookups, budget: PrivacyBudgetTemplateSpec) -> DesiredResource:
    collab = budget.collaboration
    params = budget.parameters.model_dump(exclude_none=True)
    access = params.get("accessBudget")
    if access is not None:
        target = ctx.associations.get((collab, access.pop("association")))
        access["resourceArn"] = Ref(target, "arn") if target else None
    attrs = {
        **_dump(budget),
        "membershipIdentifier": Ref(Address.of(Kind.MEMBERSHIP, collab, budget.owner)),
        "parameters": params,
    }
    return ctx.resource(
        Address.of(Kind.PRIVACY_BUDGET_TEMPLATE, collab, budget.owner), attrs, budget, budget.owner
    )


def resources(stack: Stack) -> list[DesiredResource]:
    """Every desired DesiredResource of a stack, sorted by Address.

    Args:
        stack: from ``reconciler.spec.load_stack`` (already validated).

    Returns:
        Resources in normal form, with Refs for references between them.
    """
    ctx = _Lookups(stack)
    out: list[DesiredResource] = []
    for collab in stack.collaborations:
        out.extend(_collaboration(ctx, collab))
    for table in stack.configured_tables:
        out.extend(_configured_table(ctx, table))
    out.extend(_template(ctx, t) for t in stack.analysis_templates)
    out.extend(_budget(ctx, b) for b in stack.privacy_budget_templates)
    out.extend(ml_desired.resources(ctx))
    out.extend(id_desired.resources(ctx))
    return sorted(out, key=lambda r: r.address)


def moves(stack: Stack) -> tuple[Move, ...]:
    """The stack's ``kind: Moved`` documents as Moves (validated: addresses parse, kinds match).

    Args:
        stack: from ``reconciler.spec.load_stack``.

    Returns:
        One Move per document, in file order.
    """
    return tuple(Move(parse(m.from_), parse(m.to), stack.locate(m)) for m in stack.moved)


def table_region(stack: Stack, table: ConfiguredTableSpec) -> str | None:
    """The region a configured table lives in: its (first) association's collaboration's.

    A table with no association lives where its owner's first collaboration does. A configured
    table is regional and can only be associated to collaborations of its own region (the
    ``table-regions`` check refuses a table associated across regions).

    Args:
        stack: the loaded spec.
        table: one of its configured tables.

    Returns:
        The region, or None when the stack names none for it.
    """
    regions = {c.key: c.region for c in stack.collaborations}
    for association in table.associations:
        if association.collaboration in regions:
            return regions[association.collaboration]
    return next((c.region for c in stack.collaborations if table.owner in c.members), None)
