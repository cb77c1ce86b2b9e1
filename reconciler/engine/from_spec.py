"""From a loaded spec to engine facts: the collaboration, its tables with local data, its templates.

``reconciler query`` dry-runs against the spec itself, with nothing applied, so member keys are
turned into account IDs here, association names become table names, ``localData`` paths are
resolved next to their YAML, and analysis templates get a stable local ARN (``template/<name>``)
that a custom rule's ``allowedAnalyses`` may name by template name, as the spec does.

Tables with differential privacy are answered with noise at the usersNoisePerQuery of the
collaboration's DIFFERENTIAL_PRIVACY ``PrivacyBudgetTemplate``. A dry run has no ledger, so it
spends no budget: it checks the query against a fresh budget (a query that costs more than the
whole epsilon is refused, as AWS would refuse it) and reports what the query would cost there.
Noise comes from the CSPRNG; a seed gives reproducible answers that are labelled NOT private.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reconciler import dp
from reconciler.engine.enforce import Prepared, check
from reconciler.engine.facts import Collaboration, Request, Table
from reconciler.engine.rules import PolicyError, Reason, parse_policy
from reconciler.engine.templates import Parameter, Template, request_for
from reconciler.engine.verdict import refuse
from reconciler.errors import ReconcilerError
from reconciler.spec import Stack

if TYPE_CHECKING:
    from reconciler.engine.run import Result
    from reconciler.engine.spark.session import SparkSettings

__all__ = ["DryRun", "SpecQuery", "build", "run_query", "template_arn"]

#: The query id of seeded dry runs: with the seed, it fixes every noise draw.
SEEDED_QUERY_ID = "dry-run"

_MEMBER_LISTS = ("allowedAnalysisProviders", "allowedResultReceivers")


@dataclass(frozen=True)
class SpecQuery:
    """Everything ``reconciler query`` needs from a stack for one collaboration."""

    collaboration: Collaboration
    accounts: Mapping[str, str]  # member key -> account ID
    templates: Mapping[str, Template]
    dp_budget: dp.DPBudgetParams | None = None  # the collaboration's DIFFERENTIAL_PRIVACY template
    name: str = ""  # the collaboration's name

    def dp_cost(self, prepared: Prepared) -> dp.QueryPreview | None:
        """What a DP query would cost on a fresh budget (None for other queries); spends nothing.

        Raises:
            QueryRejected: the collaboration has no DIFFERENTIAL_PRIVACY budget template, or the
                query costs more than its whole epsilon (AWS would refuse it on a fresh budget).
        """
        if prepared.dp is None:
            return None
        tables = ", ".join(sorted(prepared.dp_tables))
        if self.dp_budget is None:
            raise refuse(
                Reason.OTHER,
                f"tables protected by differential privacy ({tables}) cannot be queried until collaboration "
                f"{self.name!r} has a PrivacyBudgetTemplate of type DIFFERENTIAL_PRIVACY",
                table=tables,
                rule="CUSTOM",
            )
        cost = dp.preview_query(prepared.dp, self.dp_budget, (), datetime.now(UTC))
        if not cost.would_run:
            each = ", ".join(
                f"{a.expression} ({a.kind.value}) {float(a.epsilon):.4f}" for a in cost.aggregates
            )
            raise dp.BudgetExhausted(
                f"the query needs epsilon {float(cost.cost):.4f}, more than the whole differential privacy "
                f"budget of collaboration {self.name!r} (epsilon {self.dp_budget.epsilon} at "
                f"usersNoisePerQuery {self.dp_budget.users_noise_per_query}), so it could never run: {each}",
                hint="use fewer or cheaper aggregates, or raise epsilon or usersNoisePerQuery",
            )
        return cost

    def account(self, member: str) -> str:
        """The account ID of member ``member`` (a member key, or an account ID itself)."""
        if member in self.accounts:
            return self.accounts[member]
        if member in self.accounts.values():
            return member
        close = difflib.get_close_matches(member, list(self.accounts), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"members are {sorted(self.accounts)}"
        raise ReconcilerError(f"no member {member!r} in the collaboration", hint=hint)

    def request(
        self, member: str, *, sql: str = "", template: str = "", params: Mapping[str, str] | None = None
    ) -> Request:
        """The Request for running ``sql`` or ``template`` as ``member``."""
        querier = self.account(member)
        if not template:
            return Request(querier=querier, sql=sql)
        found = self.templates.get(template)
        if found is None:
            close = difflib.get_close_matches(template, list(self.templates), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"templates are {sorted(self.templates)}"
            raise ReconcilerError(f"no analysis template {template!r} in the collaboration", hint=hint)
        return request_for(found, querier, params or {})


def template_arn(name: str) -> str:
    """The local stand-in ARN of a spec template (what allowedAnalyses entries resolve to)."""
    return f"template/{name}"


def _policy(policy: Mapping[str, Any], accounts: Mapping[str, str], templates: Mapping[str, Template]) -> Any:
    """The API shape: member keys -> account IDs, template names in allowedAnalyses -> local ARNs."""
    out: dict[str, Any] = {}
    for key, value in policy.items():
        if key in _MEMBER_LISTS and isinstance(value, list):
            out[key] = [accounts.get(v, v) for v in value]
        elif key == "allowedAnalyses" and isinstance(value, list):
            out[key] = [template_arn(v) if v in templates else v for v in value]
        else:
            out[key] = value
    return out


def build(stack: Stack, collaboration: str | None = None, *, read_data: bool = True) -> SpecQuery:
    """Engine facts for one collaboration of ``stack``.

    Args:
        stack: a loaded stack (``reconciler.spec.load_stack``).
        collaboration: its name; may be omitted when the stack declares exactly one.
        read_data: read column types from ``localData`` (False: types unknown, no file needed, as
            when ``validate`` checks templates against the rules).

    Returns:
        The SpecQuery.

    Raises:
        ReconcilerError: no such collaboration, or an analysis rule the engine refuses at load time.
    """
    collabs = stack.collaborations
    if collaboration is None and len(collabs) == 1:
        chosen = collabs[0]
    else:
        names = [c.key for c in collabs]
        found = stack.collaboration(collaboration or "") or next(
            (c for c in collabs if c.name == collaboration), None
        )
        if found is None:
            raise ReconcilerError(
                "name the collaboration to query"
                if collaboration is None
                else f"no collaboration {collaboration!r}",
                hint=f"the stack declares {names}",
            )
        chosen = found
    accounts = {key: m.accountId for key, m in chosen.members.items()}
    abilities = {m.accountId: frozenset(m.abilities) for m in chosen.members.values()}
    templates = {}
    for t in stack.analysis_templates:
        if t.collaboration != chosen.key:
            continue
        params = [Parameter(p.name, p.type, p.defaultValue) for p in t.parameters]
        sql = stack.template_sql(t) or ""
        templates[t.name] = Template(
            t.name, sql, params, template_arn(t.name), accounts.get(t.owner, t.owner)
        )
    tables: dict[str, Table] = {}
    for ct in stack.configured_tables:
        for association in ct.associations:
            if association.collaboration != chosen.key:
                continue
            tables[association.name.lower()] = _table(stack, ct, association, accounts, templates, read_data)
    engine = chosen.analyticsEngine or "SPARK"
    budget = next(
        (
            dp.DPBudgetParams(p.epsilon, p.usersNoisePerQuery, t.autoRefresh or "NONE")
            for t in stack.privacy_budget_templates
            if t.collaboration == chosen.key
            and t.privacyBudgetType == "DIFFERENTIAL_PRIVACY"
            and (p := t.parameters.differentialPrivacy) is not None
        ),
        None,
    )
    return SpecQuery(Collaboration(engine, abilities, tables), accounts, templates, budget, chosen.name)


def _table(
    stack: Stack,
    ct: Any,
    association: Any,
    accounts: Mapping[str, str],
    templates: Mapping[str, Template],
    read_data: bool = True,
) -> Table:
    data = str(stack.resolve_path(ct, ct.localData)) if ct.localData else ""
    from reconciler.engine.run import describe  # DuckDB: only when data is read

    types = describe(data) if data and read_data else {}
    columns = {c.lower(): types.get(c.lower(), "") for c in ct.allowedColumns}
    rule = None
    if ct.analysisRule is not None:
        body = _policy(ct.analysisRule.policy.model_dump(exclude_none=True), accounts, templates)
        try:
            rule = parse_policy({ct.analysisRule.type.lower(): body}, columns=list(columns))
        except PolicyError as exc:
            raise PolicyError(f"{stack.locate(ct, 'analysisRule')}: {exc.message}") from None
    receivers = None
    if association.analysisRule is not None and association.analysisRule.allowedResultReceivers is not None:
        receivers = frozenset(accounts.get(r, r) for r in association.analysisRule.allowedResultReceivers)
    return Table(association.name.lower(), accounts.get(ct.owner, ct.owner), columns, rule, receivers, data)


@dataclass(frozen=True)
class DryRun:
    """What ``reconciler query`` did: the checked query, its rows, and for DP tables the cost.

    Attributes:
        prepared: the checked query.
        result: its rows (noisy for tables with differential privacy); None for a preview.
        cost: for a query over DP tables, its cost and noise on a fresh budget (nothing was spent).
        seed: the seed of the noise, when one was given (the rows are then NOT private).
    """

    prepared: Prepared
    result: Result | None
    cost: dp.QueryPreview | None = None
    seed: int | None = None


def run_query(
    stack_path: str,
    member: str,
    *,
    sql: str = "",
    template: str = "",
    params: Mapping[str, str] | None = None,
    collaboration: str | None = None,
    seed: int | None = None,
    preview: bool = False,
    spark: SparkSettings | None = None,
) -> DryRun:
    """Load a stack, check the query as ``member`` against its rules and run it on its localData.

    Args:
        stack_path: the stack directory.
        member: who runs the query (member key or account ID).
        sql: the query text (or give ``template``).
        template: the name of an analysis template of the stack.
        params: template parameter values.
        collaboration: the collaboration's name, when the stack declares several.
        seed: only for reproducible dry runs of DP queries: fixes the noise (NOT private).
        preview: only check the query and say what it would cost; read no rows.
        spark: run the checked statement on Spark (``--engine spark``) instead of DuckDB.

    Returns:
        The DryRun (without rows for a preview).

    Raises:
        SpecError: the stack is invalid. QueryRejected: a rule refuses the query (nothing is read),
        or a DP query has no budget template or costs more than a fresh budget.
        DataError: local data missing or unreadable.
    """
    from reconciler.engine.run import DPRun, execute
    from reconciler.spec import load_stack

    spec = build(load_stack(stack_path), collaboration)
    prepared = check(spec.request(member, sql=sql, template=template, params=params), spec.collaboration)
    cost = spec.dp_cost(prepared)
    if preview:
        return DryRun(prepared, None, cost)
    if spark is not None:
        from reconciler.engine.spark import session

        return DryRun(prepared, session.execute(prepared, spark), cost)
    run = None
    if cost is not None:
        noise = dp.NoiseSource.secure() if seed is None else dp.NoiseSource.seeded(seed)
        query_id = SEEDED_QUERY_ID if seed is not None else f"dry-run-{uuid.uuid4()}"
        run = DPRun(cost.params.users_noise_per_query, query_id, noise)
    return DryRun(prepared, execute(prepared, run), cost, seed if cost is not None else None)
