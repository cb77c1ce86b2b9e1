"""Differential privacy end to end: ``reconciler query`` on the example stack, ``--preview``,
``--seed``, refusals, and ``reconciler budget`` after a protected query on the applied stack."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reconciler import emulator
from reconciler.cli import main

STACK = Path(__file__).resolve().parents[2] / "specs" / "org-a-org-b"
TEMPLATE = ["--as", "org_a", "--template", "engagement-by-demographic"]
ORG_A, ORG_B = "111122223333", "444455556666"


def _query(capsys: pytest.CaptureFixture[str], *args: str, stack: Path = STACK) -> tuple[int, str, str]:
    code = main(["query", str(stack), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _exact_counts() -> dict[str, int]:
    """Shared customers per age group in region north (the template's default), computed directly."""
    rows = duckdb.sql(
        f"SELECT a.age_group, COUNT(*) FROM '{STACK / 'data/customer_profiles.csv'}' a "
        f"JOIN '{STACK / 'data/engagement_metrics.parquet'}' b ON a.user_id = b.user_id "
        "WHERE a.region = 'north' GROUP BY 1"
    ).fetchall()
    return {str(g): int(n) for g, n in rows}


def test_example_template_runs_with_noise_and_says_what_it_would_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _query(capsys, *TEMPLATE, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    exact = _exact_counts()
    assert {r["age_group"] for r in rows} == set(exact)
    noisy = {r["age_group"]: int(r["shared_customers"]) for r in rows}
    assert noisy != exact  # six independent noisy counts all exact: probability below 1e-7
    assert "noisy answer (usersNoisePerQuery 30)" in err
    assert "costs epsilon 0.9986 of 10 (COUNT, AVG, SUM, COUNT_DISTINCT)" in err and "spent no budget" in err
    assert "NOT private" not in err


def test_seed_gives_reproducible_answers_labelled_not_private(capsys: pytest.CaptureFixture[str]) -> None:
    first = _query(capsys, *TEMPLATE, "--param", "region=east", "--seed", "7", "--format", "json")
    again = _query(capsys, *TEMPLATE, "--param", "region=east", "--seed", "7", "--format", "json")
    other = _query(capsys, *TEMPLATE, "--param", "region=east", "--seed", "8", "--format", "json")
    assert first[0] == again[0] == other[0] == 0
    assert first[1] == again[1] != other[1]
    assert "--seed 7: these answers are reproducible and NOT private" in first[2]


def test_preview_shows_cost_and_noise_and_spends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _query(capsys, *TEMPLATE, "--preview")
    assert code == 0, err
    assert "epsilon 10, usersNoisePerQuery 30" in out
    assert "COUNT(*): COUNT, costs epsilon 0.1997, noise +-30 x UCL rows" in out
    assert "SUM(a.purchase_amount): SUM, costs epsilon 0.2996" in out
    assert "group selection: COUNT(DISTINCT user) per group: COUNT_DISTINCT, costs epsilon 0.0999" in out
    assert "total cost epsilon 0.9986; remaining 10.0000 -> 9.0014" in out
    assert "COUNT_DISTINCT 100 -> 90" in out and "AVG 25 -> 22" in out
    assert "age_group" not in out  # no rows


def _open_stack(tmp_path: Path, budget: str | None) -> Path:
    """A copy of the example where org_a may send its own SQL; ``budget`` replaces the DP template."""
    stack = tmp_path / "stack"
    shutil.copytree(STACK, stack)
    table = stack / "engagement_metrics.yaml"
    table.write_text(
        table.read_text().replace(
            "allowedAnalyses: [engagement-by-demographic]",
            "allowedAnalyses: [ANY_QUERY]\n    allowedAnalysisProviders: [org_a]",
        )
    )
    templates = stack / "templates.yaml"
    text = templates.read_text()
    head, _, _ = text.partition("---\nkind: PrivacyBudgetTemplate")
    templates.write_text(head + (budget or ""))
    return stack


DP_TEMPLATE = """---
kind: PrivacyBudgetTemplate
collaboration: org-a-org-b-insights
owner: org_b
privacyBudgetType: DIFFERENTIAL_PRIVACY
autoRefresh: NONE
parameters:
  differentialPrivacy: {epsilon: 1, usersNoisePerQuery: 10}
"""


@pytest.mark.parametrize(
    ("sql", "budget", "words"),
    [
        (
            "SELECT region, MAX(engagement_score) FROM engagement_metrics GROUP BY region",
            DP_TEMPLATE,
            "differential privacy: MAX is not a differentially private aggregate",
        ),
        (
            "SELECT COUNT(*) AS n FROM engagement_metrics",
            None,
            'has no differential-privacy budget, so table "engagement_metrics" can never be queried',
        ),
        (
            "SELECT AVG(engagement_score) FROM engagement_metrics",
            DP_TEMPLATE,
            "the query needs epsilon 1.1983, more than the whole differential privacy budget of "
            "collaboration 'org-a-org-b-insights' (epsilon 1 at usersNoisePerQuery 10), so it could never "
            "run: AVG(engagement_score) (AVG) 1.1983",
        ),
    ],
)
def test_refused_dp_queries_say_why_and_return_no_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, budget: str | None, words: str
) -> None:
    stack = _open_stack(tmp_path, budget)
    code, out, err = _query(capsys, "--as", "org_a", "--sql", sql, stack=stack)
    assert code == 1 and out == ""
    assert words in err and "Traceback" not in err


def test_direct_dp_query_on_the_open_copy_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = _open_stack(tmp_path, DP_TEMPLATE)
    sql = "SELECT region, COUNT(*) AS users FROM engagement_metrics GROUP BY region"
    out_file = str(tmp_path / "r.parquet")
    code, out, err = _query(
        capsys, "--as", "org_a", "--sql", sql, "--seed", "1", "--out", out_file, stack=stack
    )
    assert code == 0, err
    assert out == ""
    rows = duckdb.sql(f"SELECT region, users FROM '{tmp_path / 'r.parquet'}' ORDER BY region").fetchall()
    assert [r[0] for r in rows] == ["east", "north", "south", "west"]
    assert all(isinstance(r[1], int) for r in rows)
    assert "costs epsilon 0.8987 of 1 (COUNT, COUNT_DISTINCT)" in err


def _run_template_on_the_applied_stack(db: Path) -> dict[str, Any]:
    """As org_a, bind the local data in the Glue stand-in and run the template through boto3."""
    with emulator.connect(db) as emu:
        emu.catalog.register(ORG_A, "org_a_crm", "customer_profiles", STACK / "data/customer_profiles.csv")
        emu.catalog.register(
            ORG_B, "org_b_analytics", "engagement_metrics", STACK / "data/engagement_metrics.parquet"
        )
        client = emu.client(account_id=ORG_A)
        (membership,) = client.list_memberships(status="ACTIVE")["membershipSummaries"]
        (template,) = client.list_analysis_templates(membershipIdentifier=membership["id"])[
            "analysisTemplateSummaries"
        ]
        started = client.start_protected_query(
            type="SQL",
            membershipIdentifier=membership["id"],
            sqlParameters={"analysisTemplateArn": template["arn"], "parameters": {"region": "east"}},
        )["protectedQuery"]
        emu.queries.run_pending()  # the run-now hook: the query ends before the emulator closes
        query: dict[str, Any] = client.get_protected_query(
            membershipIdentifier=membership["id"], protectedQueryIdentifier=started["id"]
        )["protectedQuery"]
        return query


def test_budget_shows_what_a_protected_query_spent_after_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["apply", str(STACK), "--auto-approve"]) == 0
    assert main(["budget", str(STACK)]) == 0
    assert "COUNT_DISTINCT     100 of 100" in capsys.readouterr().out
    query = _run_template_on_the_applied_stack(tmp_path / ".reconciler" / "local.duckdb")
    assert query["status"] == "SUCCESS", query.get("error")
    kinds = [p["aggregationType"] for p in query["differentialPrivacy"]["sensitivityParameters"]]
    assert kinds == ["COUNT", "AVG", "SUM"]
    assert main(["budget", str(STACK)]) == 0
    text = capsys.readouterr().out  # 10 - 0.9986 (COUNT 2 + AVG 4 + SUM 3 + the group selection 1 at N = 30)
    for line in (
        "COUNT_DISTINCT      90 of 100",
        "COUNT               45 of 50",
        "SUM                 30 of 33",
    ):
        assert line in text
    assert "AVG                 22 of 25" in text and "STDDEV              18 of 20" in text
