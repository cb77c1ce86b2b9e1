"""Benchmark: load and validate a generated stack of N resources (default 5,000; target < 2 s).

A resource is what the planner manages: the collaboration, each membership, each configured
table, its analysis rule, each association and its collaboration-level rule, each analysis
template. The stack is written to a temp dir as several multi-document files, then loaded and
validated (every layer, including the semantic and SQL checks when present) a few times; the
best and median times are printed.

    python3 bench/bench_validate.py [--resources N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.errors import Severity  # noqa: E402
from reconciler.spec import validate_stack  # noqa: E402

MEMBERS = 8
TABLES_PER_FILE = 50
COLUMNS = ["hashed_email", "event_date", "category", "amount", "region", "channel"]


def collaboration() -> str:
    members = []
    for i in range(MEMBERS):
        account = f"{100000000000 + i}"
        abilities = "[CAN_QUERY, CAN_RECEIVE_RESULTS]" if i == 0 else "[]"
        output = (
            f"""      defaultResultConfiguration:
        outputConfiguration:
          s3: {{bucket: results-{i}, keyPrefix: bench/, resultFormat: CSV}}
        roleArn: arn:aws:iam::{account}:role/CleanRoomsResultRole
"""
            if i == 0
            else ""
        )
        members.append(
            f"""  m{i}:
    accountId: "{account}"
    displayName: Member {i}
    abilities: {abilities}
    paymentConfiguration:
      queryCompute: {{isResponsible: {"true" if i == 0 else "false"}}}
    membership:
      queryLogStatus: ENABLED
      paymentConfiguration:
        queryCompute: {{isResponsible: {"true" if i == 0 else "false"}}}
{output}"""
        )
    return (
        "kind: Collaboration\nname: bench\ncreator: m0\nqueryLogStatus: ENABLED\nanalyticsEngine: SPARK\n"
        "members:\n" + "".join(members) + "tags: {team: bench}\n"
    )


def table(n: int) -> str:
    owner = n % MEMBERS
    account = f"{100000000000 + owner}"
    return f"""kind: ConfiguredTable
name: t{n:05d}
owner: m{owner}
description: generated table {n}
tableReference:
  glue: {{databaseName: bench_db, tableName: t{n:05d}}}
allowedColumns: [{", ".join(COLUMNS)}]
analysisMethod: DIRECT_QUERY
analysisRule:
  type: CUSTOM
  policy:
    allowedAnalyses: [ANY_QUERY]
    allowedAnalysisProviders: [m0]
    disallowedOutputColumns: [hashed_email]
    aggregationThresholds:
      - identityColumns: [hashed_email]
        minimumIdentityCount: 25
        type: COUNT_DISTINCT
        allowedAggregateExpressionType: COLUMNS_ONLY
    comparisonControls:
      allowedLiteralComparisonColumns: [event_date, category, region, channel]
      allowedColumnComparisonColumns: [hashed_email]
associations:
  - collaboration: bench
    name: t{n:05d}
    roleArn: arn:aws:iam::{account}:role/CleanRoomsTableRole
    analysisRule:
      allowedResultReceivers: [m0]
tags: {{index: "{n}"}}
"""


def template(n: int, tables: int) -> str:
    a, b = n % tables, (n * 7 + 1) % tables
    return f"""kind: AnalysisTemplate
name: report_{n:05d}
owner: m0
collaboration: bench
format: SQL
source:
  text: >-
    WITH pairs AS (SELECT DISTINCT a.category, a.hashed_email
    FROM t{a:05d} a JOIN t{b:05d} b ON a.hashed_email = b.hashed_email)
    SELECT pairs.category, COUNT(*) AS people FROM pairs GROUP BY pairs.category
"""


def generate(root: Path, resources: int) -> tuple[int, int]:
    """Write a stack of about ``resources`` resources; return (tables, templates)."""
    fixed = 1 + MEMBERS  # the collaboration and its memberships
    tables = max(1, (resources - fixed) * 24 // 100)  # four resources per table
    templates = max(0, resources - fixed - 4 * tables)
    (root / "collaboration.yaml").write_text(collaboration(), encoding="utf-8")
    for start in range(0, tables, TABLES_PER_FILE):
        docs = [table(n) for n in range(start, min(start + TABLES_PER_FILE, tables))]
        (root / f"tables_{start // TABLES_PER_FILE:04d}.yaml").write_text(
            "---\n".join(docs), encoding="utf-8"
        )
    docs = [template(n, tables) for n in range(templates)]
    if docs:
        (root / "templates.yaml").write_text("---\n".join(docs), encoding="utf-8")
    return tables, templates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=5000, help="resources in the generated stack")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tables, templates = generate(root, args.resources)
        size = sum(p.stat().st_size for p in root.iterdir())
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            stack, diagnostics = validate_stack(root)
            times.append(time.perf_counter() - started)
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        print(
            f"stack: {args.resources} resources ({tables} configured tables with rule and association, "
            f"{templates} templates), {len(stack.documents)} documents, {size / 1e6:.1f} MB of YAML"
        )
        print(
            f"load+validate: first (cold: botocore model, regexes) {times[0]:.2f} s, "
            f"best {min(times):.2f} s, median {statistics.median(times):.2f} s over {len(times)} runs"
        )
        print(f"diagnostics: {len(errors)} errors, {len(diagnostics) - len(errors)} warnings")
        for d in errors[:5]:
            print("  " + d.to_text().replace("\n", "\n  "))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
