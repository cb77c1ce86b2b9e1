"""Layer 4: analysis templates are checked at validate time as the engine checks a query."""

from __future__ import annotations

from pathlib import Path

from spec_helpers import COLLABORATION, problems, where, write

from reconciler.spec import validate_stack

TABLE = """\
kind: ConfiguredTable
name: purchases
owner: retailer
tableReference:
  glue: {databaseName: retail, tableName: purchases}
allowedColumns: [hashed_email, category, amount]
analysisRule:
  type: CUSTOM
  policy:
    allowedAnalyses: [spend]
    disallowedOutputColumns: [hashed_email]
    aggregationThresholds:
      - identityColumns: [hashed_email]
        minimumIdentityCount: 2
        type: COUNT_DISTINCT
        allowedAggregateExpressionType: COLUMNS_ONLY
associations:
  - collaboration: retail
    name: purchases
    roleArn: arn:aws:iam::123456789012:role/CleanRoomsTableRole
"""

TEMPLATE = """\
kind: AnalysisTemplate
name: spend
collaboration: retail
owner: retailer
format: SQL
source: {file: spend.sql}
"""


def _refused(tmp: Path, sql: str) -> list:  # type: ignore[type-arg]
    found = problems(tmp, {"c.yaml": COLLABORATION, "t.yaml": TABLE, "a.yaml": TEMPLATE, "spend.sql": sql})
    return [d for d in found if d.code == "template-always-refused"]


def test_a_disallowed_column_in_count_distinct_is_a_validate_error(tmp_path: Path) -> None:
    sql = "SELECT category, COUNT(DISTINCT hashed_email) AS buyers FROM purchases GROUP BY category"
    [d] = _refused(tmp_path, sql)
    assert d.summary.startswith('template "spend" is always refused by the CUSTOM rule of table "purchases"')
    assert "hashed_email" in d.summary and "COUNT(DISTINCT hashed_email)" in d.detail
    assert "per-user CTE" in d.hint
    assert where(d) == "a.yaml:6:1"


def test_a_sum_over_a_cte_column_under_columns_only_is_a_validate_error(tmp_path: Path) -> None:
    sql = (
        "WITH doubled AS (SELECT hashed_email, category, amount * 2 AS twice FROM purchases)\n"
        "SELECT category, SUM(twice) AS total FROM doubled GROUP BY category"
    )
    [d] = _refused(tmp_path, sql)
    assert d.summary.startswith('template "spend" is always refused')
    assert "COLUMNS_ONLY" in d.hint


def test_a_template_the_rules_allow_passes(tmp_path: Path) -> None:
    sql = (
        "WITH buyers AS (SELECT DISTINCT category, hashed_email FROM purchases)\n"
        "SELECT category, COUNT(*) AS buyers FROM buyers GROUP BY category"
    )
    assert _refused(tmp_path, sql) == []
    assert (
        problems(tmp_path, {"c.yaml": COLLABORATION, "t.yaml": TABLE, "a.yaml": TEMPLATE, "spend.sql": sql})
        == []
    )


def test_an_unapproved_template_is_left_to_the_approval_warning(tmp_path: Path) -> None:
    table = TABLE.replace(
        "allowedAnalyses: [spend]", "allowedAnalyses: [ANY_QUERY]\n    allowedAnalysisProviders: [adtech]"
    )
    sql = "SELECT category, COUNT(DISTINCT hashed_email) AS buyers FROM purchases GROUP BY category"
    files = {"c.yaml": COLLABORATION, "t.yaml": table, "a.yaml": TEMPLATE, "spend.sql": sql}
    _, diagnostics = validate_stack(write(tmp_path, files))
    codes = [d.code for d in diagnostics]
    assert "template-not-approved" in codes and codes.count("template-always-refused") == 1
