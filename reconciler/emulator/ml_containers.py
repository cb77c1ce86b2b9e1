"""Custom-container Clean Rooms ML: trained models, inference jobs, model exports (control plane only).

Training and inference on a configured model algorithm run the member's own container images,
and the local backend has no container engine. So their control plane is emulated (who may
start what, in which membership, what Get and List return, cancelling, deleting) and every
start ends CREATE_FAILED with a status message saying that container training (or inference)
does not run locally. It never reports a success it did not compute; a trained model that
never trained cannot be exported (ValidationException).
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import ml_resources as mr
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import conflict, not_found, validation
from reconciler.emulator.registry import register
from reconciler.emulator.resource_types import listing, new_id
from reconciler.emulator.store import Record

__all__ = ["NOT_LOCAL"]

#: The message every container job ends with.
NOT_LOCAL = (
    "custom container {what} does not run in the local backend (it has no container engine); "
    "run it on AWS with --backend aws"
)
_MODEL, _INFERENCE = "trained_model", "trained_model_inference_job"


def _failed(what: str) -> dict[str, Any]:
    return {
        "status": "CREATE_FAILED",
        "statusDetails": {"statusCode": "NOT_SUPPORTED_LOCALLY", "message": NOT_LOCAL.format(what=what)},
    }


def _algorithm_association(ctx: RequestContext, membership: Record, association_arn: str) -> Record:
    hit = ctx.store.by_arn(association_arn)
    if (
        hit is None
        or hit[0] != "configured_model_algorithm_association"
        or hit[1]["collaborationIdentifier"] != membership["collaborationId"]
    ):
        raise validation(f"{association_arn} is not an algorithm association of this collaboration")
    return hit[1]


def _new(ctx: RequestContext, kind: str, membership: Record, params: dict[str, Any], path: str) -> Record:
    copied = mr._input_fields(ctx.operation.name)
    rid = new_id()
    now = ctx.timestamp()
    record: Record = {
        **{k: params[k] for k in copied if k in params},
        "id": rid,
        "membershipId": membership["id"],
        "membershipIdentifier": membership["id"],
        "collaborationIdentifier": membership["collaborationId"],
        "createTime": now,
        "updateTime": now,
        "_account": ctx.account_id,
        "_tags": dict(params.get("tags") or {}),
    }
    record["arn"] = mr.arn(ctx, f"membership/{membership['id']}/{path}/{rid}")
    return record


def create_trained_model(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record the training job; it ends CREATE_FAILED at once (containers do not run here)."""
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    _algorithm_association(ctx, membership, params["configuredModelAlgorithmAssociationArn"])
    record = _new(ctx, _MODEL, membership, params, "trained-model")
    record.update(trainedModelArn=record["arn"], versionIdentifier=new_id(), **_failed("training"))
    ctx.store.put(_MODEL, record["id"], record)
    return {"trainedModelArn": record["arn"], "versionIdentifier": record["versionIdentifier"]}


def _own(ctx: RequestContext, kind: str, params: dict[str, Any], arn_key: str) -> Record:
    membership = ctx.own_membership(params["membershipIdentifier"])
    record = mr.owned(ctx, kind, params[arn_key], kind.upper())
    if record["membershipId"] != membership["id"]:
        raise not_found(kind.upper(), params[arn_key])
    version = params.get("versionIdentifier") or params.get("trainedModelVersionIdentifier")
    if version is not None and record.get("versionIdentifier") not in (None, version):
        raise not_found(kind.upper(), f"{params[arn_key]} version {version}")
    return record


def _listing(ctx: RequestContext, kind: str, params: dict[str, Any], operation: str) -> dict[str, Any]:
    membership = ctx.own_membership(params["membershipIdentifier"])
    key, summary = mr._summary_fields(operation)
    records = [
        r
        for r in ctx.store.find(kind, membershipId=membership["id"])
        if params.get("trainedModelArn") in (None, r.get("trainedModelArn"))
        and params.get("status") in (None, r.get("status"))
    ]
    return listing(ctx, records, params, key, lambda r: mr.render(r, summary))


def _cancel(ctx: RequestContext, kind: str, params: dict[str, Any], arn_key: str) -> None:
    record = _own(ctx, kind, params, arn_key)
    raise conflict(
        f"{record['arn']} is {record['status']} and can no longer be cancelled",
        reason="INVALID_STATE",
        resource_id=record["arn"],
    )


def delete_trained_model_output(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Delete the trained model (it has no artifacts locally: it never trained)."""
    record = _own(ctx, _MODEL, params, "trainedModelArn")
    ctx.store.delete(_MODEL, record["id"])


def start_inference(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record the inference job; it ends CREATE_FAILED at once (containers do not run here)."""
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    model = mr.owned(ctx, _MODEL, params["trainedModelArn"], "TRAINED_MODEL")
    if model["collaborationIdentifier"] != membership["collaborationId"]:
        raise validation(f"{params['trainedModelArn']} is not a trained model of this collaboration")
    if params.get("configuredModelAlgorithmAssociationArn"):
        _algorithm_association(ctx, membership, params["configuredModelAlgorithmAssociationArn"])
    record = _new(ctx, _INFERENCE, membership, params, "trained-model-inference-job")
    record.update(trainedModelInferenceJobArn=record["arn"], **_failed("inference"))
    ctx.store.put(_INFERENCE, record["id"], record)
    return {"trainedModelInferenceJobArn": record["arn"]}


def start_model_export(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Refused: a trained model that never trained has nothing to export."""
    record = _own(ctx, _MODEL, params, "trainedModelArn")
    raise validation(
        f"trained model {record['arn']} is {record['status']}: it has no artifacts to export "
        "(custom container training does not run in the local backend)"
    )


def _register() -> None:
    ml = mr.ML
    handlers: dict[str, Any] = {
        "CreateTrainedModel": create_trained_model,
        "GetTrainedModel": lambda ctx, p: mr.render(
            _own(ctx, _MODEL, p, "trainedModelArn"), mr._fields("GetTrainedModel")
        ),
        "ListTrainedModels": lambda ctx, p: _listing(ctx, _MODEL, p, "ListTrainedModels"),
        "ListTrainedModelVersions": lambda ctx, p: _listing(ctx, _MODEL, p, "ListTrainedModelVersions"),
        "CancelTrainedModel": lambda ctx, p: _cancel(ctx, _MODEL, p, "trainedModelArn"),
        "DeleteTrainedModelOutput": delete_trained_model_output,
        "StartTrainedModelExportJob": start_model_export,
        "StartTrainedModelInferenceJob": start_inference,
        "GetTrainedModelInferenceJob": lambda ctx, p: mr.render(
            _own(ctx, _INFERENCE, p, "trainedModelInferenceJobArn"), mr._fields("GetTrainedModelInferenceJob")
        ),
        "ListTrainedModelInferenceJobs": lambda ctx, p: _listing(
            ctx, _INFERENCE, p, "ListTrainedModelInferenceJobs"
        ),
        "CancelTrainedModelInferenceJob": lambda ctx, p: _cancel(
            ctx, _INFERENCE, p, "trainedModelInferenceJobArn"
        ),
        "GetCollaborationTrainedModel": lambda ctx, p: mr.collaboration_view(
            ctx, _MODEL, "trainedModelArn", p, mr._fields("GetCollaborationTrainedModel")
        ),
        "ListCollaborationTrainedModels": lambda ctx, p: mr.collaboration_listing(
            ctx, _MODEL, p, "ListCollaborationTrainedModels"
        ),
        "ListCollaborationTrainedModelInferenceJobs": lambda ctx, p: mr.collaboration_listing(
            ctx, _INFERENCE, p, "ListCollaborationTrainedModelInferenceJobs"
        ),
        # no export ever succeeds locally, so a collaboration's export jobs are always none
        "ListCollaborationTrainedModelExportJobs": lambda ctx, p: mr.collaboration_listing(
            ctx, "trained_model_export_job", p, "ListCollaborationTrainedModelExportJobs"
        ),
    }
    for name, handler in handlers.items():
        register(name, handler, service=ml)


_register()
