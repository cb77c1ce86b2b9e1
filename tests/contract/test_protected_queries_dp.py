"""Protected queries on tables with differential privacy, through boto3 alone: noise and budgets.

A SPARK collaboration where OWNER contributes ``visits`` (custom rule with differentialPrivacy on
user_id) and creates the DIFFERENTIAL_PRIVACY budget template; PARTNER queries. Costs are
recomputed here from the documented formula (one release costs epsilon ln 20 / N; COUNT_DISTINCT
is 1 release, COUNT 2, SUM 3, AVG 4, STDDEV 5), not read from the implementation.
"""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import Clock
from contract_helpers import (
    OWNER,
    PARTNER,
    associate,
    create_collaboration,
    create_table,
    error_of,
    finished,
    join,
)

from reconciler import emulator
from reconciler.dp import NoiseSource
from reconciler.dp.noise import RandomBits
from reconciler.emulator import protected_queries

USERS = 1200  # enough users per region for its group to clear the DP group selection
WEIGHT = {"COUNT_DISTINCT": 1, "COUNT": 2, "SUM": 3, "AVG": 4, "STDDEV": 5}
DISTINCT_USERS = "SELECT COUNT(DISTINCT user_id) AS users FROM visits"


def _custom_dp() -> dict[str, Any]:
    """No disallowedOutputColumns: it would also block COUNT(DISTINCT user_id), the cheapest DP
    aggregate; differential privacy itself never lets the user identifier reach the output."""
    return {
        "v1": {
            "custom": {
                "allowedAnalyses": ["ANY_QUERY"],
                "allowedAnalysisProviders": [PARTNER],
                "differentialPrivacy": {"columns": [{"name": "user_id"}]},
            }
        }
    }


@pytest.fixture
def dp_world(emu: emulator.Emulator, owner: Any, partner: Any, tmp_path: Path) -> dict[str, Any]:
    """The collaboration, its DP table (user u<i> has i % 4 + 1 visits), no budget template yet."""
    data = tmp_path / "visits.csv"
    duckdb.sql(
        f"COPY (SELECT 'u' || u AS user_id, CASE WHEN u % 2 = 0 THEN 'east' ELSE 'west' END AS region, "
        f"CAST((v + 1) * 10 AS DOUBLE) AS minutes FROM range({USERS}) a(u), range(4) b(v) WHERE v <= u % 4) "
        f"TO '{data}' (HEADER)"
    )
    collaboration = create_collaboration(owner)
    mo = join(owner, collaboration["id"])
    mp = join(partner, collaboration["id"])
    emu.catalog.register(OWNER, "db", "visits", data)
    table = create_table(owner, "visits", ["user_id", "region", "minutes"], database="db")
    owner.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="CUSTOM", analysisRulePolicy=_custom_dp()
    )
    association = associate(owner, OWNER, mo["id"], table["id"], name="visits")
    return {"owner_membership": mo["id"], "membership": mp["id"], "association": association, "data": data}


def _budget(owner: Any, world: dict[str, Any], epsilon: int, noise: int, refresh: str = "NONE") -> None:
    owner.create_privacy_budget_template(
        membershipIdentifier=world["owner_membership"],
        autoRefresh=refresh,
        privacyBudgetType="DIFFERENTIAL_PRIVACY",
        parameters={"differentialPrivacy": {"epsilon": epsilon, "usersNoisePerQuery": noise}},
    )


def _start(partner: Any, world: dict[str, Any], sql: str) -> str:
    return str(
        partner.start_protected_query(
            type="SQL",
            membershipIdentifier=world["membership"],
            sqlParameters={"queryString": sql},
            resultConfiguration={
                "outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "results", "keyPrefix": "dp"}}
            },
        )["protectedQuery"]["id"]
    )


def _run(partner: Any, world: dict[str, Any], sql: str) -> dict[str, Any]:
    return finished(partner, world["membership"], _start(partner, world, sql))


def _rows(emu: emulator.Emulator, query: dict[str, Any]) -> list[dict[str, str]]:
    assert query["status"] == "SUCCESS", query.get("error")
    path = emu.results_root / query["result"]["output"]["s3"]["location"].removeprefix("s3://")
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _remaining(partner: Any, world: dict[str, Any]) -> dict[str, int]:
    (summary,) = partner.list_privacy_budgets(
        membershipIdentifier=world["membership"], privacyBudgetType="DIFFERENTIAL_PRIVACY"
    )["privacyBudgetSummaries"]
    return {a["type"]: a["remainingCount"] for a in summary["budget"]["differentialPrivacy"]["aggregations"]}


def _expected(epsilon: float, noise: int, spent_units: int) -> dict[str, int]:
    """remainingCount per type after ``spent_units`` releases, from the documented costs."""
    unit = math.log(20) / noise
    return {k: math.floor((epsilon - spent_units * unit) / (w * unit) + 1e-9) for k, w in WEIGHT.items()}


class _Replayable(NoiseSource):
    """Seeded noise that ignores the (random) query id, so a test replays exactly."""

    def rng(self, query_id: str, aggregate_index: int, group_key: object, purpose: str) -> RandomBits:
        return super().rng("test", aggregate_index, group_key, purpose)

    def token(self, query_id: str, purpose: str) -> str:
        return super().token("test", purpose)


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test-only hook: seeded noise (seed 0, 1, 2, ... per query), never reachable by a request."""
    seeds = itertools.count()
    monkeypatch.setattr(
        protected_queries, "noise_source", lambda _qid: _Replayable(NoiseSource.seeded(next(seeds)).seed)
    )


def test_answers_are_noisy_around_the_truth_and_rarely_exact(
    emu: emulator.Emulator, owner: Any, partner: Any, dp_world: dict[str, Any], seeded: None
) -> None:
    _budget(owner, dp_world, epsilon=20, noise=100)
    runs = 40
    answers = [int(_rows(emu, _run(partner, dp_world, DISTINCT_USERS))[0]["users"]) for _ in range(runs)]
    scale = 100 / math.log(20)  # discrete Laplace scale for sensitivity 1 and N = 100
    a = math.exp(-1 / scale)
    sd = math.sqrt(2 * a) / (1 - a)
    assert abs(statistics.mean(answers) - USERS) < 4 * sd / math.sqrt(runs)
    assert 0.6 * sd < statistics.stdev(answers) < 1.4 * sd
    p_exact = (1 - a) / (1 + a)  # P(noise = 0), about 1.5 %
    exact = sum(1 for x in answers if x == USERS)
    assert exact <= runs * p_exact + 3 * math.sqrt(runs * p_exact), "exact more often than noise allows"
    assert len(set(answers)) > runs // 2
    assert _remaining(partner, dp_world) == _expected(20, 100, runs * WEIGHT["COUNT_DISTINCT"])


def test_get_reports_the_sensitivity_parameters_and_budget_drops_by_the_documented_cost(
    emu: emulator.Emulator, owner: Any, partner: Any, dp_world: dict[str, Any], seeded: None
) -> None:
    """Seeded, so that the privately chosen UCL and bounds replay exactly."""
    _budget(owner, dp_world, epsilon=20, noise=30)
    assert _remaining(partner, dp_world) == _expected(20, 30, 0) == {
        "COUNT_DISTINCT": 200, "COUNT": 100, "SUM": 66, "AVG": 50, "STDDEV": 40,
    }  # fmt: skip
    sql = "SELECT region, COUNT(*) AS n, SUM(minutes) AS total FROM visits GROUP BY region ORDER BY region"
    query = _run(partner, dp_world, sql)
    rows = _rows(emu, query)
    assert [r["region"] for r in rows] == ["east", "west"]
    params = query["differentialPrivacy"]["sensitivityParameters"]
    assert [(p["aggregationType"], p["aggregationExpression"]) for p in params] == [
        ("COUNT", "COUNT(*)"),
        ("SUM", "SUM(minutes)"),
    ]
    assert all(p["userContributionLimit"] >= 1 for p in params)
    assert params[1]["minColumnValue"] == -params[1]["maxColumnValue"] and params[1]["maxColumnValue"] > 0
    assert "minColumnValue" not in params[0]
    spent = WEIGHT["COUNT"] + WEIGHT["SUM"] + WEIGHT["COUNT_DISTINCT"]  # + the group selection's count
    assert _remaining(partner, dp_world) == _expected(20, 30, spent)
    again = _run(partner, dp_world, sql + " LIMIT 1")  # a repeated aggregate is charged once per query
    assert again["status"] == "SUCCESS"
    assert _remaining(partner, dp_world) == _expected(20, 30, 2 * spent)


def test_exhausted_budget_refuses_with_a_clear_message_and_spends_nothing(
    owner: Any, partner: Any, dp_world: dict[str, Any]
) -> None:
    _budget(owner, dp_world, epsilon=1, noise=10)  # one release costs 0.2996: 3 COUNT_DISTINCT
    for _ in range(3):
        assert _run(partner, dp_world, DISTINCT_USERS)["status"] == "SUCCESS"
    assert _remaining(partner, dp_world)["COUNT_DISTINCT"] == 0
    listed = partner.list_protected_queries(membershipIdentifier=dp_world["membership"])["protectedQueries"]
    error = error_of(lambda: _start(partner, dp_world, DISTINCT_USERS))
    assert error["Error"]["Code"] == "ValidationException"
    message = error["Error"]["Message"]
    assert "spent nothing" in message and "COUNT_DISTINCT needs 1 (remaining 0 of 3)" in message
    assert "does not refresh" in message
    assert _remaining(partner, dp_world) == _expected(1, 10, 3)
    after = partner.list_protected_queries(membershipIdentifier=dp_world["membership"])["protectedQueries"]
    assert len(after) == len(listed) == 3
    avg = error_of(lambda: _start(partner, dp_world, "SELECT AVG(minutes) FROM visits"))
    assert "AVG needs 1 (remaining 0 of 0)" in avg["Error"]["Message"]


def test_calendar_month_budget_refreshes_at_the_month_boundary(
    clock: Clock, owner: Any, partner: Any, dp_world: dict[str, Any]
) -> None:
    import datetime as dt

    clock.now = dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)
    _budget(owner, dp_world, epsilon=1, noise=10, refresh="CALENDAR_MONTH")
    for _ in range(3):
        assert _run(partner, dp_world, DISTINCT_USERS)["status"] == "SUCCESS"
    error = error_of(lambda: _start(partner, dp_world, DISTINCT_USERS))
    assert "it refreshes on 2026-02-01 00:00 UTC" in error["Error"]["Message"]
    clock.now = dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC)
    assert _remaining(partner, dp_world) == _expected(1, 10, 0)
    assert _run(partner, dp_world, DISTINCT_USERS)["status"] == "SUCCESS"
    assert _remaining(partner, dp_world) == _expected(1, 10, 1)


def test_sql_dp_cannot_answer_fails_with_the_reason_reads_nothing_and_costs_nothing(
    emu: emulator.Emulator, owner: Any, partner: Any, dp_world: dict[str, Any]
) -> None:
    _budget(owner, dp_world, epsilon=5, noise=30)
    before = _remaining(partner, dp_world)
    for sql, words in (
        ("SELECT region, MAX(minutes) FROM visits GROUP BY region", "MAX is not a differentially private"),
        ("SELECT region, minutes FROM visits", "must aggregate"),
        ("SELECT user_id, COUNT(*) FROM visits GROUP BY user_id", "grouping by the user identifier"),
    ):
        query = _run(partner, dp_world, sql)
        assert query["status"] == "FAILED"
        assert query["error"]["code"] == "MALFORMED_QUERY"
        assert query["error"]["message"].startswith("query refused [other]")
        assert "differential privacy" in query["error"]["message"] and words in query["error"]["message"]
        assert "result" not in query and "differentialPrivacy" not in query
    assert _remaining(partner, dp_world) == before
    assert not list(emu.results_root.glob("results/**/*.csv"))


def test_dp_table_cannot_be_queried_without_a_budget_template(partner: Any, dp_world: dict[str, Any]) -> None:
    error = error_of(lambda: _start(partner, dp_world, DISTINCT_USERS))
    assert error["Error"]["Code"] == "ValidationException"
    assert "differential privacy budget template" in error["Error"]["Message"]


@pytest.mark.parametrize("queries", ["manual"])  # the run waits for run_pending()
def test_a_query_that_fails_after_admission_stays_charged(
    emu: emulator.Emulator, owner: Any, partner: Any, dp_world: dict[str, Any]
) -> None:
    _budget(owner, dp_world, epsilon=5, noise=30)
    qid = _start(partner, dp_world, DISTINCT_USERS)
    dp_world["data"].unlink()  # the data vanishes between admission and the run
    assert emu.queries.run_pending() == [qid]
    query = finished(partner, dp_world["membership"], qid)
    assert query["status"] == "FAILED" and "does not exist" in query["error"]["message"]
    assert _remaining(partner, dp_world) == _expected(5, 30, 1)


def test_access_budget_counts_admitted_queries_per_table(
    emu: emulator.Emulator, owner: Any, partner: Any, dp_world: dict[str, Any]
) -> None:
    """A table without DP under an ACCESS_BUDGET template (one template per collaboration)."""
    emu.catalog.register(OWNER, "db", "towns", dp_world["data"])
    policy = _custom_dp()
    del policy["v1"]["custom"]["differentialPrivacy"]
    table = create_table(owner, "towns", ["region"], database="db")
    owner.create_configured_table_analysis_rule(
        configuredTableIdentifier=table["id"], analysisRuleType="CUSTOM", analysisRulePolicy=policy
    )
    association = associate(owner, OWNER, dp_world["owner_membership"], table["id"], name="towns")
    owner.create_privacy_budget_template(
        membershipIdentifier=dp_world["owner_membership"],
        privacyBudgetType="ACCESS_BUDGET",
        parameters={
            "accessBudget": {
                "resourceArn": association["arn"],
                "budgetParameters": [{"type": "LIFETIME", "budget": 1}],
            }
        },
    )
    sql = "SELECT region, COUNT(*) AS n FROM towns GROUP BY region"
    assert _run(partner, dp_world, sql)["status"] == "SUCCESS"
    error = error_of(lambda: _start(partner, dp_world, sql))
    assert "access budget" in error["Error"]["Message"] and "no queries remain" in error["Error"]["Message"]
    refused = _run(partner, dp_world, "SELECT user_id FROM towns")  # refused by the rules: costs nothing
    assert refused["status"] == "FAILED"


def test_a_query_that_could_not_be_checked_at_start_never_runs_uncharged(
    owner: Any, partner: Any, dp_world: dict[str, Any]
) -> None:
    _budget(owner, dp_world, epsilon=5, noise=30)
    data: Path = dp_world["data"]
    saved = data.read_bytes()
    data.unlink()  # Start cannot check the query: nothing is charged
    qid = _start(partner, dp_world, DISTINCT_USERS)
    data.write_bytes(saved)  # by the time it would run, it would pass
    query = finished(partner, dp_world["membership"], qid)
    assert query["status"] == "FAILED" and "charged to no budget" in query["error"]["message"]
    assert query["error"]["code"] == "INVALID_RESOURCE"  # the engine's code for the missing data, kept
    assert "result" not in query
    assert _remaining(partner, dp_world) == _expected(5, 30, 0)
