"""Clean Rooms ML work the emulator really does: input channels, lookalike training and audiences.

- **ML input channels.** ``CreateMLInputChannel`` starts the channel's query as a real protected
  query of the caller's membership (``protected_queries.start_protected_query``: the same rule
  check, budgets, sealed execution and query log as any protected query; its result goes to a
  local store only ML reads, ``results_root/cleanrooms-ml/...``). Spark properties ride along in
  the protected query's ``computeConfiguration``, which is where an engine that applies them
  (the SPARK engine) reads them. The channel stays CREATE_PENDING until it is first read; then
  the query runs and the channel reports ``numberOfRecords``, ``numberOfFiles`` and ``sizeInGb``
  of the stored dataset (ACTIVE), or CREATE_FAILED with the query's error. Before the query
  starts, every table it reads must let Clean Rooms ML use query output: ``additionalAnalyses``
  ALLOWED or REQUIRED, and the channel's algorithm association among the table's
  ``allowedAdditionalAnalyses`` (the safer answer where AWS is silent: no list, no use).
  After ``retentionInDays`` the data is deleted and the channel is INACTIVE.
- **Audience models** train on their first read: the training dataset's Glue table is read
  through the local Glue stand-in (``catalog``), its USER_ID / ITEM_ID columns (within
  ``trainingDataStartTime`` .. ``trainingDataEndTime`` when it has a TIMESTAMP column) go to
  ``reconciler.ml.lookalike.train``, and the model is saved under ``results_root/cleanrooms-ml``.
- **Audience generation jobs** take their seed from JSON lines in the local results store
  (``s3://BUCKET/KEY`` is ``results_root/BUCKET/KEY``, a file or every ``*.json*`` below a
  prefix) or from SQL (a protected query of the starter, with ``sqlComputeConfiguration``; the
  ``user_id`` column, else the first). They enforce ``minMatchingSeedSize`` (default 500) and
  ``includeSeedInOutput`` and report relevance per ``audienceSizeConfig`` bin and recall.
- **Audience export jobs** write the first N users of a generated audience as JSON lines to the
  configured audience model's output location, N one of its configured sizes.

Who sees what (the safer reading where the docs are unclear): a job is visible to the account
that started it and to the configured audience model's owner; ``seedAudience`` only to the
starter; ``metrics`` to the owner, and to the starter when the model shares them (``ALL``).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import math
import re
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from reconciler.emulator import ml_resources as mr
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import ServiceError, access_denied, conflict, not_found, validation
from reconciler.emulator.protected_queries import get_protected_query, start_protected_query
from reconciler.emulator.registry import register
from reconciler.emulator.resource_types import listing, new_id
from reconciler.emulator.store import Record
from reconciler.ml import lookalike

__all__ = ["ML_BUCKET", "audience_path", "read_records"]

#: The local store of data only Clean Rooms ML reads (channel datasets, models, audiences).
ML_BUCKET = "cleanrooms-ml"
_CHANNEL, _JOB, _EXPORT = "ml_input_channel", "audience_generation_job", "audience_export_job"
_DEFAULT_MIN_SEED = 500  # minMatchingSeedSize's documented default
_DEFAULT_BINS = {"audienceSizeType": "PERCENTAGE", "audienceSizeBins": [5, 10, 20, 50]}  # a local choice


def _fields(operation: str) -> tuple[str, ...]:
    return mr._fields(operation)


def _failed(code: str, message: str) -> dict[str, Any]:
    return {"statusDetails": {"statusCode": code, "message": message}}


def read_records(path: Path) -> int:
    """Rows of a CSV or Parquet result file, counted by DuckDB."""
    reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv_auto"
    with duckdb.connect() as db:
        row = db.execute(f"SELECT count(*) FROM {reader}(?)", [str(path)]).fetchone()
    return int(row[0]) if row else 0


def _s3_path(ctx: RequestContext, uri: str) -> Path:
    """``s3://BUCKET/KEY`` in the local results store (never outside it)."""
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if match is None:
        raise validation(f"{uri} is not an s3:// location", field="s3Uri")
    parts = [p for p in match.group(2).split("/") if p not in ("", ".", "..")]
    return ctx.results_root.joinpath(match.group(1), *parts)


def _started_query(
    ctx: RequestContext, membership: Record, sql: dict[str, Any], compute: Any, key: str
) -> str:
    """Start a protected query whose result only Clean Rooms ML reads; returns its id."""
    params: dict[str, Any] = {
        "membershipIdentifier": membership["id"],
        "sqlParameters": sql,
        "resultConfiguration": {
            "outputConfiguration": {"s3": {"bucket": ML_BUCKET, "keyPrefix": key, "resultFormat": "CSV"}}
        },
    }
    if compute:
        params["computeConfiguration"] = compute  # the single place a Spark engine reads them from
    query_id = str(start_protected_query(ctx, params)["protectedQuery"]["id"])
    if ctx.queries is not None:
        ctx.queries.run_now(query_id)  # the channel's or job's status reports it, not a client's poll
    return query_id


def _finished_query(
    ctx: RequestContext, membership_id: str, query_id: str
) -> tuple[Path | None, dict[str, Any]]:
    """Run (if pending) the protected query; its result file, or the failure's status details."""
    query = get_protected_query(
        ctx, {"membershipIdentifier": membership_id, "protectedQueryIdentifier": query_id}
    )
    query = query["protectedQuery"]
    if query["status"] != "SUCCESS":
        error = query.get("error") or {}
        return None, _failed(
            str(error.get("code", query["status"])), str(error.get("message", "the query failed"))
        )
    return _s3_path(ctx, query["result"]["output"]["s3"]["location"]), {}


# -- ML input channels -----------------------------------------------------------------------------


def _tables_read(ctx: RequestContext, collaboration_id: str, sql: dict[str, Any]) -> set[str]:
    text = sql.get("queryString")
    if sql.get("analysisTemplateArn"):
        hit = ctx.store.by_arn(sql["analysisTemplateArn"])
        if hit is None or hit[0] != "analysis_template":
            return set()
        return {t.lower() for t in (hit[1].get("schema") or {}).get("referencedTables", [])}
    try:
        tree = sqlglot.parse_one(re.sub(r":(\w+)", r"'\1'", text or ""), read="spark")
    except sqlglot.errors.ParseError:
        return set()  # the protected query's own check refuses it, with the reason
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes}


def _ml_may_use(ctx: RequestContext, collaboration_id: str, tables: set[str], users: list[str]) -> str:
    """Why Clean Rooms ML may not use these tables' query output ("" when it may)."""
    for association in ctx.associations(collaboration_id):
        if association["name"].lower() not in tables:
            continue
        rule = ctx.table_rule(association["configuredTableId"]) or {}
        policy: dict[str, Any] = next(iter((rule.get("policy") or {}).get("v1", {}).values()), {})
        if policy.get("additionalAnalyses", "NOT_ALLOWED") not in ("ALLOWED", "REQUIRED"):
            return f"table {association['name']} does not allow additional analyses (additionalAnalyses)"
        allowed = list(policy.get("allowedAdditionalAnalyses") or [])
        assoc_rule = ctx.association_rule(association["id"]) or {}
        assoc_policy: dict[str, Any] = next(iter((assoc_rule.get("policy") or {}).get("v1", {}).values()), {})
        allowed += assoc_policy.get("allowedAdditionalAnalyses", [])
        if not any(fnmatch.fnmatchcase(user, pattern) for user in users for pattern in allowed):
            return f"table {association['name']} does not list {users[0]} in allowedAdditionalAnalyses"
    return ""


def create_channel(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record the channel and start its query (which runs when the channel is first read)."""
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    collaboration_id = membership["collaborationId"]
    for association in params["configuredModelAlgorithmAssociations"]:
        hit = ctx.store.by_arn(association)
        if hit is None or hit[1].get("collaborationIdentifier") != collaboration_id:
            raise validation(f"{association} is not an algorithm association of this collaboration")
    source = params["inputChannel"]["dataSource"]["protectedQueryInputParameters"]
    rid = new_id()
    now = ctx.timestamp()
    record: Record = {
        **{k: params[k] for k in _CREATE_FIELDS if k in params},
        "id": rid,
        "membershipId": membership["id"],
        "membershipIdentifier": membership["id"],
        "collaborationIdentifier": collaboration_id,
        "createTime": now,
        "updateTime": now,
        "status": "CREATE_PENDING",
        "_account": ctx.account_id,
        "_tags": dict(params.get("tags") or {}),
    }
    record["arn"] = record["mlInputChannelArn"] = mr.arn(
        ctx, f"membership/{membership['id']}/ml-input-channel/{rid}"
    )
    why = _ml_may_use(
        ctx, collaboration_id, _tables_read(ctx, collaboration_id, source["sqlParameters"]),
        list(params["configuredModelAlgorithmAssociations"]),
    )  # fmt: skip
    if why:
        record.update(status="CREATE_FAILED", **_failed("ADDITIONAL_ANALYSES_NOT_ALLOWED", why))
    else:
        record["protectedQueryIdentifier"] = _started_query(
            ctx,
            membership,
            source["sqlParameters"],
            source.get("computeConfiguration"),
            f"ml-input-channels/{rid}",
        )
    ctx.store.put(_CHANNEL, rid, record)
    return {"mlInputChannelArn": record["arn"]}


_CREATE_FIELDS = mr._input_fields("CreateMLInputChannel")


def _channel_now(ctx: RequestContext, record: Record) -> Record:
    """Run a pending channel's query; expire its data after ``retentionInDays``."""
    updated = dict(record)
    if record["status"] == "CREATE_PENDING":
        path, failure = _finished_query(ctx, record["membershipId"], record["protectedQueryIdentifier"])
        if path is None:
            updated.update(status="CREATE_FAILED", **failure)
        else:
            updated.update(
                status="ACTIVE",
                numberOfRecords=read_records(path),
                numberOfFiles=1,
                sizeInGb=path.stat().st_size / 1024**3,
                _data=str(path),
            )
    expiry = record["createTime"] + 86400 * int(record["retentionInDays"])
    if updated["status"] == "ACTIVE" and ctx.timestamp() >= expiry:
        if updated.get("_data"):
            Path(updated["_data"]).unlink(missing_ok=True)
        updated.update(status="INACTIVE", numberOfRecords=0, numberOfFiles=0, sizeInGb=0.0)
        updated.update(
            _failed("RETENTION_EXPIRED", f"the data was deleted after {record['retentionInDays']} days")
        )
    if updated != record:
        updated["updateTime"] = ctx.timestamp()
        ctx.store.put(_CHANNEL, record["id"], updated)
    return updated


def _own_channel(ctx: RequestContext, params: dict[str, Any]) -> Record:
    membership = ctx.own_membership(params["membershipIdentifier"])
    record = mr.owned(ctx, _CHANNEL, params["mlInputChannelArn"], "ML_INPUT_CHANNEL")
    if record["membershipId"] != membership["id"]:
        raise not_found("ML_INPUT_CHANNEL", params["mlInputChannelArn"])
    return record


def get_channel(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The channel (its query run first if it was pending)."""
    return mr.render(_channel_now(ctx, _own_channel(ctx, params)), _fields("GetMLInputChannel"))


def list_channels(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The membership's channels."""
    membership = ctx.own_membership(params["membershipIdentifier"])
    key, summary = mr._summary_fields("ListMLInputChannels")
    records = [_channel_now(ctx, r) for r in ctx.store.find(_CHANNEL, membershipId=membership["id"])]
    return listing(ctx, records, params, key, lambda r: mr.render(r, summary))


def delete_channel_data(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Delete the channel and its data (the API's only way to delete a channel)."""
    record = _own_channel(ctx, params)
    if record.get("_data"):
        Path(record["_data"]).unlink(missing_ok=True)
    ctx.store.delete(_CHANNEL, record["id"])


# -- audience models -------------------------------------------------------------------------------


def model_path(ctx: RequestContext, record: Record) -> Path:
    """Where a trained audience model is kept."""
    return ctx.results_root / ML_BUCKET / "audience-models" / f"{record['id']}.npz"


def _interactions(ctx: RequestContext, dataset: Record, model: Record) -> list[tuple[str, str]]:
    data = dataset["trainingData"][0]
    columns: dict[str, str] = {}
    for column in data["inputConfig"]["schema"]:
        for kind in column["columnTypes"]:
            columns.setdefault(kind, column["columnName"])
    if "USER_ID" not in columns or "ITEM_ID" not in columns:
        raise ValueError("the training dataset's schema needs a USER_ID and an ITEM_ID column")
    glue = data["inputConfig"]["dataSource"]["glueDataSource"]
    entry = ctx.catalog.lookup(
        glue.get("catalogId") or dataset["_account"], glue["databaseName"], glue["tableName"]
    )
    if entry is None:
        raise ValueError(
            f"no local data is registered for Glue table {glue['databaseName']}.{glue['tableName']}"
            " (set localData on the TrainingDataset)"
        )
    path = Path(entry.path)
    reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv_auto"

    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    where: list[str] = []
    args: list[Any] = [str(path)]
    for bound, op in (("trainingDataStartTime", ">="), ("trainingDataEndTime", "<=")):
        if model.get(bound) is not None and "TIMESTAMP" in columns:
            where.append(f"CAST({quoted(columns['TIMESTAMP'])} AS TIMESTAMP) {op} ?")
            args.append(dt.datetime.fromtimestamp(float(model[bound]), dt.UTC).replace(tzinfo=None))
    sql = (
        f"SELECT CAST({quoted(columns['USER_ID'])} AS VARCHAR), CAST({quoted(columns['ITEM_ID'])} AS VARCHAR)"
        f" FROM {reader}(?)" + (f" WHERE {' AND '.join(where)}" if where else "")
    )
    with duckdb.connect() as db:
        return [
            (str(u), str(i)) for u, i in db.execute(sql, args).fetchall() if u is not None and i is not None
        ]


def train_pending(ctx: RequestContext, record: Record) -> Record:
    """Train a CREATE_PENDING audience model now (ACTIVE, or CREATE_FAILED saying why)."""
    if record["status"] != "CREATE_PENDING":
        return record
    hit = ctx.store.by_arn(record["trainingDatasetArn"])
    updated = dict(record)
    try:
        if hit is None:
            raise ValueError("the training dataset no longer exists")
        lookalike.save(lookalike.train(_interactions(ctx, hit[1], record)), model_path(ctx, record))
        updated["status"] = "ACTIVE"
    except (ValueError, duckdb.Error) as exc:
        updated.update(status="CREATE_FAILED", **_failed("TRAINING_FAILED", str(exc)))
    updated["updateTime"] = ctx.timestamp()
    ctx.store.put("audience_model", record["id"], updated)
    return updated


mr.READ_HOOKS["audience_model"] = train_pending


# -- audience generation jobs ----------------------------------------------------------------------


def audience_path(ctx: RequestContext, job: Record) -> Path:
    """Where a generated audience is kept (JSON lines, best first)."""
    return ctx.results_root / ML_BUCKET / "audiences" / f"{job['id']}.jsonl"


def start_generation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Check the caller may use the model, record the job, start an SQL seed's protected query."""
    hit = ctx.store.by_arn(params["configuredAudienceModelArn"])
    if hit is None or hit[0] != "configured_audience_model":
        raise not_found("CONFIGURED_AUDIENCE_MODEL", params["configuredAudienceModelArn"])
    model = hit[1]
    collaboration_id = params.get("collaborationId")
    if not mr.may_use_audience_model(
        ctx, model, "cleanrooms-ml:StartAudienceGenerationJob", collaboration_id or ""
    ):
        raise access_denied(f"account {ctx.account_id} may not use {model['arn']}")
    seed = params["seedAudience"]
    if (seed.get("dataSource") is None) == (seed.get("sqlParameters") is None):
        raise validation(
            "seedAudience needs exactly one of dataSource or sqlParameters", field="seedAudience"
        )
    if seed.get("sqlComputeConfiguration") and seed.get("sqlParameters") is None:
        raise validation("sqlComputeConfiguration applies to an SQL seed only", field="seedAudience")
    membership: Record | None = None
    associated: list[Record] = []
    if collaboration_id:
        membership = mr.visible_membership(ctx, collaboration_id)
        associated = ctx.store.find(
            "configured_audience_model_association",
            configuredAudienceModelArn=model["arn"],
            collaborationId=collaboration_id,
        )
        if not associated:
            raise validation(f"{model['arn']} is not associated with collaboration {collaboration_id}")
    if seed.get("sqlParameters") is not None and membership is None:
        raise validation("an SQL seed runs in a collaboration: give collaborationId", field="collaborationId")
    for job in ctx.store.find(_JOB, configuredAudienceModelArn=model["arn"], name=params["name"]):
        raise conflict(f"an audience generation job named {job['name']} exists", reason="ALREADY_EXISTS")
    rid = new_id()
    now = ctx.timestamp()
    tags = dict(params.get("tags") or {})
    if (
        model.get("childResourceTagOnCreatePolicy") == "FROM_PARENT_RESOURCE"
        and model["_account"] == ctx.account_id
    ):
        tags = {**model["_tags"], **tags}
    record: Record = {
        **{
            k: params[k]
            for k in ("name", "description", "configuredAudienceModelArn", "seedAudience")
            if k in params
        },
        "includeSeedInOutput": bool(params.get("includeSeedInOutput", False)),
        "collaborationId": collaboration_id,
        "id": rid,
        "startedBy": ctx.account_id,
        "createTime": now,
        "updateTime": now,
        "status": "CREATE_PENDING",
        "_account": ctx.account_id,
        "_owner": model["_account"],
        "_tags": tags,
    }
    record["arn"] = record["audienceGenerationJobArn"] = mr.arn(ctx, f"audience-generation-job/{rid}")
    if membership is not None and seed.get("sqlParameters") is not None:
        tables = _tables_read(ctx, membership["collaborationId"], seed["sqlParameters"])
        why = _ml_may_use(ctx, membership["collaborationId"], tables, [a["arn"] for a in associated])
        if why:
            raise validation(
                f"the seed query's output cannot go to Clean Rooms ML: {why}", field="seedAudience"
            )
        record["protectedQueryIdentifier"] = _started_query(
            ctx,
            membership,
            seed["sqlParameters"],
            seed.get("sqlComputeConfiguration"),
            f"audience-seeds/{rid}",
        )
        record["_membership"] = membership["id"]
    ctx.store.put(_JOB, rid, record)
    return {"audienceGenerationJobArn": record["arn"]}


def _seed_ids(ctx: RequestContext, job: Record) -> list[str]:
    seed = job["seedAudience"]
    if seed.get("dataSource") is not None:
        where = _s3_path(ctx, seed["dataSource"]["s3Uri"])
        files = sorted(where.rglob("*.json*")) if where.is_dir() else [where]
        ids = []
        for file in files:
            if not file.is_file():
                raise ValueError(f"no seed file at {seed['dataSource']['s3Uri']} (local: {file})")
            for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        ids.append(str(json.loads(line)["user_id"]))
                    except (ValueError, KeyError, TypeError):
                        raise ValueError(
                            f'{file.name}:{n}: not a JSON line like {{"user_id": "..."}}'
                        ) from None
        return ids
    path, failure = _finished_query(ctx, job["_membership"], job["protectedQueryIdentifier"])
    if path is None:
        raise ServiceError("ValidationException", failure["statusDetails"]["message"])
    with duckdb.connect() as db:
        cursor = db.execute("SELECT * FROM read_csv_auto(?, all_varchar = true)", [str(path)])
        names = [d[0].lower() for d in cursor.description]
        column = names.index("user_id") if "user_id" in names else 0
        return [str(row[column]) for row in cursor.fetchall() if row[column] is not None]


def _generate(ctx: RequestContext, job: Record) -> Record:
    """Run a pending job: seed, model, audience, metrics."""
    if job["status"] != "CREATE_PENDING":
        return job
    updated = dict(job)
    try:
        model_hit = ctx.store.by_arn(job["configuredAudienceModelArn"])
        if model_hit is None:
            raise ValueError("the configured audience model no longer exists")
        configured = model_hit[1]
        audience_hit = ctx.store.by_arn(configured["audienceModelArn"])
        if audience_hit is None:
            raise ValueError("the audience model no longer exists")
        trained = train_pending(ctx, audience_hit[1])
        if trained["status"] != "ACTIVE":
            raise ValueError(
                f"the audience model is {trained['status']}: "
                + str(trained.get("statusDetails", {}).get("message", ""))
            )
        sizes: dict[str, Any] = configured.get("audienceSizeConfig") or _DEFAULT_BINS
        audience = lookalike.generate(
            lookalike.load(model_path(ctx, trained)),
            _seed_ids(ctx, job),
            sizes=sizes["audienceSizeBins"],
            size_type=sizes["audienceSizeType"],
            min_matching=int(configured.get("minMatchingSeedSize") or _DEFAULT_MIN_SEED),
            include_seed=job["includeSeedInOutput"],
        )
        path = audience_path(ctx, job)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"user_id": u}) + "\n" for u in audience.users), encoding="utf-8")
        metrics: dict[str, Any] = {
            "relevanceMetrics": [
                {"audienceSize": {"type": sizes["audienceSizeType"], "value": size}, "score": score}
                for size, score in audience.relevance
            ]
        }
        if audience.recall is not None:
            metrics["recallMetric"] = audience.recall
        updated.update(
            status="ACTIVE", metrics=metrics, _candidates=audience.candidates, _size=len(audience.users)
        )
    except lookalike.SeedTooSmall as exc:
        updated.update(status="CREATE_FAILED", **_failed("INSUFFICIENT_SEED_MATCH", str(exc)))
    except (ValueError, duckdb.Error, ServiceError) as exc:
        updated.update(
            status="CREATE_FAILED", **_failed("GENERATION_FAILED", getattr(exc, "message", str(exc)))
        )
    updated["updateTime"] = ctx.timestamp()
    ctx.store.put(_JOB, job["id"], updated)
    return updated


def _visible_job(ctx: RequestContext, job_arn: str) -> Record:
    hit = ctx.store.by_arn(job_arn)
    if hit is None or hit[0] != _JOB or ctx.account_id not in (hit[1]["_account"], hit[1]["_owner"]):
        raise not_found("AUDIENCE_GENERATION_JOB", job_arn)
    return hit[1]


def _job_view(ctx: RequestContext, job: Record, fields: tuple[str, ...]) -> dict[str, Any]:
    out = mr.render(job, fields)
    if ctx.account_id != job["_account"]:
        out.pop("seedAudience", None)
        out.pop("tags", None)
    model = ctx.store.by_arn(job["configuredAudienceModelArn"])
    shared = model is not None and "ALL" in model[1].get("sharedAudienceMetrics", [])
    if ctx.account_id != job["_owner"] and not shared:
        out.pop("metrics", None)
    return out


def get_generation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The job (run first if it was pending)."""
    job = _generate(ctx, _visible_job(ctx, params["audienceGenerationJobArn"]))
    return _job_view(ctx, job, _fields("GetAudienceGenerationJob"))


def list_generations(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Jobs the caller started or that use its models."""
    key, summary = mr._summary_fields("ListAudienceGenerationJobs")
    records = [
        _generate(ctx, r)
        for r in ctx.store.all(_JOB)
        if ctx.account_id in (r["_account"], r["_owner"])
        and params.get("configuredAudienceModelArn") in (None, r["configuredAudienceModelArn"])
        and params.get("collaborationId") in (None, r.get("collaborationId"))
    ]
    records.sort(key=lambda r: (r["createTime"], r["id"]))
    return listing(ctx, records, params, key, lambda r: _job_view(ctx, r, summary))


def delete_generation(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Delete a finished job (its starter only) and its audience."""
    job = _visible_job(ctx, params["audienceGenerationJobArn"])
    if job["_account"] != ctx.account_id:
        raise access_denied("only the account that started an audience generation job may delete it")
    job = _generate(ctx, job)
    if ctx.store.find(_EXPORT, audienceGenerationJobArn=job["arn"], status="CREATE_PENDING"):
        raise conflict("an export of this audience is still running", reason="INVALID_STATE")
    audience_path(ctx, job).unlink(missing_ok=True)
    ctx.store.delete(_JOB, job["id"])


# -- audience export jobs --------------------------------------------------------------------------


def start_export(ctx: RequestContext, params: dict[str, Any]) -> None:
    """Write the first N users of a generated audience to the model's output location."""
    job = _generate(ctx, _visible_job(ctx, params["audienceGenerationJobArn"]))
    if job["status"] != "ACTIVE":
        raise validation(
            f"the audience generation job is {job['status']}; only an ACTIVE one can be exported"
        )
    model = ctx.store.by_arn(job["configuredAudienceModelArn"])
    if model is None:
        raise validation("the configured audience model no longer exists")
    configured = model[1]
    sizes = configured.get("audienceSizeConfig") or _DEFAULT_BINS
    size = params["audienceSize"]
    if size["type"] != sizes["audienceSizeType"] or size["value"] not in sizes["audienceSizeBins"]:
        raise validation(
            f"audienceSize {size['type']} {size['value']} is not one of the configured audience model's "
            "sizes "
            f"({sizes['audienceSizeType']} {sizes['audienceSizeBins']})",
            field="audienceSize",
        )
    if ctx.store.get(_EXPORT, f"{job['id']}/{params['name']}") is not None:
        raise conflict(f"an export named {params['name']} exists for this job", reason="ALREADY_EXISTS")
    users = audience_path(ctx, job).read_text(encoding="utf-8").splitlines()
    candidates = int(job.get("_candidates", len(users)))
    count = (
        math.ceil(candidates * size["value"] / 100) if size["type"] == "PERCENTAGE" else int(size["value"])
    )
    base = configured["outputConfig"]["destination"]["s3Destination"]["s3Uri"].rstrip("/")
    location = f"{base}/{job['id']}/{params['name']}/audience.jsonl"
    target = _s3_path(ctx, location)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(line + "\n" for line in users[:count]), encoding="utf-8")
    now = ctx.timestamp()
    record: Record = {
        **{
            k: params[k]
            for k in ("name", "description", "audienceGenerationJobArn", "audienceSize")
            if k in params
        },
        "status": "ACTIVE",
        "outputLocation": location,
        "createTime": now,
        "updateTime": now,
        "_account": ctx.account_id,
        "_owner": job["_owner"],
        "_starter": job["_account"],
    }
    ctx.store.put(_EXPORT, f"{job['id']}/{params['name']}", record)


def list_exports(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Exports of jobs the caller may see."""
    key, summary = mr._summary_fields("ListAudienceExportJobs")
    records = [
        r
        for r in ctx.store.all(_EXPORT)
        if ctx.account_id in (r["_owner"], r["_starter"])
        and params.get("audienceGenerationJobArn") in (None, r["audienceGenerationJobArn"])
    ]
    records.sort(key=lambda r: (r["createTime"], r["name"]))
    return listing(ctx, records, params, key, lambda r: mr.render(r, summary))


def _register() -> None:
    ml = mr.ML
    for name, handler in (
        ("CreateMLInputChannel", create_channel),
        ("GetMLInputChannel", get_channel),
        ("ListMLInputChannels", list_channels),
        ("DeleteMLInputChannelData", delete_channel_data),
        ("StartAudienceGenerationJob", start_generation),
        ("GetAudienceGenerationJob", get_generation),
        ("ListAudienceGenerationJobs", list_generations),
        ("DeleteAudienceGenerationJob", delete_generation),
        ("StartAudienceExportJob", start_export),
        ("ListAudienceExportJobs", list_exports),
    ):
        register(name, handler, service=ml)
    fields = _fields("GetCollaborationMLInputChannel")
    register(
        "GetCollaborationMLInputChannel",
        lambda ctx, p: mr.collaboration_view(ctx, _CHANNEL, "mlInputChannelArn", p, fields),
        service=ml,
    )
    register(
        "ListCollaborationMLInputChannels",
        lambda ctx, p: mr.collaboration_listing(ctx, _CHANNEL, p, "ListCollaborationMLInputChannels"),
        service=ml,
    )


_register()
