"""Differential privacy for the local engine: noise, budgets, and noisy answers to DP queries.

What AWS Clean Rooms does and what we mimic is in ``DIFFERENTIAL_PRIVACY.md``; this package is
the small internal implementation it recommends (no DP library at run time):

- ``noise``: exact discrete Laplace sampling (CKS20) over ``Fraction`` scales; ``NoiseSource``
  is ``secure`` by default, ``seeded`` only for tests and dry runs (results then not private).
- ``calibrate``: usersNoisePerQuery -> noise scale and the epsilon one release costs; what each
  aggregate type releases (its weight); max counts per epsilon.
- ``accountant``: the ledger (rows of query id, time, aggregates, epsilon), admission that
  refuses without spending, calendar-month refresh, update rules, preview, access budgets.
- ``bounds``: private choice of the user contribution limit and clamping bounds.
- ``mechanism``: ``execute`` (DuckDB, noisy rows) of a ``DPQuery`` that the engine built
  (``reconciler.engine.dp_query`` checks the query's shape on base columns).
- ``preview``: what a query would cost and how noisy it would be, without spending.

How the engine uses it (a protected query over tables whose custom rule has
``differentialPrivacy``), in this order::

    query = prepared.dp        # engine.check refused SQL DP cannot answer; nothing read
    accountant.admit(query_id, query.kinds, budgets)          # BudgetExhausted: nothing spent
    result = dp.execute(con, query, users_noise=N, noise=NoiseSource.secure(), query_id=query_id)
    # result.columns / result.rows are written as the query's result; result.to_api() is
    # protectedQuery.differentialPrivacy. result.audit is for tests only; never expose it.

Integration points (wired: the engine, StartProtectedQuery and ``reconciler query`` call these):

- engine (stage C2 of the custom rule, ``engine/custom.py`` and ``engine/dp_query.py``): the
  shape check refuses with the engine's ``other`` verdict and the fragment; ``Prepared.dp`` /
  ``Prepared.dp_tables`` keep the DPQuery, and
  ``engine.execute(prepared, DPRun(users_noise, query_id, noise))`` calls ``execute`` on the
  sealed connection instead of running ``prepared.sql`` (without a ``DPRun`` it refuses).
- emulator StartProtectedQuery (``emulator/protected_queries.py``): after the rule checks and
  before the run, ``privacy_budgets.admit_protected_query(ctx, collaboration_id, query_id,
  query.kinds, association_arns)`` returns the DP policy (usersNoisePerQuery) or raises the
  ValidationException. Noise is ``NoiseSource.secure()``, always (tests monkeypatch
  ``protected_queries.noise_source``; no request can reach it).
- ``reconciler query`` (``engine/from_spec.py``): ``preview_query`` against a fresh budget for
  the cost note and ``--preview``; ``--seed`` passes ``NoiseSource.seeded(seed)`` (labelled not
  private); a dry run spends no budget.
"""

from __future__ import annotations

from reconciler.dp.accountant import (
    AccessBudgetParameter,
    AccessBudgetParams,
    Accountant,
    BudgetExhausted,
    BudgetRef,
    BudgetUpdateRefused,
    Debit,
    DPBudgetParams,
    LedgerStore,
    MemoryLedger,
    access_budget,
    check_dp_update,
    dp_budget,
    plan_admission,
    preview_privacy_impact,
    remaining_epsilon,
)
from reconciler.dp.calibrate import AggregateType, aggregate_cost, epsilon_unit, max_counts, unit_scale
from reconciler.dp.mechanism import DPAggregate, DPQuery, DPResult, execute
from reconciler.dp.noise import NoiseSource, discrete_laplace
from reconciler.dp.preview import QueryPreview, preview_query

__all__ = [
    "AccessBudgetParameter",
    "AccessBudgetParams",
    "Accountant",
    "AggregateType",
    "BudgetExhausted",
    "BudgetRef",
    "BudgetUpdateRefused",
    "DPBudgetParams",
    "DPAggregate",
    "DPQuery",
    "DPResult",
    "Debit",
    "LedgerStore",
    "MemoryLedger",
    "NoiseSource",
    "QueryPreview",
    "access_budget",
    "aggregate_cost",
    "check_dp_update",
    "discrete_laplace",
    "dp_budget",
    "epsilon_unit",
    "execute",
    "max_counts",
    "plan_admission",
    "preview_privacy_impact",
    "preview_query",
    "remaining_epsilon",
    "unit_scale",
]
