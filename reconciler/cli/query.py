"""``reconciler query``: dry-run a protected query against a stack's rules and local data.

Nothing needs to be applied: the spec's analysis rules are enforced as AWS enforces them, the
query runs on DuckDB over each table's ``localData``, and groups below a threshold vanish. A
refused query exits 1 with the reason, the rule and table, and the offending SQL fragment.
Tables with differential privacy are answered with noise; a note on stderr says what the query
would cost on a fresh budget (a dry run spends none). ``--preview`` shows the cost and the
expected noise without reading data; ``--seed`` makes the noise reproducible (NOT private).

When a table's rule thresholds the result (an aggregation rule's output constraints, a custom
rule's minimum aggregation threshold), a note on stderr says which thresholds applied. It never
says whether any group fell below them, nor which: that would tell the querier something about
rows they may not see (a group of one person exists), which AWS does not tell either.

``--out FILE`` writes the rows there; its extension chooses the format (``.csv``, ``.json``,
``.parquet``; anything else: the table) unless ``--format`` says otherwise, and a ``--format``
that contradicts the extension is refused. Exit codes: 0 the query ran (with rows or none),
1 refused by the rules, or any other error.

``--engine spark`` runs the same checked statement on Spark (``--spark-master``, ``local[*]`` by
default) for SPARK collaborations; it needs the ``spark`` extra.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from reconciler import userfiles, workflow
from reconciler.engine import Result, write
from reconciler.engine.enforce import Prepared
from reconciler.engine.from_spec import DryRun, run_query
from reconciler.engine.rules import AggregationRule, CustomRule

#: ``--out`` extension -> format (anything else: the text table).
FORMAT_OF_EXTENSION = {".csv": "csv", ".json": "json", ".parquet": "parquet"}


def _param(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(
                f"{item!r} is not KEY=VALUE (e.g. --param region=north)", param_hint="--param"
            )
        if key in params:
            raise click.BadParameter(f"{key} is given twice; give each parameter once", param_hint="--param")
        params[key] = value
    return params


def render(result: Result, fmt: str) -> str:
    """The rows as an aligned table, CSV, or JSON (a list of objects)."""
    if fmt == "json":
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return json.dumps(rows, indent=2, default=str) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return buffer.getvalue()
    cells = [list(result.columns)] + [["NULL" if v is None else str(v) for v in row] for row in result.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(result.columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


def out_format(out: Path | None, fmt: str | None) -> str:
    """The format to write: ``--format`` if given, else ``--out``'s extension, else the table.

    Raises:
        click.UsageError: ``--format`` contradicts the extension of ``--out``.
    """
    implied = FORMAT_OF_EXTENSION.get(out.suffix.lower()) if out is not None else None
    if fmt is not None and implied is not None and fmt != implied:
        raise click.UsageError(
            f"--out {out} is {implied.upper()} by its extension but --format {fmt} was given;"
            " drop one of them"
        )
    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out FILE (Parquet is not printed)")
    return fmt or implied or "table"


def thresholds(prepared: Prepared) -> list[str]:
    """The thresholds that suppress groups of this query's result, one phrase per table (no data)."""
    found = []
    for table in sorted(prepared.tables, key=lambda t: t.name):
        rule = table.rule
        if isinstance(rule, AggregationRule):
            found += [
                f"at least {minimum} distinct {column} of {table.name}"
                " (its aggregation rule's output constraint)"
                for column, minimum in rule.output_constraints
            ]
        elif (
            isinstance(rule, CustomRule)
            and rule.threshold is not None
            and table.name not in prepared.dp_tables
        ):
            t = rule.threshold
            overrides = ", ".join(f"{c}: {m}" for c, m in sorted(t.overrides.items()))
            found.append(
                f"at least {t.minimum} distinct {t.identity_column} of {table.name}"
                f"{f' ({overrides} for these output columns)' if overrides else ''}"
                " (its custom rule's minimum aggregation threshold)"
            )
    return found


def suppression_note(run: DryRun) -> str:
    """Which thresholds applied; never whether any group was below them, or which."""
    applied = thresholds(run.prepared)
    if not applied:
        return ""
    rows = len(run.result.rows) if run.result is not None else 0
    lines = [
        "suppression: a row is returned only for a group with " + ", and ".join(applied) + "."
        " Groups below that are dropped; the result never says whether any were, or which."
    ]
    if rows == 0:
        lines.append(
            "(no row met the thresholds, or no row matched the query: the two look alike on purpose)"
        )
    return "\n".join(lines) + "\n"


def dp_note(run: DryRun) -> str:
    """What a noisy answer cost (on a fresh budget; nothing spent) and whether it is private."""
    if run.cost is None:
        return ""
    kinds = ", ".join(a.kind.value for a in run.cost.aggregates)
    lines = [
        f"differential privacy: noisy answer (usersNoisePerQuery {run.cost.params.users_noise_per_query}); "
        f"the query costs epsilon {float(run.cost.cost):.4f} of {run.cost.params.epsilon} ({kinds}); "
        "this dry run spent no budget (see --preview)"
    ]
    if run.seed is not None:
        lines.append(
            f"WARNING: the noise comes from --seed {run.seed}: these answers are reproducible and NOT private"
        )
    return "\n".join(lines) + "\n"


@click.command("query")
@click.argument("stack", required=False)
@click.option("--as", "member", required=True, help="Member (key or account ID) running the query.")
@click.option("--sql", default=None, help="The query text.")
@click.option(
    "--file",
    "file",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the query from a file.",
)
@click.option("--template", default=None, help="Run an analysis template of the stack by name.")
@click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="Template parameter (repeatable)."
)
@click.option("--collaboration", default=None, help="Collaboration name, when the stack declares several.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default=None,
    help="Output format [default: from --out's extension, else table].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write rows here; .csv, .json, .parquet choose the format.",
)
@click.option(
    "--preview",
    is_flag=True,
    help="Differential privacy: show what the query would cost and its expected noise; read no data.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Differential privacy: reproducible noise for dry runs (answers are then NOT private).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Run the checked query on DuckDB (Spark semantics for SPARK collaborations) or on Spark.",
)
@click.option(
    "--spark-master",
    default=None,
    metavar="URL",
    help="With --engine spark: the Spark master (default local[*]; a cluster: spark://host:7077).",
)
def command(
    stack: str | None,
    member: str,
    sql: str | None,
    file: Path | None,
    template: str | None,
    params: tuple[str, ...],
    collaboration: str | None,
    fmt: str | None,
    out: Path | None,
    preview: bool,
    seed: int | None,
    engine: str,
    spark_master: str | None,
) -> int:
    """Run a protected query locally, enforcing the stack's analysis rules.

    Exactly one of --sql, --file or --template. Exit code 0 when the query ran (rows or none),
    1 when refused or on error.
    """
    if sum(x is not None for x in (sql, file, template)) != 1:
        raise click.UsageError("give exactly one of --sql, --file or --template")
    if params and template is None:
        raise click.UsageError("--param only applies to --template")
    chosen = out_format(out, fmt)
    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master only applies to --engine spark")
    spark = None
    if engine == "spark":
        from reconciler.engine.spark.session import DEFAULT_MASTER, SparkSettings

        spark = SparkSettings(master=spark_master or DEFAULT_MASTER)
    if file is not None:
        sql = userfiles.read_text(file, what="the query file", option="--file")
    run = run_query(
        str(workflow.find_stack(stack)),  # found as plan and apply find it
        member,
        sql=sql or "",
        template=template or "",
        params=_param(params),
        collaboration=collaboration,
        seed=seed,
        preview=preview,
        spark=spark,
    )
    if preview:
        no_dp = "The query reads no table with differential privacy: it spends no privacy budget."
        click.echo(run.cost.to_text() if run.cost is not None else no_dp)
        return 0
    assert run.result is not None
    if out is not None and chosen == "parquet":
        write(run.result, out, "PARQUET")
    elif out is not None:
        userfiles.write_text(out, render(run.result, chosen), what="the rows", option="--out")
    else:
        click.echo(render(run.result, chosen), nl=False)
    click.echo(suppression_note(run) + dp_note(run), err=True, nl=False)
    return 0
