"""The Clean Rooms ML jobs people run by hand: audience generation and export, input channel status.

These are not declared state (a job runs once), so they are commands rather than spec documents,
run as one member through the same boto3 clients as everything else (the local emulator or AWS):

- ``generate_audience``: StartAudienceGenerationJob on a configured audience model, seeded by an
  SQL file (a protected query in the collaboration, with Spark properties as its
  ``sqlComputeConfiguration``) or by JSON lines in S3, then GetAudienceGenerationJob until the
  job ends; every status it goes through is reported.
- ``export_audience``: StartAudienceExportJob for one of the model's audience sizes.
- ``input_channels``: the member's ML input channels in the stack's collaborations, with their
  status and the size of their dataset.

Names are the stack's: a configured audience model by its document name (or an ARN), a
collaboration by its name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.planner.addresses import Kind
from reconciler.workflow.workspace import Workspace

__all__ = ["AudienceRun", "export_audience", "generate_audience", "input_channels"]

_ML = "cleanroomsml"
_DONE = frozenset({"ACTIVE", "CREATE_FAILED", "DELETE_FAILED"})


@dataclass
class AudienceRun:
    """What an audience generation job did: its ARN, every status seen, and the last answer."""

    arn: str
    statuses: list[str] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.job.get("status") == "ACTIVE"


def _model_arn(ws: Workspace, model: str) -> str:
    if model.startswith("arn:"):
        return model
    state = ws.read()
    for resource in state:
        if resource.address.kind is Kind.CONFIGURED_AUDIENCE_MODEL and resource.address.part("name") == model:
            if resource.arn:
                return resource.arn
    raise ReconcilerError(
        f'no configured audience model "{model}" exists for stack {ws.name}',
        hint="apply the stack first, or give the model's ARN",
    )


def _collaboration_id(ws: Workspace, name: str) -> str:
    for resource in ws.read():
        if resource.address.kind is Kind.COLLABORATION and resource.address.part("collaboration") == name:
            if resource.id:
                return resource.id
    raise ReconcilerError(
        f'collaboration "{name}" of stack {ws.name} does not exist', hint="apply the stack first"
    )


def _caller(ws: Workspace, member: str) -> Callable[[str, Mapping[str, Any]], dict[str, Any]]:
    account = ws.backend.account_for(member, None)
    return lambda operation, params: ws.backend.call(account, operation, params, _ML)


def generate_audience(
    ws: Workspace,
    *,
    member: str,
    model: str,
    collaboration: str,
    name: str,
    role_arn: str,
    seed_sql: str | None = None,
    seed_s3: str | None = None,
    spark: Mapping[str, str] | None = None,
    include_seed: bool = False,
    poll_seconds: float = 10.0,
    timeout_seconds: float = 3600.0,
    on_status: Callable[[str], None] | None = None,
) -> AudienceRun:
    """Start an audience generation job as ``member`` and follow it until it ends.

    Args:
        ws: the open workspace (its backend answers).
        member: the member key that starts the job (the seed's owner).
        model: the configured audience model's name in the stack, or its ARN.
        collaboration: the collaboration's name (where the model is associated).
        name: the job's name.
        role_arn: the role Clean Rooms ML assumes to read the seed.
        seed_sql / seed_s3: the seed: an SQL query, or ``s3://`` JSON lines (exactly one).
        spark: Spark properties for the SQL seed's compute (``sqlComputeConfiguration``).
        include_seed: ``includeSeedInOutput``.
        poll_seconds, timeout_seconds: how often to ask, and for how long.
        on_status: told each new status.

    Raises:
        ReconcilerError: bad arguments, or the job did not end within ``timeout_seconds``.
    """
    if (seed_sql is None) == (seed_s3 is None):
        raise ReconcilerError("give exactly one seed: an SQL file or an s3:// location")
    seed: dict[str, Any] = {"roleArn": role_arn}
    if seed_sql is not None:
        seed["sqlParameters"] = {"queryString": seed_sql}
        if spark:
            seed["sqlComputeConfiguration"] = {
                "worker": {"type": "CR.1X", "number": 2, "properties": {"spark": dict(spark)}}
            }
    else:
        seed["dataSource"] = {"s3Uri": seed_s3}
    call = _caller(ws, member)
    started = call(
        "StartAudienceGenerationJob",
        {
            "name": name,
            "configuredAudienceModelArn": _model_arn(ws, model),
            "collaborationId": _collaboration_id(ws, collaboration),
            "seedAudience": seed,
            "includeSeedInOutput": include_seed,
        },
    )
    run = AudienceRun(str(started["audienceGenerationJobArn"]))
    deadline = time.monotonic() + timeout_seconds
    while True:
        answer = call("GetAudienceGenerationJob", {"audienceGenerationJobArn": run.arn})
        run.job = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
        status = str(run.job.get("status"))
        if not run.statuses or run.statuses[-1] != status:
            run.statuses.append(status)
            if on_status is not None:
                on_status(status)
        if status in _DONE:
            return run
        if time.monotonic() > deadline:
            raise ReconcilerError(
                f"audience generation job {run.arn} is still {status} after {timeout_seconds:g} s",
                hint="follow it with `aws cleanroomsml get-audience-generation-job`, or run this again later",
            )
        time.sleep(poll_seconds)


def export_audience(
    ws: Workspace, *, member: str, job: str, name: str, size: int, size_type: str
) -> dict[str, Any]:
    """Start an export of the first ``size`` users of a generated audience; its list entry."""
    call = _caller(ws, member)
    call(
        "StartAudienceExportJob",
        {"name": name, "audienceGenerationJobArn": job, "audienceSize": {"type": size_type, "value": size}},
    )
    exports = call("ListAudienceExportJobs", {"audienceGenerationJobArn": job})["audienceExportJobs"]
    return next((dict(e) for e in exports if e["name"] == name), {})


def input_channels(ws: Workspace, *, member: str) -> list[dict[str, Any]]:
    """The member's ML input channels in the stack's collaborations (each read with a Get)."""
    call = _caller(ws, member)
    out = []
    for resource in ws.read():
        if resource.address.kind is not Kind.MEMBERSHIP or resource.owner != member or not resource.id:
            continue
        listed = call("ListMLInputChannels", {"membershipIdentifier": resource.id})["mlInputChannelsList"]
        for summary in listed:
            got = call(
                "GetMLInputChannel",
                {"membershipIdentifier": resource.id, "mlInputChannelArn": summary["mlInputChannelArn"]},
            )
            out.append({"collaboration": resource.address.part("collaboration"), **got})
    return out
