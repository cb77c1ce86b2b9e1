"""The emulated Clean Rooms ML (``cleanroomsml``) resources as data, and their generic handlers.

``ML_TYPES`` holds one row per long-lived ML resource: its store kind, its API noun (the
operations are ``Create<noun>``, ``Get<noun>``, ``List<noun>s``, ``Update<noun>``,
``Delete<noun>`` where the model has them), the member that names it (``trainingDatasetArn``),
its ARN path, whether it lives in a membership, and the small functions that hold its rules.
Field lists (what Create copies, what Get and List return, what Update may change) come from
the service model, as for the ``cleanrooms`` types in ``resource_types``.

Other ML operations live beside it: ``ml_jobs`` (input channels running their protected query,
audience models trained by ``reconciler.ml.lookalike``, audience generation and export jobs,
and the custom-container training and inference jobs that cannot run here).

Differences from the ``cleanrooms`` API, as the model defines them: resources are named by ARN
(``arn:aws:cleanrooms-ml:REGION:ACCOUNT:training-dataset/ID``), and Get answers with the resource
itself, tags included. Records are the Get output's fields plus ``id``, ``arn``, ``_account``,
``_tags`` (TagResource and friends, registered here for this service too) and ``membershipId``
for resources inside a membership.

Choices where AWS is silent (the safer answer): an ML resource is visible to its owner only,
except through the ``*Collaboration*`` operations, which show the collaboration's members the
summary fields; a configured model algorithm, audience model or configured audience model still
in use (an association, a configured model, a running job) cannot be deleted (ConflictException).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.aws_model import service_model
from reconciler.emulator import tags
from reconciler.emulator.context import PRESENT, RequestContext
from reconciler.emulator.errors import access_denied, conflict, not_found, validation
from reconciler.emulator.registry import register
from reconciler.emulator.resource_types import listing, new_id
from reconciler.emulator.store import Record

__all__ = [
    "ML",
    "ML_TYPES",
    "MLResourceType",
    "arn",
    "may_use_audience_model",
    "owned",
    "render",
    "visible_membership",
]

ML = "cleanroomsml"

Build = Callable[[RequestContext, dict[str, Any], Record], dict[str, Any]]
Hook = Callable[[RequestContext, Record], None]


@dataclass(frozen=True)
class MLResourceType:
    """One Clean Rooms ML resource type, as data.

    Attributes:
        name: its records' kind in the store.
        noun: the API's resource name (``Create<noun>``...).
        arn_key: the member holding its ARN in inputs and outputs (``trainingDatasetArn``).
        arn_path: ARN resource path over the record (``training-dataset/{id}``).
        in_membership: it lives in the caller's membership (``membershipIdentifier`` inputs).
        build: create-time rules and derived fields: ``build(ctx, params, membership) -> fields``.
        on_update: update-time rules ``(ctx, record)`` on the updated record, before it is stored.
        on_delete: delete-time rules ``(ctx, record)``.
        status: the status a new one starts with (None: the output has no status).
    """

    name: str
    noun: str
    arn_key: str
    arn_path: str
    in_membership: bool
    build: Build
    on_update: Hook | None = None
    on_delete: Hook | None = None
    status: str | None = "ACTIVE"

    def op(self, verb: str) -> str | None:
        """``<verb><noun>`` (``List<noun>s``) if the model has it."""
        name = f"{verb}{self.noun}s" if verb == "List" else f"{verb}{self.noun}"
        return name if name in service_model(ML).operation_names else None


def arn(ctx: RequestContext, path: str) -> str:
    """``arn:aws:cleanrooms-ml:REGION:ACCOUNT:path`` for the caller."""
    return f"arn:aws:cleanrooms-ml:{ctx.region}:{ctx.account_id}:{path}"


def render(record: Record, fields: tuple[str, ...]) -> dict[str, Any]:
    """A record projected onto an output's fields (``tags`` from ``_tags``)."""
    out = {k: record[k] for k in fields if record.get(k) is not None}
    if "tags" in fields and "_tags" in record:
        out["tags"] = dict(record["_tags"])
    return out


def owned(ctx: RequestContext, kind: str, resource_arn: str, resource_type: str) -> Record:
    """The caller's ``kind`` record with this ARN (another account's looks absent, as on AWS)."""
    hit = ctx.store.by_arn(resource_arn)
    if hit is None or hit[0] != kind or hit[1].get("_account") != ctx.account_id:
        raise not_found(resource_type, resource_arn)
    return hit[1]


def visible_membership(ctx: RequestContext, collaboration_id: str) -> Record:
    """The caller's ACTIVE membership of a collaboration (AccessDenied when it has none)."""
    ctx.visible_collaboration(collaboration_id)
    for membership in ctx.store.find("membership", collaborationId=collaboration_id, status="ACTIVE"):
        if membership["_account"] == ctx.account_id:
            return membership
    raise access_denied(f"account {ctx.account_id} has no active membership in {collaboration_id}")


def may_use_audience_model(ctx: RequestContext, model: Record, action: str, collaboration_id: str) -> bool:
    """Whether the caller may ``action`` the configured audience model: its owner, an account its
    resource policy allows, or an active member of a collaboration it is associated with under
    ``manageResourcePolicies`` (Clean Rooms then keeps the policy for the collaboration's members).
    """
    if model["_account"] == ctx.account_id:
        return True
    policy = model.get("_policy")
    if policy and _policy_allows(json.loads(policy), ctx.account_id, action, model["arn"]):
        return True
    for assoc in ctx.store.find(
        "configured_audience_model_association", configuredAudienceModelArn=model["arn"]
    ):
        member = ctx.member(assoc["collaborationId"], ctx.account_id)
        if (
            assoc.get("manageResourcePolicies")
            and assoc["collaborationId"] == collaboration_id
            and member is not None
            and member["status"] in PRESENT
        ):
            return True
    return False


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _policy_allows(policy: dict[str, Any], account: str, action: str, resource: str) -> bool:
    """IAM-style evaluation of a resource policy: an explicit Deny wins, else any matching Allow."""
    allowed = False
    for statement in _listed(policy.get("Statement")):
        if not isinstance(statement, dict):
            continue
        principals = statement.get("Principal")
        accounts = _listed(principals.get("AWS")) if isinstance(principals, dict) else _listed(principals)
        who = any(p == "*" or p == account or p == f"arn:aws:iam::{account}:root" for p in accounts)
        does = any(fnmatch.fnmatchcase(action, str(a)) for a in _listed(statement.get("Action")))
        on = any(fnmatch.fnmatchcase(resource, str(r)) for r in _listed(statement.get("Resource", "*")))
        if who and does and on:
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


# -- build and delete rules ----------------------------------------------------------------------


def _build_plain(ctx: RequestContext, params: dict[str, Any], membership: Record) -> dict[str, Any]:
    return {}


def _build_audience_model(ctx: RequestContext, params: dict[str, Any], membership: Record) -> dict[str, Any]:
    owned(ctx, "training_dataset", params["trainingDatasetArn"], "TRAINING_DATASET")
    start, end = params.get("trainingDataStartTime"), params.get("trainingDataEndTime")
    if start is not None and end is not None and end <= start:
        raise validation(
            "trainingDataEndTime must be after trainingDataStartTime", field="trainingDataEndTime"
        )
    return {}  # trained when first read (ml_jobs.train_pending)


def _build_configured_audience_model(
    ctx: RequestContext, params: dict[str, Any], membership: Record
) -> dict[str, Any]:
    _check_audience_model(ctx, params["audienceModelArn"])
    return {"childResourceTagOnCreatePolicy": params.get("childResourceTagOnCreatePolicy") or "NONE"}


def _check_audience_model(ctx: RequestContext, model_arn: str) -> None:
    model = owned(ctx, "audience_model", model_arn, "AUDIENCE_MODEL")
    if model["status"] in ("CREATE_FAILED", "DELETE_PENDING"):
        raise validation(f"audience model {model_arn} is {model['status']}", field="audienceModelArn")


def _update_configured_audience_model(ctx: RequestContext, record: Record) -> None:
    _check_audience_model(ctx, record["audienceModelArn"])


def _build_algorithm_association(
    ctx: RequestContext, params: dict[str, Any], membership: Record
) -> dict[str, Any]:
    owned(
        ctx, "configured_model_algorithm", params["configuredModelAlgorithmArn"], "CONFIGURED_MODEL_ALGORITHM"
    )
    return {
        "collaborationIdentifier": membership["collaborationId"],
        "membershipIdentifier": membership["id"],
    }


def _in_use(ctx: RequestContext, record: Record, kind: str, field: str, what: str) -> None:
    if ctx.store.find(kind, **{field: record["arn"]}):
        raise conflict(
            f"{record['arn']} is still used by a {what}; delete that first",
            reason="SUBRESOURCES_EXIST",
            resource_id=record["arn"],
        )


def _delete_training_dataset(ctx: RequestContext, record: Record) -> None:
    _in_use(ctx, record, "audience_model", "trainingDatasetArn", "audience model")


def _delete_audience_model(ctx: RequestContext, record: Record) -> None:
    _in_use(ctx, record, "configured_audience_model", "audienceModelArn", "configured audience model")


def _delete_configured_audience_model(ctx: RequestContext, record: Record) -> None:
    _in_use(
        ctx,
        record,
        "configured_audience_model_association",
        "configuredAudienceModelArn",
        "collaboration association",
    )


def _delete_algorithm(ctx: RequestContext, record: Record) -> None:
    _in_use(
        ctx,
        record,
        "configured_model_algorithm_association",
        "configuredModelAlgorithmArn",
        "collaboration association",
    )


#: The long-lived ML resources served by the generic handlers below.
ML_TYPES: dict[str, MLResourceType] = {
    t.name: t
    for t in (
        MLResourceType(
            "training_dataset", "TrainingDataset", "trainingDatasetArn", "training-dataset/{id}", False,
            _build_plain, on_delete=_delete_training_dataset,
        ),
        MLResourceType(
            "audience_model", "AudienceModel", "audienceModelArn", "audience-model/{id}", False,
            _build_audience_model, on_delete=_delete_audience_model, status="CREATE_PENDING",
        ),
        MLResourceType(
            "configured_audience_model", "ConfiguredAudienceModel", "configuredAudienceModelArn",
            "configured-audience-model/{id}", False, _build_configured_audience_model,
            on_update=_update_configured_audience_model, on_delete=_delete_configured_audience_model,
        ),
        MLResourceType(
            "configured_model_algorithm", "ConfiguredModelAlgorithm", "configuredModelAlgorithmArn",
            "configured-model-algorithm/{id}", False, _build_plain, on_delete=_delete_algorithm, status=None,
        ),
        MLResourceType(
            "configured_model_algorithm_association", "ConfiguredModelAlgorithmAssociation",
            "configuredModelAlgorithmAssociationArn",
            "membership/{membershipId}/configured-model-algorithm-association/{id}", True,
            _build_algorithm_association, status=None,
        ),
    )
}  # fmt: skip


# -- generic handlers ----------------------------------------------------------------------------


def _fields(operation: str) -> tuple[str, ...]:
    shape = service_model(ML).operation_model(operation).output_shape
    return tuple(shape.members) if shape is not None else ()


def _summary_fields(operation: str) -> tuple[str, tuple[str, ...]]:
    shape = service_model(ML).operation_model(operation).output_shape
    key, member = next((k, m) for k, m in shape.members.items() if m.type_name == "list")
    return key, tuple(member.member.members)


def _input_fields(operation: str) -> tuple[str, ...]:
    shape = service_model(ML).operation_model(operation).input_shape
    return tuple(n for n, m in shape.members.items() if "location" not in m.serialization and n != "tags")


def _resolve(ctx: RequestContext, t: MLResourceType, params: dict[str, Any]) -> Record:
    record = owned(ctx, t.name, params[t.arn_key], t.name.upper())
    if t.in_membership:
        membership = ctx.own_membership(params["membershipIdentifier"])
        if record.get("membershipId") != membership["id"]:
            raise not_found(t.name.upper(), params[t.arn_key])
    return record


def _creator(t: MLResourceType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    copied = _input_fields(op)
    answer = _fields(op)

    def create(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        membership = (
            ctx.own_membership(params["membershipIdentifier"], active=True) if t.in_membership else {}
        )
        record: Record = {f: params[f] for f in copied if f in params}
        record.update(t.build(ctx, params, membership))
        now = ctx.timestamp()
        rid = new_id()
        record.update(id=rid, _account=ctx.account_id, createTime=now, updateTime=now)
        if membership:
            record["membershipId"] = membership["id"]
        record["arn"] = arn(ctx, t.arn_path.format(**record))
        record[t.arn_key] = record["arn"]
        record["_tags"] = dict(params.get("tags") or {})
        if t.status is not None:
            record["status"] = t.status
        ctx.store.put(t.name, rid, record)
        return render(record, answer)

    return create


def _getter(t: MLResourceType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    answer = _fields(op)

    def get(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return render(READ_HOOKS.get(t.name, _same)(ctx, _resolve(ctx, t, params)), answer)

    return get


def _lister(t: MLResourceType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    key, summary = _summary_fields(op)

    def list_(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if t.in_membership:
            membership = ctx.own_membership(params["membershipIdentifier"])
            records = ctx.store.find(t.name, membershipId=membership["id"])
        else:
            records = ctx.store.find(t.name, _account=ctx.account_id)
        hook = READ_HOOKS.get(t.name, _same)
        records = [hook(ctx, r) for r in records]
        return listing(ctx, records, params, key, lambda r: render(r, summary))

    return list_


def _updater(t: MLResourceType, op: str) -> Callable[[RequestContext, dict[str, Any]], dict[str, Any]]:
    allowed = _input_fields(op)
    answer = _fields(op)

    def update(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = _resolve(ctx, t, params)
        updated = {**record, **{f: params[f] for f in allowed if f in params}, "updateTime": ctx.timestamp()}
        if t.on_update is not None:
            t.on_update(ctx, updated)
        ctx.store.put(t.name, record["id"], updated)
        return render(updated, answer)

    return update


def _deleter(t: MLResourceType) -> Callable[[RequestContext, dict[str, Any]], None]:
    def delete(ctx: RequestContext, params: dict[str, Any]) -> None:
        record = _resolve(ctx, t, params)
        if t.on_delete is not None:
            t.on_delete(ctx, record)
        ctx.store.delete(t.name, record["id"])

    return delete


def _same(ctx: RequestContext, record: Record) -> Record:
    return record


#: Store kind -> what reading a record does first (an audience model trains on its first read).
READ_HOOKS: dict[str, Callable[[RequestContext, Record], Record]] = {}


# -- the configured audience model's policy and the membership's ML configuration -----------------


def _policy_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def put_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Set the resource policy, honouring ``previousPolicyHash`` and ``policyExistenceCondition``."""
    model = owned(
        ctx, "configured_audience_model", params["configuredAudienceModelArn"], "CONFIGURED_AUDIENCE_MODEL"
    )
    text = params["configuredAudienceModelPolicy"]
    try:
        document = json.loads(text)
    except ValueError:
        raise validation(
            "configuredAudienceModelPolicy is not a JSON policy document",
            field="configuredAudienceModelPolicy",
        ) from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise validation("the policy document needs a Statement", field="configuredAudienceModelPolicy")
    current = model.get("_policy")
    condition = params.get("policyExistenceCondition")
    if condition == "POLICY_MUST_EXIST" and current is None:
        raise conflict("the model has no policy yet", reason="INVALID_STATE", resource_id=model["arn"])
    if condition == "POLICY_MUST_NOT_EXIST" and current is not None:
        raise conflict("the model already has a policy", reason="INVALID_STATE", resource_id=model["arn"])
    previous = params.get("previousPolicyHash")
    if previous is not None and (current is None or _policy_hash(current) != previous):
        raise conflict("previousPolicyHash does not match the current policy", reason="INVALID_STATE")
    ctx.store.put("configured_audience_model", model["id"], {**model, "_policy": text})
    return {"configuredAudienceModelPolicy": text, "policyHash": _policy_hash(text)}


def get_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The configured audience model's resource policy (ResourceNotFound when it has none)."""
    model = owned(
        ctx, "configured_audience_model", params["configuredAudienceModelArn"], "CONFIGURED_AUDIENCE_MODEL"
    )
    if model.get("_policy") is None:
        raise not_found("CONFIGURED_AUDIENCE_MODEL", model["arn"], "policy of configured audience model")
    text = model["_policy"]
    return {
        "configuredAudienceModelArn": model["arn"],
        "configuredAudienceModelPolicy": text,
        "policyHash": _policy_hash(text),
    }


def delete_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Remove the resource policy."""
    model = owned(
        ctx, "configured_audience_model", params["configuredAudienceModelArn"], "CONFIGURED_AUDIENCE_MODEL"
    )
    if model.get("_policy") is None:
        raise not_found("CONFIGURED_AUDIENCE_MODEL", model["arn"], "policy of configured audience model")
    ctx.store.put(
        "configured_audience_model", model["id"], {k: v for k, v in model.items() if k != "_policy"}
    )


def put_ml_configuration(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Set the membership's default ML output location (one configuration per membership)."""
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    now = ctx.timestamp()
    known = ctx.store.get("ml_configuration", membership["id"])
    record = {
        "membershipIdentifier": membership["id"],
        "defaultOutputLocation": params["defaultOutputLocation"],
        "createTime": known["createTime"] if known else now,
        "updateTime": now,
        "_account": ctx.account_id,
    }
    ctx.store.put("ml_configuration", membership["id"], record)


def get_ml_configuration(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The membership's ML configuration (ResourceNotFound when none was put)."""
    membership = ctx.own_membership(params["membershipIdentifier"])
    record = ctx.store.get("ml_configuration", membership["id"])
    if record is None:
        raise not_found(None, membership["id"], "ML configuration of membership")
    return render(record, _fields("GetMLConfiguration"))


def delete_ml_configuration(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Remove the membership's ML configuration."""
    membership = ctx.own_membership(params["membershipIdentifier"])
    if ctx.store.get("ml_configuration", membership["id"]) is None:
        raise not_found(None, membership["id"], "ML configuration of membership")
    ctx.store.delete("ml_configuration", membership["id"])


# -- what the collaboration's members see --------------------------------------------------------


def collaboration_view(
    ctx: RequestContext, kind: str, arn_key: str, params: dict[str, Any], fields: tuple[str, ...]
) -> dict[str, Any]:
    """A membership-scoped ML resource as the collaboration's members see it."""
    ctx.visible_collaboration(params["collaborationIdentifier"])
    hit = ctx.store.by_arn(params[arn_key])
    if (
        hit is None
        or hit[0] != kind
        or hit[1].get("collaborationIdentifier") != params["collaborationIdentifier"]
    ):
        raise not_found(kind.upper(), params[arn_key])
    return render({**hit[1], "creatorAccountId": hit[1]["_account"]}, fields)


def collaboration_listing(
    ctx: RequestContext, kind: str, params: dict[str, Any], operation: str
) -> dict[str, Any]:
    """Summaries of a collaboration's ML resources of ``kind`` (members only)."""
    ctx.visible_collaboration(params["collaborationIdentifier"])
    key, summary = _summary_fields(operation)
    records = [
        {**r, "creatorAccountId": r["_account"]}
        for r in ctx.store.find(kind, collaborationIdentifier=params["collaborationIdentifier"])
    ]
    return listing(ctx, records, params, key, lambda r: render(r, summary))


def _shared_audience_association(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """``GetCollaborationConfiguredAudienceModelAssociation`` (a ``cleanrooms`` operation)."""
    ctx.visible_collaboration(params["collaborationIdentifier"])
    record = ctx.store.get(
        "configured_audience_model_association", params["configuredAudienceModelAssociationIdentifier"]
    )
    if record is None or record["collaborationId"] != params["collaborationIdentifier"]:
        raise not_found(
            None,
            params["configuredAudienceModelAssociationIdentifier"],
            "configured audience model association",
        )
    op = service_model("cleanrooms").operation_model(ctx.operation.name).output_shape
    key, shape = next(iter(op.members.items()))
    return {key: render({**record, "creatorAccountId": record["_account"]}, tuple(shape.members))}


def _shared_audience_associations(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """``ListCollaborationConfiguredAudienceModelAssociations`` (a ``cleanrooms`` operation)."""
    ctx.visible_collaboration(params["collaborationIdentifier"])
    op = service_model("cleanrooms").operation_model(ctx.operation.name).output_shape
    key, shape = next((k, m) for k, m in op.members.items() if m.type_name == "list")
    records = [
        {**r, "creatorAccountId": r["_account"]}
        for r in ctx.store.find(
            "configured_audience_model_association", collaborationId=params["collaborationIdentifier"]
        )
    ]
    return listing(ctx, records, params, key, lambda r: render(r, tuple(shape.member.members)))


def _handler(t: MLResourceType, verb: str, op: str) -> Callable[[RequestContext, dict[str, Any]], Any]:
    """The generic handler of ``verb`` for one ML resource type."""
    if verb == "Delete":
        return _deleter(t)
    makers = {"Create": _creator, "Get": _getter, "List": _lister, "Update": _updater}
    return makers[verb](t, op)


def _register() -> None:
    register("GetCollaborationConfiguredAudienceModelAssociation", _shared_audience_association)
    register("ListCollaborationConfiguredAudienceModelAssociations", _shared_audience_associations)
    for t in ML_TYPES.values():
        for verb in ("Create", "Get", "List", "Update", "Delete"):
            op = t.op(verb)
            if op is not None:
                register(op, _handler(t, verb, op), service=ML)
    for name, handler in (
        ("PutConfiguredAudienceModelPolicy", put_policy),
        ("GetConfiguredAudienceModelPolicy", get_policy),
        ("DeleteConfiguredAudienceModelPolicy", delete_policy),
        ("PutMLConfiguration", put_ml_configuration),
        ("GetMLConfiguration", get_ml_configuration),
        ("DeleteMLConfiguration", delete_ml_configuration),
        ("TagResource", tags.tag_resource),
        ("UntagResource", tags.untag_resource),
        ("ListTagsForResource", tags.list_tags_for_resource),
    ):
        register(name, handler, service=ML)
    fields = _fields("GetCollaborationConfiguredModelAlgorithmAssociation")
    register(
        "GetCollaborationConfiguredModelAlgorithmAssociation",
        lambda ctx, p: collaboration_view(
            ctx, "configured_model_algorithm_association", "configuredModelAlgorithmAssociationArn", p, fields
        ),
        service=ML,
    )
    register(
        "ListCollaborationConfiguredModelAlgorithmAssociations",
        lambda ctx, p: collaboration_listing(
            ctx,
            "configured_model_algorithm_association",
            p,
            "ListCollaborationConfiguredModelAlgorithmAssociations",
        ),
        service=ML,
    )


_register()
