"""Protected queries in the emulator: Start, Get, List and Update (cancel), and the run itself.

``StartProtectedQuery`` checks the caller (an ACTIVE member who can query), the membership's
quota of ongoing queries, and that the output is complete, and records the query as SUBMITTED.
The query then runs off the request path, as on AWS: the emulator's ``QueryRunner``
(``query_runner``) moves it SUBMITTED -> STARTED (``begin``), runs it (``prepare_run`` under the
store lock, then ``execute`` without it) and ends it SUCCESS or FAILED (``finish``). Meanwhile
``UpdateProtectedQuery`` may cancel it (CANCELLED: a run that was under way is thrown away), and
a query not finished within the runner's timeout of its creation ends TIMED_OUT (checked when
the runner picks it up, when it finishes, and whenever Get or List reads it). Clients poll
GetProtectedQuery until the status is final, as they do on AWS.

Running means: gather the collaboration's associations, rules and the Glue stand-in's files into
engine facts, check the query with ``reconciler.engine.check`` (a refusal makes the query FAILED
with the reason and fragment in ``error``, and reads no data), execute it, and write the result
as CSV or Parquet under ``results_root/BUCKET/KEY_PREFIX/<query id>/``: first into
``results_root/.staging/<query id>/``, moved into place only when the query ends SUCCESS (a
bucket name cannot start with a dot, so the staging area is no bucket's). When the membership's
query log is ENABLED, each finished query appends one JSON line to
``results_root/query-logs/<membership>.jsonl``.

Privacy budgets: StartProtectedQuery also checks the query against the rules, synchronously and
without reading data. A query the rules allow is admitted against the budgets it uses
(``privacy_budgets.admit_protected_query``: the DIFFERENTIAL_PRIVACY budget for the aggregates
of a query over tables with differential privacy, and the ACCESS_BUDGET of every table it
reads). When a budget is short, StartProtectedQuery answers ValidationException and nothing is
recorded or spent. An admitted query stays charged whatever happens next (failure,
cancellation, timeout): refunds would make errors a free probe. A refused query is charged
nothing and becomes FAILED when it runs. A query over DP tables runs with the
usersNoisePerQuery it was charged with, with noise from ``noise_source`` (the CSPRNG; only tests
replace it, and no request can), and its ``differentialPrivacy`` holds the chosen sensitivity
parameters. Its text may be at most the quota "Query text length (with differential privacy)".

A query that could not be checked when it started (its data was missing, say) was charged
nothing, so it never runs later even if it would pass then: it ends FAILED with the reason.

The check runs once per query, at Start: its outcome (the prepared statement, or the refusal)
is kept in memory by query id and reused when the query runs; only a query started by another
process is checked again when it runs. A FAILED query's ``error.code`` is one of the values the
model documents for ``ProtectedQueryError.code`` (MALFORMED_QUERY for a refusal, RESOURCE_NOT_FOUND for
missing data, INSUFFICIENT_COMPUTE for a run over the engine's time, memory or row limits,
INTERNAL_ERROR for a bug), always with ``retry.retryable``. Result files stay under
``results_root``: a key prefix is an S3 key, not a path, so segments such as ``..`` are written as
escaped names (``%2E%2E``) rather than followed.

Record layout (kind ``protected_query``): the API's ``ProtectedQuery`` shape plus ``_account``,
``_admitted`` once charged, and ``_usersNoisePerQuery`` when charged to a DP budget.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import engine
from reconciler.aws_model import documented_values
from reconciler.dp import NoiseSource
from reconciler.emulator import id_mapping, invariants
from reconciler.emulator.collaborations import DEFAULT_ENGINE
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import ServiceError, access_denied, conflict, validation
from reconciler.emulator.privacy_budgets import admit_protected_query
from reconciler.emulator.registry import operation
from reconciler.emulator.resource_types import listing
from reconciler.emulator.store import Record
from reconciler.engine import templates
from reconciler.engine.spark.properties import PropertyError, validate
from reconciler.engine.verdict import refuse
from reconciler.errors import QueryRejected, ReconcilerError

__all__ = [
    "FINISHED",
    "KIND",
    "RunOutcome",
    "Run",
    "begin",
    "execute",
    "expire",
    "fail",
    "finish",
    "noise_source",
    "prepare_run",
]

#: The store kind of protected queries.
KIND = "protected_query"
#: The check's outcome per query id, from Start to the run (this process only).
_CHECKED: dict[str, engine.Prepared | QueryRejected | ReconcilerError] = {}
_CHECKED_MAX = 10_000
#: Statuses after which a protected query never changes again.
FINISHED = ("SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT")
_SUMMARY_FIELDS = ("id", "membershipId", "membershipArn", "createTime", "status")
#: The codes the model documents for ``ProtectedQueryError.code`` (a failure's code is one of them).
ERROR_CODES = frozenset(documented_values("ProtectedQueryError", "code"))


@operation("StartProtectedQuery")
def start_protected_query(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record a SUBMITTED query after checking the caller may query and the output is complete."""
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    member = ctx.member(membership["collaborationId"], ctx.account_id)
    if member is None or "CAN_QUERY" not in member["abilities"]:
        raise access_denied(
            f"account {ctx.account_id} does not have the CAN_QUERY ability in this collaboration"
        )
    sql = params["sqlParameters"]
    if not sql.get("queryString") and not sql.get("analysisTemplateArn"):
        raise validation("sqlParameters needs a queryString or an analysisTemplateArn", field="sqlParameters")
    result_configuration = params.get("resultConfiguration") or membership.get("defaultResultConfiguration")
    if not result_configuration:
        raise validation(
            "no resultConfiguration was given and the membership has no defaultResultConfiguration",
            field="resultConfiguration",
        )
    invariants.ongoing_queries_per_membership(ctx, membership)
    query_id = str(uuid.UUID(int=uuid.uuid4().int))
    record: Record = {
        "id": query_id,
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "createTime": ctx.timestamp(),
        "sqlParameters": sql,
        "status": "SUBMITTED",
        "resultConfiguration": {"outputConfiguration": result_configuration["outputConfiguration"]},
        "_account": ctx.account_id,
    }
    if params.get("computeConfiguration"):
        try:
            validate(_spark_properties(params))
        except PropertyError as exc:
            raise validation(str(exc), field=exc.field) from None
        record["computeConfiguration"] = params["computeConfiguration"]
    record.update(_admit(ctx, record, membership["collaborationId"]))
    ctx.store.put(KIND, query_id, record)
    if ctx.queries is not None:
        ctx.queries.wake()
    return {"protectedQuery": _view(record)}


def _admit(ctx: RequestContext, record: Record, collaboration_id: str) -> dict[str, Any]:
    """Charge the budgets of a query the rules allow; returns what the run must remember.

    A query the rules refuse (or that cannot be checked yet) is charged nothing here: it
    becomes FAILED with the reason when it runs, and reads no data.

    Raises:
        ServiceError: ValidationException when a budget is short (nothing is spent).
    """
    try:
        prepared = _prepare(ctx, record, collaboration_id)
    except ReconcilerError as exc:
        _remember(record["id"], exc)
        return {}
    except ServiceError:
        return {}
    _remember(record["id"], prepared)
    arns = {a["name"].lower(): a["arn"] for a in ctx.associations(collaboration_id)}
    policy = admit_protected_query(
        ctx,
        collaboration_id,
        record["id"],
        prepared.dp.kinds if prepared.dp is not None else (),
        [arns[t.name] for t in prepared.tables if t.name in arns],
    )
    noise = {"_usersNoisePerQuery": policy.users_noise_per_query} if policy is not None else {}
    return {"_admitted": True, **noise}


def _remember(query_id: str, outcome: engine.Prepared | ReconcilerError) -> None:
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.pop(next(iter(_CHECKED)))
    _CHECKED[query_id] = outcome


def _checked(ctx: RequestContext, record: Record, collaboration_id: str) -> engine.Prepared:
    """The check's outcome from Start (checked again only if another process started the query)."""
    outcome = _CHECKED.pop(record["id"], None)
    if isinstance(outcome, QueryRejected):
        raise outcome
    uncharged = "so it was charged to no budget and cannot run now; start it again"
    if isinstance(outcome, ReconcilerError):  # missing data, say: keep its code, say why it cannot run
        code = outcome.code if isinstance(outcome, engine.DataError) else "INVALID_RESOURCE"
        raise engine.DataError(
            f"{outcome.message}; it could not be checked when it was started, {uncharged}", code=code
        )
    if not record.get("_admitted"):
        raise refuse(
            engine.Reason.OTHER, f"the query did not pass the checks when it was started, {uncharged}"
        )
    if isinstance(outcome, engine.Prepared):
        return outcome
    return _prepare(ctx, record, collaboration_id)


def noise_source(query_id: str) -> NoiseSource:
    """Where a protected query's noise comes from: always the operating system's CSPRNG.

    AWS takes no seed and neither does this API. Tests replace this function (monkeypatch) with
    ``NoiseSource.seeded`` to make runs reproducible; nothing a client sends can reach it.
    """
    return NoiseSource.secure()


@operation("GetProtectedQuery")
def get_protected_query(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The query as it stands (SUBMITTED, STARTED, or how it ended)."""
    record = _own_query(ctx, params["membershipIdentifier"], params["protectedQueryIdentifier"])
    record = _reading(ctx, [record])[0]
    return {"protectedQuery": _view(record)}


@operation("ListProtectedQueries")
def list_protected_queries(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Summaries of the membership's queries, newest first, optionally filtered by status."""
    membership = ctx.own_membership(params["membershipIdentifier"])
    records = _reading(ctx, ctx.store.find(KIND, membershipId=membership["id"]))
    if params.get("status"):
        records = [r for r in records if r["status"] == params["status"]]
    records.sort(key=lambda r: (-r["createTime"], r["id"]))
    return listing(ctx, records, params, "protectedQueries", _summary)


def _reading(ctx: RequestContext, records: list[Record]) -> list[Record]:
    """Records about to be read: overdue ones end TIMED_OUT, and the runner is woken for the rest."""
    timeout = ctx.queries.timeout if ctx.queries is not None else None
    out = [expire(ctx, r, timeout) for r in records]
    if ctx.queries is not None and any(r["status"] not in FINISHED for r in out):
        ctx.queries.wake()
    return out


@operation("UpdateProtectedQuery")
def update_protected_query(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Cancel a query that has not finished (the only update AWS offers)."""
    record = _own_query(ctx, params["membershipIdentifier"], params["protectedQueryIdentifier"])
    if params["targetStatus"] != "CANCELLED":
        raise validation("targetStatus must be CANCELLED", field="targetStatus")
    record = _reading(ctx, [record])[0]
    if record["status"] in FINISHED:
        raise conflict(
            f"protected query {record['id']} is {record['status']} and can no longer be cancelled",
            reason="INVALID_STATE",
            resource_id=record["id"],
            resource_type="MEMBERSHIP",
        )
    record = {**record, "status": "CANCELLED"}
    ctx.store.put(KIND, record["id"], record)
    _log(ctx, record)
    return {"protectedQuery": _view(record)}


def _own_query(ctx: RequestContext, membership_id: str, query_id: str) -> Record:
    membership = ctx.own_membership(membership_id)
    record = ctx.store.get(KIND, query_id)
    if record is None or record["membershipId"] != membership["id"]:
        raise ctx.missing("MEMBERSHIP", query_id, "protected query")
    return record


# -- the run, in phases (``query_runner.QueryRunner`` calls them) ----------------------------------


def expire(ctx: RequestContext, record: Record, timeout: float | None) -> Record:
    """``record``, or TIMED_OUT (stored) when it has not finished within ``timeout`` of its creation."""
    if record["status"] in FINISHED or timeout is None or ctx.timestamp() - record["createTime"] <= timeout:
        return record
    ended = {**record, "status": "TIMED_OUT"}
    ctx.store.put(KIND, record["id"], ended)
    _log(ctx, ended)
    return ended


def begin(ctx: RequestContext, record: Record, timeout: float | None) -> bool:
    """SUBMITTED -> STARTED; False (and nothing to run) when it is no longer SUBMITTED or timed out."""
    if record["status"] != "SUBMITTED" or expire(ctx, record, timeout)["status"] != "SUBMITTED":
        return False
    ctx.store.put(KIND, record["id"], {**record, "status": "STARTED"})
    return True


@dataclass
class Run:
    """What running one STARTED query needs, gathered under the store lock (``prepare_run``).

    Attributes:
        query_id: the query.
        prepared: the checked statement, or None when the query fails without running.
        failure: why it fails without running (a refusal, missing data), or None.
        outputs: (final path, format) of every result file to write.
        result: the API's ``result`` member for a SUCCESS.
        dp: the noise setting it was admitted with (queries over DP tables).
        spark_properties: the request's validated Spark properties (used when the local backend
            runs on Spark, ``ENGINE_VAR``).
    """

    query_id: str
    prepared: engine.Prepared | None = None
    failure: ReconcilerError | None = None
    outputs: list[tuple[Path, str]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    dp: engine.DPRun | None = None
    spark_properties: dict[str, str] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """How a run ended: the fields it sets on the query, and the staged files to move into place."""

    fields: dict[str, Any]
    staged: list[tuple[Path, Path]] = field(default_factory=list)


def prepare_run(ctx: RequestContext, record: Record) -> Run:
    """Gather what the run of a STARTED query needs (reads the store; call it under the store lock)."""
    run = Run(record["id"])
    membership = ctx.membership(record["membershipId"])
    try:
        if membership is None:
            raise engine.DataError("the query's membership no longer exists", code="RESOURCE_NOT_FOUND")
        output = record["resultConfiguration"]["outputConfiguration"]
        run.prepared = _checked(ctx, record, membership["collaborationId"])
        run.dp = _dp_run(record)
        run.spark_properties = _spark_properties(record)
        if "s3" in output:
            s3 = output["s3"]
            fmt = s3.get("resultFormat", "CSV").upper()
            key = f"{s3.get('keyPrefix', '').strip('/')}/{record['id']}/result.{fmt.lower()}".lstrip("/")
            run.outputs = [(_result_path(ctx.results_root, s3["bucket"], key), fmt)]
            run.result = {"output": {"s3": {"location": f"s3://{s3['bucket']}/{key}"}}}
        else:
            receivers = _receivers(record["_account"], output)
            base = ctx.results_root / "members"
            run.outputs = [(base / a / record["id"] / "result.csv", "CSV") for a in receivers]
            run.result = {"output": {"memberList": [{"accountId": a} for a in receivers]}}
    except ReconcilerError as exc:
        run.failure = exc
    except ServiceError as exc:
        run.failure = engine.DataError(exc.message, code="INVALID_RESOURCE")
    return run


def execute(run: Run, staging: Path) -> RunOutcome:
    """Run the query and write its result files under ``staging`` (no store access: no lock needed).

    The one place a protected query is executed: the engine answers the prepared statement
    (with noise when it reads tables with differential privacy), and every receiver gets the
    same rows.
    """
    started = time.perf_counter()
    staged: list[tuple[Path, Path]] = []
    try:
        if run.failure is not None or run.prepared is None:
            raise run.failure or engine.DataError("nothing to run", code="INTERNAL_ERROR")
        prepared = run.prepared
        answer = engine.execute(prepared, run.dp) if prepared.dp is not None else None
        # a directory of this run's own: two runners of one store (a served emulator and a CLI on
        # the same workspace) may run a STARTED query twice; finish keeps the first, discards the other
        here = staging / f"{run.query_id}.{uuid.uuid4().hex}"
        for index, (final, fmt) in enumerate(run.outputs):
            path = here / f"{index}.{fmt.lower()}"
            if answer is not None:  # a noisy answer is released once: the same rows to every receiver
                engine.write(answer, path, fmt)
            else:
                _export(prepared, path, fmt, run.spark_properties)
            staged.append((path, final))
        fields: dict[str, Any] = {"status": "SUCCESS", "result": run.result}
        if answer is not None:
            fields["differentialPrivacy"] = answer.differential_privacy
    except ReconcilerError as exc:
        fields = {"status": "FAILED", "error": _error(exc)}
    fields["statistics"] = {"totalDurationInMillis": int((time.perf_counter() - started) * 1000)}
    return RunOutcome(fields, staged)


def finish(ctx: RequestContext, query_id: str, outcome: RunOutcome, timeout: float | None) -> str:
    """End a run: SUCCESS or FAILED, unless it was cancelled or timed out meanwhile (then discarded).

    Call it under the store lock. Returns the query's status afterwards.
    """
    record = ctx.store.get(KIND, query_id)
    if record is not None:
        record = expire(ctx, record, timeout)
    if record is None or record["status"] != "STARTED":
        _discard(outcome)
        return record["status"] if record is not None else "DELETED"
    for staged, final in outcome.staged:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
    _discard(outcome)
    ended = {**record, **outcome.fields}
    ctx.store.put(KIND, query_id, ended)
    _log(ctx, ended)
    return str(ended["status"])


def fail(ctx: RequestContext, query_id: str, message: str) -> None:
    """End an unfinished query FAILED with INTERNAL_ERROR (the runner met a bug); under the store lock."""
    record = ctx.store.get(KIND, query_id)
    if record is None or record["status"] in FINISHED:
        return
    error = {"code": "INTERNAL_ERROR", "message": message, "retry": {"retryable": True}}
    ended = {**record, "status": "FAILED", "error": error}
    ctx.store.put(KIND, query_id, ended)
    _log(ctx, ended)


def _discard(outcome: RunOutcome) -> None:
    for staged, _ in outcome.staged:
        staged.unlink(missing_ok=True)
        if staged.parent.exists() and not any(staged.parent.iterdir()):
            shutil.rmtree(staged.parent, ignore_errors=True)


def _error(exc: ReconcilerError) -> dict[str, Any]:
    """The API's ``ProtectedQueryError`` for a failure: a code of the model's enum, the message, retry."""
    if isinstance(exc, QueryRejected):
        code, retryable, message = "MALFORMED_QUERY", False, exc.message  # it names the reason class
    elif isinstance(exc, engine.DataError):
        code, retryable, message = exc.code, exc.retryable, exc.message
    else:
        code, retryable, message = "INVALID_RESOURCE", False, exc.message
    if code not in ERROR_CODES:  # an engine code the API does not have: say so rather than invent one
        code, message = "UNKNOWN_ERROR", f"{message} (local code {code})"
    return {"code": code, "message": message, "retry": {"retryable": retryable}}


def _prepare(ctx: RequestContext, record: Record, collaboration_id: str) -> engine.Prepared:
    """Check the query against the collaboration's rules (reads no data)."""
    receivers = _receivers(record["_account"], record["resultConfiguration"]["outputConfiguration"])
    request = _request(ctx, record, collaboration_id, receivers)
    collaboration = _collaboration(ctx, collaboration_id)
    id_mapping.check_query(ctx, collaboration_id, request.sql, collaboration.dialect)
    prepared = engine.check(request, collaboration)
    quota = "Query text length (with differential privacy)"
    size, limit = len(request.sql.encode()), ctx.limit(quota)
    if prepared.dp is not None and size > limit * 1000:
        raise refuse(
            engine.Reason.OTHER,
            f"a query over tables with differential privacy may be at most {limit:g} KB long (the quota "
            f"{quota!r}); this one is {size:,} bytes",
        )
    return prepared


#: The local backend's setting for where protected queries run: ``duckdb`` (the default, Spark
#: semantics for SPARK collaborations) or ``spark`` (``RECONCILER_SPARK_MASTER``, default local[*]).
ENGINE_VAR, MASTER_VAR = "RECONCILER_LOCAL_ENGINE", "RECONCILER_SPARK_MASTER"


def _spark_properties(request: dict[str, Any]) -> dict[str, str]:
    worker = (request.get("computeConfiguration") or {}).get("worker") or {}
    found: dict[str, str] = (worker.get("properties") or {}).get("spark") or {}
    return found


def _export(prepared: engine.Prepared, path: Path, fmt: str, properties: dict[str, str]) -> None:
    """Run on DuckDB, or on Spark with the request's validated Spark properties (``ENGINE_VAR``)."""
    if os.environ.get(ENGINE_VAR, "duckdb").strip().lower() != "spark":
        engine.export(prepared, path, fmt)
        return
    from reconciler.engine.spark import session

    master = os.environ.get(MASTER_VAR, "").strip() or session.DEFAULT_MASTER
    settings = session.SparkSettings(master=master, properties=properties)
    session.export(prepared, path, fmt, settings)


def _result_path(root: Path, bucket: str, key: str) -> Path:
    """Where an S3 result object lives locally: always under ``root`` (a key is a name, not a path).

    Raises:
        ServiceError: a bucket or key that would still leave the root (never, after escaping).
    """
    segments = [_segment(part) for part in key.split("/") if part != ""]
    path = root.joinpath(_segment(bucket), *segments)
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base) or resolved == base:
        raise validation(f"result location s3://{bucket}/{key} cannot be stored locally", field="keyPrefix")
    return path


def _segment(part: str) -> str:
    """One key segment as a safe file name: ``.`` and ``..`` escaped, and a segment longer than a
    file name may be cut to a prefix plus a digest of the whole (S3 keys allow 1,024 bytes)."""
    if part in (".", ".."):
        return part.replace(".", "%2E")
    name = part.replace("\\", "%5C")
    if len(name.encode()) > 200:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = name.encode()[:150].decode(errors="ignore") + "~" + digest
    return name


def _dp_run(record: Record) -> engine.DPRun | None:
    """The noise setting the query was admitted with (None if it was never admitted: refused)."""
    noise = record.get("_usersNoisePerQuery")
    return engine.DPRun(int(noise), record["id"], noise_source(record["id"])) if noise else None


def _receivers(querier: str, output: dict[str, Any]) -> list[str]:
    if "member" in output:
        return [output["member"]["accountId"]]
    return [querier]


def _request(
    ctx: RequestContext, record: Record, collaboration_id: str, receivers: list[str]
) -> engine.Request:
    sql = record["sqlParameters"]
    if not sql.get("analysisTemplateArn"):
        return engine.Request(querier=record["_account"], sql=sql["queryString"], receivers=receivers)
    found = ctx.store.by_arn(sql["analysisTemplateArn"])
    if found is None or found[0] != "analysis_template" or found[1]["collaborationId"] != collaboration_id:
        raise refuse(
            engine.Reason.OTHER,
            f"analysis template {sql['analysisTemplateArn']} is not in this collaboration",
        )
    template_record = found[1]
    template = templates.Template(
        name=template_record["name"],
        sql=template_record["source"]["text"],
        parameters=[
            templates.Parameter(p["name"], p["type"], p.get("defaultValue"))
            for p in template_record.get("analysisParameters") or []
        ],
        arn=template_record["arn"],
        creator=template_record["_account"],
    )
    return templates.request_for(
        template, record["_account"], sql.get("parameters") or {}, receivers=receivers
    )


def _collaboration(ctx: RequestContext, collaboration_id: str) -> engine.Collaboration:
    collaboration = ctx.collaboration(collaboration_id)
    assert collaboration is not None
    abilities = {
        m["accountId"]: frozenset(m["abilities"])
        for m in ctx.members(collaboration_id)
        if m["status"] == "ACTIVE"
    }
    tables: dict[str, engine.Table] = {}
    for association in ctx.associations(collaboration_id):
        table = ctx.configured_table(association["configuredTableId"])
        if table is None:
            continue
        glue = table.get("tableReference", {}).get("glue", {})
        entry = ctx.catalog.lookup(table["_account"], glue.get("databaseName", ""), glue.get("tableName", ""))
        path = str(entry.path) if entry is not None else ""
        rule = ctx.table_rule(table["id"])
        try:
            tables[association["name"].lower()] = engine.Table.from_api(
                association,
                table,
                analysis_rule=rule,
                association_rule=ctx.association_rule(association["id"]),
                owner=table["_account"],
                column_types=engine.describe(path) if path else None,
                data=path,
            )
        except engine.PolicyError as exc:
            raise validation(f"analysis rule of {table['name']}: {exc.message}") from None
    tables.update(id_mapping.engine_tables(ctx, collaboration_id, tables))
    # Collaborations stored before the default was filled in have no engine: SPARK, as now.
    return engine.Collaboration(collaboration.get("analyticsEngine") or DEFAULT_ENGINE, abilities, tables)


# -- output ---------------------------------------------------------------------------------------
def _view(record: Record) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}


def _summary(record: Record) -> dict[str, Any]:
    summary = {k: record[k] for k in _SUMMARY_FIELDS}
    output = record["resultConfiguration"]["outputConfiguration"]
    receivers = _receivers(record["_account"], output)
    summary["receiverConfigurations"] = [
        {
            "analysisType": "DIRECT_ANALYSIS",
            "configurationDetails": {"directAnalysisConfigurationDetails": {"receiverAccountIds": receivers}},
        }
    ]
    return summary


def _log(ctx: RequestContext, record: Record) -> None:
    membership = ctx.membership(record["membershipId"])
    if membership is None or membership.get("queryLogStatus") != "ENABLED":
        return
    path: Path = ctx.results_root / "query-logs" / f"{membership['id']}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "time": ctx.now().isoformat(),
        "protectedQueryId": record["id"],
        "accountId": record["_account"],
        "membershipId": record["membershipId"],
        "status": record["status"],
        "queryString": record["sqlParameters"].get("queryString"),
        "analysisTemplateArn": record["sqlParameters"].get("analysisTemplateArn"),
        "error": record.get("error"),
        "statistics": record.get("statistics"),
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
