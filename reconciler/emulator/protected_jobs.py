"""Protected jobs in the emulator: Start, Get, List, Update (cancel), and the PySpark run.

What AWS documents for jobs, enforced here:

- the caller is an ACTIVE member with ``CAN_RUN_JOB``; the job's template is a PYSPARK_1_0
  template of the same collaboration; its parameters are ones the template declares;
- the script runs only if its artifacts are unchanged: the S3 objects' sha256 must still be the
  ones recorded when the template was created ("failing any job where artifacts have been
  modified or removed");
- the script reads only the template's ``referencedTables``, each through its association, with
  its allowed columns only; every one must have a CUSTOM rule that allows the template (its ARN
  in ``allowedAnalyses``, or ``ANY_JOB`` with the caller among ``allowedAnalysisProviders`` when
  the rule names providers);
- results go to one receiver: the ``member`` of ``resultConfiguration`` (or, without one, the
  caller's own ``defaultJobResultConfiguration`` S3 location). The receiver must be an ACTIVE
  member with ``CAN_RECEIVE_RESULTS``, be allowed by every table's association rule
  (``allowedResultReceivers``), and be the template's creator (the user guide: "the member who
  creates the PySpark analysis template must also be the member who receives results"). A
  member receiver's files land at its membership's ``defaultJobResultConfiguration`` location
  (it must have one), under ``<keyPrefix>/<job id>/<result name>.csv``.

Where AWS is silent, the safer answer (said so in the README): a table with differential
privacy or ``disallowedOutputColumns`` refuses jobs (arbitrary code's output columns cannot be
checked, and AWS documents no noise for jobs); the script's own isolation (no network, no S3)
cannot be reproduced in-process (``engine.spark.jobs``).

Timing: Start records the job SUBMITTED; it runs when it is next read (Get or List), moving
SUBMITTED -> STARTED -> SUCCESS or FAILED within that request, so UpdateProtectedJob can cancel it
until then. Results are written to a staging directory and moved into place only on SUCCESS.

Record layout (kind ``protected_job``): the API's ``ProtectedJob`` shape plus ``_account``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from reconciler.aws_model import service_model
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import access_denied, conflict, validation
from reconciler.emulator.protected_queries import MASTER_VAR, _result_path
from reconciler.emulator.registry import operation
from reconciler.emulator.resource_types import listing
from reconciler.emulator.store import Record
from reconciler.engine.run import DataError
from reconciler.engine.spark.properties import PropertyError
from reconciler.engine.spark.properties import validate as validate_properties
from reconciler.errors import ReconcilerError

__all__ = ["KIND", "artifact_metadata", "s3_object"]

KIND = "protected_job"
_PYSPARK = frozenset(f for f in service_model().shape_for("AnalysisFormat").enum if f != "SQL")
_FINISHED = ("SUCCESS", "FAILED", "CANCELLED")
_SUMMARY_FIELDS = ("id", "membershipId", "membershipArn", "createTime", "status")


def JobRefused(message: str) -> DataError:  # noqa: N802 - reads as the error it makes
    """A job the collaboration's rules do not allow: it ends FAILED, reading no data."""
    return DataError(message, code="JOB_REFUSED")


def s3_object(root: Path, bucket: str, key: str) -> Path:
    """Where the local S3 stand-in keeps ``s3://bucket/key`` (always under ``root``)."""
    return _result_path(root, bucket, key)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _locations(source: dict[str, Any]) -> list[dict[str, str]]:
    artifacts = source["artifacts"]
    return [
        artifacts["entryPoint"]["location"],
        *[a["location"] for a in artifacts.get("additionalArtifacts") or []],
    ]


def artifact_metadata(ctx: RequestContext, source: dict[str, Any]) -> dict[str, Any]:
    """``sourceMetadata`` of a PySpark template: the sha256 of each artifact in the S3 stand-in.

    Raises:
        ServiceError: ValidationException when an artifact is not there (AWS reads them to hash).
    """
    hashes = []
    for location in _locations(source):
        path = s3_object(ctx.results_root, location["bucket"], location["key"])
        if not path.is_file():
            raise validation(
                f"artifact s3://{location['bucket']}/{location['key']} does not exist",
                field="source.artifacts",
            )
        hashes.append({"sha256": _sha256(path)})
    artifacts: dict[str, Any] = {"entryPointHash": hashes[0]}
    if hashes[1:]:
        artifacts["additionalArtifactHashes"] = hashes[1:]
    return {"artifacts": artifacts}


@operation("StartProtectedJob")
def start_protected_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record a SUBMITTED job after checking the caller, the template, parameters and output."""
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    collaboration_id = membership["collaborationId"]
    member = ctx.member(collaboration_id, ctx.account_id)
    if member is None or "CAN_RUN_JOB" not in member["abilities"]:
        raise access_denied(
            f"account {ctx.account_id} does not have the CAN_RUN_JOB ability in this collaboration"
        )
    job = params["jobParameters"]
    template = _template(ctx, job["analysisTemplateArn"], collaboration_id)
    declared = {p["name"] for p in template.get("analysisParameters") or []}
    unknown = sorted(set(job.get("parameters") or {}) - declared)
    if unknown:
        raise validation(
            f"parameters {', '.join(unknown)} are not declared by the analysis template",
            field="jobParameters",
        )
    if params.get("computeConfiguration"):
        try:
            validate_properties(_spark_properties(params))
        except PropertyError as exc:
            raise validation(str(exc), field=exc.field) from None
    output = _output(ctx, params, membership)
    job_id = str(uuid.UUID(int=uuid.uuid4().int))
    record: Record = {
        "id": job_id,
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "createTime": ctx.timestamp(),
        "jobParameters": job,
        "status": "SUBMITTED",
        "resultConfiguration": {"outputConfiguration": output},
        "_account": ctx.account_id,
    }
    if params.get("computeConfiguration"):
        record["computeConfiguration"] = params["computeConfiguration"]
    ctx.store.put(KIND, job_id, record)
    return {"protectedJob": _view(record)}


def _template(ctx: RequestContext, arn: str, collaboration_id: str) -> Record:
    found = ctx.store.by_arn(arn)
    if found is None or found[0] != "analysis_template" or found[1]["collaborationId"] != collaboration_id:
        raise validation(f"analysis template {arn} is not in this collaboration", field="jobParameters")
    if found[1]["format"] not in _PYSPARK:
        raise validation(
            f"analysis template {arn} is {found[1]['format']}: protected jobs run PySpark templates; "
            "run SQL templates with StartProtectedQuery",
            field="jobParameters",
        )
    return found[1]


def _output(ctx: RequestContext, params: dict[str, Any], membership: Record) -> dict[str, Any]:
    """The job's output: a member receiver, or the caller's default job result S3 location."""
    given = (params.get("resultConfiguration") or {}).get("outputConfiguration") or {}
    if "member" in given:
        return {"member": {"accountId": given["member"]["accountId"]}}
    default = membership.get("defaultJobResultConfiguration")
    if not default:
        raise validation(
            "no resultConfiguration was given and the membership has no defaultJobResultConfiguration",
            field="resultConfiguration",
        )
    s3 = default["outputConfiguration"]["s3"]
    return {"s3": {k: s3[k] for k in ("bucket", "keyPrefix") if k in s3}}


@operation("GetProtectedJob")
def get_protected_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The job as it stands; a SUBMITTED job runs now (see the module docstring)."""
    record = _own_job(ctx, params["membershipIdentifier"], params["protectedJobIdentifier"])
    return {"protectedJob": _view(_advance(ctx, record))}


@operation("ListProtectedJobs")
def list_protected_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Summaries of the membership's jobs, newest first, optionally filtered by status."""
    membership = ctx.own_membership(params["membershipIdentifier"])
    records = [_advance(ctx, r) for r in ctx.store.find(KIND, membershipId=membership["id"])]
    if params.get("status"):
        records = [r for r in records if r["status"] == params["status"]]
    records.sort(key=lambda r: (-r["createTime"], r["id"]))
    return listing(ctx, records, params, "protectedJobs", _summary)


@operation("UpdateProtectedJob")
def update_protected_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Cancel a job that has not finished (the only update AWS offers)."""
    record = _own_job(ctx, params["membershipIdentifier"], params["protectedJobIdentifier"])
    if record["status"] in _FINISHED:
        raise conflict(
            f"protected job {record['id']} is {record['status']} and can no longer be cancelled",
            reason="INVALID_STATE",
            resource_id=record["id"],
            resource_type="MEMBERSHIP",
        )
    record = {**record, "status": "CANCELLED"}
    ctx.store.put(KIND, record["id"], record)
    return {"protectedJob": _view(record)}


def _own_job(ctx: RequestContext, membership_id: str, job_id: str) -> Record:
    membership = ctx.own_membership(membership_id)
    record = ctx.store.get(KIND, job_id)
    if record is None or record["membershipId"] != membership["id"]:
        raise ctx.missing("MEMBERSHIP", job_id, "protected job")
    return record


# -- the run --------------------------------------------------------------------------------------


def _advance(ctx: RequestContext, record: Record) -> Record:
    """Run a SUBMITTED job to its end (SUCCESS or FAILED); other jobs are returned as they are."""
    if record["status"] != "SUBMITTED":
        return record
    ctx.store.put(KIND, record["id"], {**record, "status": "STARTED"})
    started = time.perf_counter()
    staging = ctx.results_root / ".staging" / f"job-{record['id']}"
    try:
        fields = _run(ctx, record, staging)
    except ReconcilerError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        code = exc.code if isinstance(exc, DataError) else "INTERNAL_ERROR"
        fields = {"status": "FAILED", "error": {"code": code, "message": exc.message}}
    fields["statistics"] = {"totalDurationInMillis": int((time.perf_counter() - started) * 1000)}
    ended = {**record, **fields}
    ctx.store.put(KIND, record["id"], ended)
    return ended


def _run(ctx: RequestContext, record: Record, staging: Path) -> dict[str, Any]:
    from reconciler.engine.spark import jobs
    from reconciler.engine.spark.session import DEFAULT_MASTER

    membership = ctx.membership(record["membershipId"])
    if membership is None:
        raise JobRefused("the job's membership no longer exists")
    collaboration_id = membership["collaborationId"]
    found = ctx.store.by_arn(record["jobParameters"]["analysisTemplateArn"])
    if found is None:
        raise JobRefused("the job's analysis template no longer exists")
    template = found[1]
    script = _verified_artifacts(ctx, template)
    output = record["resultConfiguration"]["outputConfiguration"]
    receiver = output["member"]["accountId"] if "member" in output else record["_account"]
    _check_receiver(ctx, collaboration_id, receiver, template)
    tables = _tables(ctx, collaboration_id, template, record["_account"], receiver)
    parameters = {
        p["name"]: p["defaultValue"] for p in template.get("analysisParameters") or [] if "defaultValue" in p
    }
    parameters.update(record["jobParameters"].get("parameters") or {})
    bucket, prefix, result = _destination(ctx, record, output, receiver)
    master = os.environ.get(MASTER_VAR, "").strip() or DEFAULT_MASTER
    written = jobs.run_entry_point(
        script, tables, parameters, staging, properties=_spark_properties(record), master=master
    )
    for name, path in written.items():
        key = "/".join(p for p in (prefix.strip("/"), record["id"], f"{name}.csv") if p)
        final = s3_object(ctx.results_root, bucket, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
    shutil.rmtree(staging, ignore_errors=True)
    return {"status": "SUCCESS", "result": result}


def _verified_artifacts(ctx: RequestContext, template: Record) -> Path:
    """The entry point's local path, after checking every artifact still has its recorded sha256."""
    recorded = template.get("sourceMetadata", {}).get("artifacts", {})
    expected = [recorded.get("entryPointHash", {}), *(recorded.get("additionalArtifactHashes") or [])]
    paths = []
    for location, want in zip(_locations(template["source"]), expected, strict=False):
        path = s3_object(ctx.results_root, location["bucket"], location["key"])
        if not path.is_file() or _sha256(path) != want.get("sha256"):
            raise JobRefused(
                f"artifact s3://{location['bucket']}/{location['key']} was modified or removed after the "
                "analysis template was created; AWS fails such jobs: create a new template"
            )
        paths.append(path)
    return paths[0]


def _check_receiver(ctx: RequestContext, collaboration_id: str, receiver: str, template: Record) -> None:
    member = ctx.member(collaboration_id, receiver)
    if member is None or member["status"] != "ACTIVE" or "CAN_RECEIVE_RESULTS" not in member["abilities"]:
        raise JobRefused(f"account {receiver} is not an active member that can receive results")
    if receiver != template["_account"]:
        raise JobRefused(
            f"account {receiver} did not create the analysis template; AWS requires the PySpark template's "
            "creator to be the member who receives its results"
        )


def _tables(
    ctx: RequestContext, collaboration_id: str, template: Record, caller: str, receiver: str
) -> list[Any]:
    """The referenced tables the job may read, each with its allowed columns (else JobRefused)."""
    from reconciler.engine.spark.jobs import JobTable

    by_name = {a["name"].lower(): a for a in ctx.associations(collaboration_id)}
    out = []
    for name in (template.get("schema") or {}).get("referencedTables") or []:
        association = by_name.get(name.lower())
        table = ctx.configured_table(association["configuredTableId"]) if association else None
        if association is None or table is None:
            raise JobRefused(f"table {name!r} is not associated to this collaboration")
        rule = ctx.table_rule(table["id"])
        policy = ((rule or {}).get("policy") or {}).get("v1", {}).get("custom")
        if policy is None:
            raise JobRefused(f"table {name!r} has no CUSTOM analysis rule; jobs read only tables with one")
        allowed = policy.get("allowedAnalyses") or []
        providers = policy.get("allowedAnalysisProviders") or []
        by_template = template["arn"] in allowed
        by_any_job = "ANY_JOB" in allowed and (not providers or caller in providers)
        if not (by_template or by_any_job):
            raise JobRefused(f"the analysis rule of table {name!r} does not allow this analysis template")
        if policy.get("differentialPrivacy") or policy.get("disallowedOutputColumns"):
            raise JobRefused(
                f"table {name!r} has differential privacy or disallowed output columns, which the local "
                "backend cannot enforce on a script's output: it refuses jobs on such tables"
            )
        association_rule = ctx.association_rule(association["id"])
        receivers = (((association_rule or {}).get("policy") or {}).get("v1", {}).get("custom") or {}).get(
            "allowedResultReceivers"
        )
        if receivers and receiver not in receivers:
            raise JobRefused(
                f"the association rule of table {name!r} does not allow {receiver} to receive results"
            )
        glue = table.get("tableReference", {}).get("glue", {})
        entry = ctx.catalog.lookup(table["_account"], glue.get("databaseName", ""), glue.get("tableName", ""))
        out.append(
            JobTable(association["name"], tuple(table["allowedColumns"]), str(entry.path) if entry else "")
        )
    return out


def _destination(
    ctx: RequestContext, record: Record, output: dict[str, Any], receiver: str
) -> tuple[str, str, dict[str, Any]]:
    """(bucket, key prefix, the API's ``result``) of where the job's files land."""
    if "s3" in output:
        s3 = output["s3"]
        prefix = "/".join(p for p in (s3.get("keyPrefix", "").strip("/"), record["id"]) if p)
        return (
            s3["bucket"],
            s3.get("keyPrefix", ""),
            {"output": {"s3": {"location": f"s3://{s3['bucket']}/{prefix}/"}}},
        )
    own = ctx.membership(record["membershipId"]) or {}
    memberships = [
        m
        for m in ctx.store.find("membership", collaborationId=own.get("collaborationId"))
        if m.get("_account") == receiver and m.get("status") == "ACTIVE"
    ]
    default = memberships[0].get("defaultJobResultConfiguration") if memberships else None
    if not default:
        raise JobRefused(
            f"the receiver {receiver} has no defaultJobResultConfiguration on its membership: its results "
            "would have nowhere to land"
        )
    s3 = default["outputConfiguration"]["s3"]
    return s3["bucket"], s3.get("keyPrefix", ""), {"output": {"memberList": [{"accountId": receiver}]}}


def _spark_properties(request: dict[str, Any]) -> dict[str, str]:
    worker = (request.get("computeConfiguration") or {}).get("worker") or {}
    found: dict[str, str] = (worker.get("properties") or {}).get("spark") or {}
    return found


def _view(record: Record) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}


def _summary(record: Record) -> dict[str, Any]:
    summary = {k: record[k] for k in _SUMMARY_FIELDS}
    output = record["resultConfiguration"]["outputConfiguration"]
    receivers = [output["member"]["accountId"]] if "member" in output else [record["_account"]]
    summary["receiverConfigurations"] = [
        {
            "analysisType": "DIRECT_ANALYSIS",
            "configurationDetails": {"directAnalysisConfigurationDetails": {"receiverAccountIds": receivers}},
        }
    ]
    return summary
