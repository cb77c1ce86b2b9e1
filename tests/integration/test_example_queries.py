"""Every sample query shipped with an example stack passes the analysis rules and returns rows.

The example stacks are what users copy; a sample query there that AWS would refuse teaches
the wrong thing, so each one is run through the local engine exactly as `reconciler query` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main

SPECS = Path(__file__).resolve().parents[2] / "reconciler" / "examples"
QUERIES = sorted(SPECS.glob("*/queries/*.sql"))

# Who runs each stack's sample queries: the member with CAN_QUERY.
QUERIER = {
    "retail-adtech": "retailer",
    "retail-adtech-classic": "retailer",
    "org-a-org-b": "org_a",
    "amc-multiparty": "query_submitter",
    "ml-lookalike": "advertiser",
}


def test_every_stack_with_queries_names_its_querier() -> None:
    assert QUERIES, "the example stacks ship sample queries"
    assert {q.parents[1].name for q in QUERIES} <= set(QUERIER)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.parents[1].name}/{q.name}")
def test_sample_query_is_allowed_and_returns_rows(query: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = query.parents[1]
    code = main(["query", str(stack), "--as", QUERIER[stack.name], "--file", str(query), "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    header, *rows = out.strip().splitlines()
    assert header and rows, f"{query} returned no rows"
