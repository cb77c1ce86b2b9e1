"""``reconciler ml ...``: the Clean Rooms ML jobs people run by hand (``workflow/ml.py``).

- ``reconciler ml generate-audience [STACK] --as MEMBER --model NAME --collaboration NAME
  (--seed-sql FILE | --seed-s3 URI) --role-arn ARN [--spark KEY=VALUE ...] [--include-seed]``:
  start an audience generation job and follow it, printing each status and then the relevance
  per audience size and the recall. Exit 0 when the job is ACTIVE, 1 when it failed.
- ``reconciler ml export-audience [STACK] --as MEMBER --job ARN --size N``: export the first N
  users (one of the configured sizes) to the model's output location.
- ``reconciler ml channels [STACK] --as MEMBER``: the member's ML input channels: status,
  records, files, size, and why a failed one failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler import workflow
from reconciler.cli.plan import backend_option
from reconciler.errors import ReconcilerError
from reconciler.workflow import ml


@click.group("ml")
def command() -> None:
    """Run Clean Rooms ML jobs: audience generation and export; inspect ML input channels."""


def _spark(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--spark")
        out[key] = setting
    return out


@command.command("generate-audience")
@click.argument("stack", required=False)
@backend_option
@click.option("--as", "member", required=True, help="The member key that starts the job (the seed's owner).")
@click.option("--model", required=True, help="The ConfiguredAudienceModel's name in the stack (or its ARN).")
@click.option("--collaboration", required=True, help="The collaboration the model is associated with.")
@click.option(
    "--seed-sql",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="SQL file: the seed query.",
)
@click.option(
    "--seed-s3", help='s3:// location of JSON lines {"user_id": ...} (locally: under .reconciler/results).'
)
@click.option("--role-arn", required=True, help="The role Clean Rooms ML assumes to read the seed.")
@click.option("--name", default="audience", show_default=True, help="The job's name.")
@click.option(
    "--spark", multiple=True, metavar="KEY=VALUE", help="A Spark property for the SQL seed's compute."
)
@click.option("--include-seed", is_flag=True, help="Put the seed users first in the output audience.")
@click.option("--poll", type=float, default=10.0, show_default=True, help="Seconds between status checks.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def generate_audience(
    stack: str | None,
    backend: str,
    member: str,
    model: str,
    collaboration: str,
    seed_sql: Path | None,
    seed_s3: str | None,
    role_arn: str,
    name: str,
    spark: tuple[str, ...],
    include_seed: bool,
    poll: float,
    fmt: str,
) -> int:
    """Start an audience generation job as MEMBER and follow it until it ends."""
    if (seed_sql is None) == (seed_s3 is None):  # before the workspace opens: a bad call writes nothing
        raise click.UsageError("give exactly one seed: --seed-sql FILE or --seed-s3 URI")
    properties = _spark(spark)
    sql = seed_sql.read_text(encoding="utf-8") if seed_sql is not None else None
    with workflow.open_workspace(stack, backend=backend) as ws:
        run = ml.generate_audience(
            ws,
            member=member,
            model=model,
            collaboration=collaboration,
            name=name,
            role_arn=role_arn,
            seed_sql=sql,
            seed_s3=seed_s3,
            spark=properties,
            include_seed=include_seed,
            poll_seconds=poll,
            on_status=(lambda s: click.echo(f"  status: {s}")) if fmt == "text" else None,
        )
    if fmt == "json":
        click.echo(json.dumps(run.job, indent=2, sort_keys=True, default=str))
    else:
        click.echo(_describe(run))
    return 0 if run.succeeded else 1


def _describe(run: ml.AudienceRun) -> str:
    job = run.job
    lines = [f"Audience generation job {run.arn}: {job.get('status')}"]
    details = job.get("statusDetails") or {}
    if details.get("message"):
        lines.append(f"  {details.get('statusCode', '')}: {details['message']}")
    metrics: dict[str, Any] = job.get("metrics") or {}
    for m in metrics.get("relevanceMetrics", []):
        size = m["audienceSize"]
        lines.append(f"  relevance at {size['value']} {size['type'].lower()}: {m['score']:.4f}")
    if "recallMetric" in metrics:
        lines.append(f"  recall: {metrics['recallMetric']:.4f}")
    if job.get("status") == "ACTIVE" and not metrics:
        lines.append("  (the model's owner does not share audience metrics)")
    return "\n".join(lines)


@command.command("export-audience")
@click.argument("stack", required=False)
@backend_option
@click.option("--as", "member", required=True, help="The member key that exports.")
@click.option("--job", required=True, help="The audience generation job's ARN.")
@click.option("--size", type=int, required=True, help="How many users (one of the model's audience sizes).")
@click.option(
    "--size-type", type=click.Choice(("ABSOLUTE", "PERCENTAGE")), default="ABSOLUTE", show_default=True
)
@click.option("--name", default="export", show_default=True)
def export_audience(
    stack: str | None, backend: str, member: str, job: str, size: int, size_type: str, name: str
) -> int:
    """Export the first SIZE users of a generated audience to the model's output location."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        export = ml.export_audience(ws, member=member, job=job, name=name, size=size, size_type=size_type)
    click.echo(f"Export {name}: {export.get('status')} -> {export.get('outputLocation', '')}")
    return 0 if export.get("status") == "ACTIVE" else 1


@command.command("channels")
@click.argument("stack", required=False)
@backend_option
@click.option("--as", "member", required=True, help="The member key whose channels to show.")
def channels(stack: str | None, backend: str, member: str) -> int:
    """Show MEMBER's ML input channels: status, records, files, size."""
    with workflow.open_workspace(stack, backend=backend) as ws:
        found = ml.input_channels(ws, member=member)
    if not found:
        raise ReconcilerError(
            f'member "{member}" has no ML input channels', hint="declare an MLInputChannel and apply"
        )
    for c in found:
        line = f"{c['collaboration']}/{c['name']}: {c['status']}"
        if c.get("status") == "ACTIVE":
            line += f", {c.get('numberOfRecords', 0)} records in {int(c.get('numberOfFiles', 0))} file(s)"
            line += f", {float(c.get('sizeInGb', 0.0)):.6f} GB, kept {c.get('retentionInDays')} days"
        elif (c.get("statusDetails") or {}).get("message"):
            line += f" ({c['statusDetails']['message']})"
        click.echo(line)
    return 0
