"""Protected queries on local data: analysis-rule enforcement (sqlglot) and execution (DuckDB).

The engine knows nothing about plans or the emulator. It takes API-shaped facts and a request:

- ``Table.from_api(association, configured_table, analysis_rule=..., association_rule=...,
  data=path)`` or ``Table(...)`` directly; rules come from ``parse_policy(analysisRulePolicy)``
  (the ``{"v1": {"aggregation"|"list"|"custom": {...}}}`` dicts of the API);
- ``Collaboration(engine="SPARK"|"CLEAN_ROOMS_SQL", abilities={account: {...}}, tables={name: Table})``;
- ``Request(querier=account, sql=text, receivers=[...], template_arn=..., template_creator=...,
  parameters=templates.resolve(template, given))``.

Then ``check(request, collaboration) -> Prepared`` (raises ``QueryRejected`` carrying a
``Verdict``: reason class, message, offending fragment, table, rule) or ``enforce(...) ->
Verdict``; ``execute(prepared) -> Result`` or ``export(prepared, path, "CSV"|"PARQUET")``.

Tables with differential privacy: ``check`` refuses SQL that DP cannot answer and keeps the
analyzed query on ``Prepared.dp`` (charge ``Prepared.dp.kinds`` to the budget); then
``execute(prepared, DPRun(users_noise, query_id))`` answers with noise (``Result.differential_privacy``
is ``protectedQuery.differentialPrivacy``). Without a ``DPRun`` such a query is refused; it never
gets an exact answer. ``write(result, path, fmt)`` writes rows already computed.
``from_spec.collaboration(stack, ...)`` builds the facts from a loaded spec.

Modules, following a query: ``rules`` (rule types as data), ``facts`` (inputs), ``templates``
(typed parameter binding), ``budget`` (limits on the check's work), ``enforce`` (stages S0-S6,
dialects, transpiling), ``bind``, ``sources`` and ``expressions`` (name resolution to base columns
and the canonical tree; ``scopes`` and ``values`` are what they find),
``allowlist`` and ``functions`` (the SQL accepted, as data; ``reference`` renders it for the
README), ``flat`` (aggregation and list rules), ``custom`` (custom rule and Spark-era controls),
``dp_query`` (the shapes differential privacy can answer), ``suppress`` (S7 rewrite), ``safe``
(errors are not answers), ``run`` (sealed, bounded DuckDB execution), ``verdict`` (refusals).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.engine.enforce import Prepared, check, enforce
from reconciler.engine.facts import Collaboration, Request, Table
from reconciler.engine.rules import PolicyError, Reason, RuleType, parse_policy
from reconciler.engine.templates import Parameter, Template
from reconciler.engine.verdict import Verdict

if TYPE_CHECKING:
    from reconciler.engine.run import DataError, DPRun, Result, describe, execute, export, write

#: Names of ``run``, imported on first use: the rule check (``validate`` runs it on every template)
#: needs no DuckDB, whose import alone takes longer than checking a stack.
_RUN = frozenset({"DataError", "DPRun", "Result", "describe", "execute", "export", "write"})


def __getattr__(name: str) -> Any:
    if name in _RUN:
        from reconciler.engine import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Collaboration",
    "DPRun",
    "DataError",
    "Parameter",
    "PolicyError",
    "Prepared",
    "Reason",
    "Request",
    "Result",
    "RuleType",
    "Table",
    "Template",
    "Verdict",
    "check",
    "describe",
    "enforce",
    "execute",
    "export",
    "parse_policy",
    "write",
]
