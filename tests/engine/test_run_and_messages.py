"""Execution is sealed; refusals name the rule, the table and the fragment; parameters stay literals."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reconciler.engine import (
    Collaboration,
    DataError,
    PolicyError,
    Prepared,
    Request,
    Table,
    check,
    enforce,
    execute,
    export,
    parse_policy,
)
from reconciler.engine.templates import literal
from reconciler.errors import QueryRejected

R = "111111111111"
POLICY = {
    "v1": {
        "custom": {
            "allowedAnalyses": ["ANY_QUERY"],
            "allowedAnalysisProviders": [R],
            "disallowedOutputColumns": ["email"],
        }
    }
}


@pytest.fixture
def collab(tmp_path: Path) -> Collaboration:
    data = tmp_path / "t.csv"
    data.write_text("email,city,secret\na@x,paris,s1\nb@x,rome,s2\n")
    table = Table("t", R, {"email": "VARCHAR", "city": "VARCHAR"}, parse_policy(POLICY), data=str(data))
    return Collaboration("SPARK", {R: frozenset({"CAN_QUERY"})}, {"t": table})


def test_only_allowed_columns_are_visible(collab: Collaboration) -> None:
    verdict = enforce(Request(R, "SELECT secret FROM t"), collab)
    assert verdict.reason == "disallowed_column"
    assert execute(check(Request(R, "SELECT * EXCEPT (email) FROM t"), collab)).columns == ("city",)


def test_sealed_connection_refuses_files_even_if_checks_were_bypassed(
    collab: Collaboration, tmp_path: Path
) -> None:
    other = tmp_path / "other.csv"
    other.write_text("x\n1\n")
    forged = Prepared(sql=f"SELECT * FROM read_csv('{other}')", tables=tuple(collab.tables.values()))
    with pytest.raises(DataError) as refused:  # DuckDB refuses it before reading: a planning error
        execute(forged)
    assert refused.value.code == "MALFORMED_QUERY" and refused.value.message.startswith("the query failed: ")
    with pytest.raises(DataError, match="withheld"):  # the lock refuses it; row-time text is withheld
        execute(Prepared(sql="SET enable_external_access = true", tables=tuple(collab.tables.values())))


def test_refusal_names_rule_table_and_fragment_as_written(collab: Collaboration) -> None:
    with pytest.raises(QueryRejected) as err:
        check(Request(R, "SELECT city,\n  UPPER(Email) AS e FROM t"), collab)
    verdict = err.value.verdict
    assert (verdict.reason, verdict.table, verdict.rule) == ("output_column_disallowed", "t", "CUSTOM")
    assert verdict.fragment == "UPPER(Email) AS e"
    assert "CUSTOM rule of table 't'" in err.value.message


RULES_OF_EACH_TYPE = {
    "AGGREGATION": {
        "aggregation": {
            "aggregateColumns": [{"columnNames": ["amount"], "function": "SUM"}],
            "joinColumns": ["person"],
            "dimensionColumns": ["region"],
            "scalarFunctions": [],
            "outputConstraints": [{"columnName": "person", "minimum": 2, "type": "COUNT_DISTINCT"}],
        }
    },
    "LIST": {"list": {"joinColumns": ["person"], "listColumns": ["region"]}},
    "CUSTOM": {"custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [R]}},
}


@pytest.mark.parametrize("rule_type", sorted(RULES_OF_EACH_TYPE))
def test_a_refusal_before_every_table_is_resolved_names_the_rule_type_of_those_found(
    rule_type: str,
) -> None:
    """A refusal raised while S5 is still resolving tables named "CUSTOM" for every rule type."""
    columns = {"person": "VARCHAR", "region": "VARCHAR", "amount": "DOUBLE"}
    table = Table("t", R, columns, parse_policy(RULES_OF_EACH_TYPE[rule_type]))
    collab = Collaboration("SPARK", {R: frozenset({"CAN_QUERY"})}, {"t": table})
    verdict = enforce(Request(R, "SELECT t.region FROM t JOIN nosuch ON t.person = nosuch.person"), collab)
    assert (verdict.reason, verdict.table, verdict.rule) == ("other", "t", rule_type)
    assert f"({rule_type} rule of table 't')" in verdict.text() and "nosuch" in verdict.text()


def test_a_refusal_over_tables_of_different_rule_types_names_each_tables_own_rule() -> None:
    aggregation = {
        "v1": {
            "aggregation": {
                "aggregateColumns": [{"columnNames": ["spend"], "function": "SUM"}],
                "joinColumns": ["person"],
                "dimensionColumns": ["campaign"],
                "scalarFunctions": [],
                "outputConstraints": [{"columnName": "person", "minimum": 2, "type": "COUNT_DISTINCT"}],
            }
        }
    }
    listing = {"v1": {"list": {"joinColumns": ["person"], "listColumns": ["item"]}}}
    tables = {
        "ad_impressions": Table(
            "ad_impressions",
            R,
            dict.fromkeys(("person", "campaign", "spend"), "VARCHAR"),
            parse_policy(aggregation),
        ),
        "purchases": Table(
            "purchases", R, dict.fromkeys(("person", "item"), "VARCHAR"), parse_policy(listing)
        ),
    }
    collab = Collaboration("SPARK", {R: frozenset({"CAN_QUERY"})}, tables)
    sql = (
        "SELECT a.campaign, SUM(a.spend) FROM ad_impressions a "
        "JOIN purchases p ON a.person = p.person GROUP BY 1"
    )
    with pytest.raises(QueryRejected) as err:
        check(Request(R, sql), collab)
    message = err.value.message
    assert "AGGREGATION rule of table 'ad_impressions', LIST rule of table 'purchases'" in message, message
    assert "CUSTOM" not in message and "'ad_impressions, purchases'" not in message
    verdict = err.value.verdict
    assert (verdict.table, verdict.rule) == ("ad_impressions, purchases", "AGGREGATION, LIST")


def test_export_writes_csv_and_parquet(collab: Collaboration, tmp_path: Path) -> None:
    prepared = check(Request(R, "SELECT city FROM t ORDER BY city"), collab)
    assert export(prepared, tmp_path / "out" / "r.csv", "CSV") == 2
    assert (tmp_path / "out" / "r.csv").read_text().splitlines() == ["city", "paris", "rome"]
    assert export(prepared, tmp_path / "r.parquet", "PARQUET") == 2
    assert duckdb.sql(f"SELECT COUNT(*) FROM '{tmp_path / 'r.parquet'}'").fetchall() == [(2,)]


def test_missing_local_data_is_a_clear_error(collab: Collaboration) -> None:
    table = Table("t", R, {"city": "VARCHAR"}, parse_policy(POLICY), data="/nonexistent/t.csv")
    broken = Collaboration("SPARK", collab.abilities, {"t": table})
    with pytest.raises(DataError, match="does not exist"):
        execute(check(Request(R, "SELECT city FROM t"), broken))


@pytest.mark.parametrize(
    ("kind", "value", "sql"),
    [
        ("VARCHAR", "x' OR '1'='1", "'x'' OR ''1''=''1'"),
        ("INTEGER", " 42 ", "42"),
        ("DOUBLE", "2.5", "2.5"),
        ("BOOLEAN", "TRUE", "TRUE"),
        ("DATE", "2024-02-29", "CAST('2024-02-29' AS DATE)"),
    ],
)
def test_parameters_become_one_typed_literal(kind: str, value: str, sql: str) -> None:
    assert literal(kind, value).sql(dialect="duckdb") == sql


@pytest.mark.parametrize(
    ("kind", "value"), [("INTEGER", "1 OR 1=1"), ("DATE", "2024-13-01"), ("BOOLEAN", "yes")]
)
def test_parameters_of_the_wrong_type_are_refused(kind: str, value: str) -> None:
    with pytest.raises(QueryRejected, match="not a valid"):
        literal(kind, value)


@pytest.mark.parametrize(
    "policy",
    [
        {"list": {"joinColumns": [], "listColumns": ["a"]}},
        {"list": {"joinColumns": ["a"], "listColumns": ["a"]}},
        {
            "aggregation": {
                "aggregateColumns": [],
                "joinColumns": [],
                "dimensionColumns": [],
                "scalarFunctions": [],
                "outputConstraints": [],
            }
        },
        {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "aggregationThresholds": [
                    {"identityColumns": ["a"], "minimumIdentityCount": 2, "type": "COUNT_DISTINCT"}
                ],
            }
        },
        {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "comparisonControls": {
                    "allowedLiteralComparisonColumns": ["zz"],
                    "allowedColumnComparisonColumns": [],
                },
            }
        },
        {"aggregation": {}, "list": {}},
    ],
)
def test_bad_policies_are_configuration_errors(policy: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        parse_policy(policy, columns=["a", "b"])


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        (
            "SELEC * FROM t",
            "near `FROM` (line 1, column 9): unexpected word (the query starts with SELEC: did you mean SEL",
        ),
        ("SELECT city FROM t WHERE", "near `WHERE` (line 1, column 20)"),
        ("SELECT city,\n  (email FROM t", "near `FROM` (line 2, column 10): expecting )"),
        ("SELECT 'paris FROM t", "near line 1, column 8: a quote or comment opened there is never closed"),
    ],
)
def test_a_query_that_does_not_parse_says_where_in_the_users_words(
    collab: Collaboration, sql: str, said: str
) -> None:
    verdict = enforce(Request(R, sql), collab)
    assert verdict.reason == "parse_error"
    text = verdict.text()
    assert f"the query does not parse {said}" in text
    assert "<class" not in text and "sqlglot" not in text and "Required keyword" not in text
