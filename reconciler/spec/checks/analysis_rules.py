"""Semantic checks of analysis rules: columns, thresholds, differential privacy, engines, joins."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from reconciler.errors import Diagnostic
from reconciler.spec.checks.view import (
    ANY_JOB,
    ANY_QUERY,
    ARN,
    LEGACY_RULE_TYPES,
    RULE_COLUMN_FIELDS,
    WARNING,
    Placed,
    View,
    is_template_name,
    quoted_names,
    suggest,
    view,
    walk,
)
from reconciler.spec.models import (
    AggregationRuleSpec,
    CollaborationSpec,
    CustomRuleSpec,
    ListRuleSpec,
)
from reconciler.spec.stack import Stack

__all__ = [
    "check_rule_columns",
    "check_aggregation_rule",
    "check_list_rule",
    "check_custom_rule",
    "check_differential_privacy",
    "check_rule_engine",
    "check_associations",
]


def check_rule_columns(stack: Stack) -> Iterator[Diagnostic]:
    """Every column a rule names is one of the table's ``allowedColumns``.

    Codes:
        rule-column-not-allowed (error): a column in an aggregation, list or custom rule (aggregate, join,
            dimension, output-constraint, list, disallowed-output, differential-privacy, threshold identity,
            output-column threshold, comparison-control columns) that is not in ``allowedColumns``.
            Fix: add the column to ``allowedColumns`` or correct its name (a did-you-mean hint is given).
    """
    v = view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if rule is None:
            continue
        allowed = set(t.allowedColumns)
        for pattern in RULE_COLUMN_FIELDS[rule.type]:
            for path, column in walk(rule.policy, pattern):
                if column not in allowed:
                    field = ".".join(str(p) for p in path if not isinstance(p, int))
                    yield v.diag(
                        "rule-column-not-allowed",
                        t,
                        ("analysisRule", "policy", *path),
                        f'column "{column}" in {field} is not in allowedColumns of table "{t.name}"',
                        detail=f"allowedColumns are {quoted_names(allowed)}",
                        hint=suggest(column, allowed) or f'add "{column}" to allowedColumns',
                    )


def check_aggregation_rule(stack: Stack) -> Iterator[Diagnostic]:
    """An aggregation rule's columns play one part each, and output constraints count aggregated columns.

    Codes:
        dimension-also-aggregate (error): a column that is both a dimension and an aggregate or join column
            (AWS refuses it).
            Fix: remove it from ``dimensionColumns`` or from the aggregate/join columns.
        output-constraint-not-aggregate (error): an output constraint on a column that no aggregate function
            counts.
            Fix: constrain a column listed under ``aggregateColumns`` (usually COUNT_DISTINCT of the user
                identifier).
    """
    v = view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, AggregationRuleSpec):
            continue
        p = rule.policy
        aggregated = {col for agg in p.aggregateColumns for col in agg.columnNames}
        for i, col in enumerate(p.dimensionColumns):
            roles = [
                name
                for name, cols in (("an aggregate", aggregated), ("a join", set(p.joinColumns)))
                if col in cols
            ]
            if roles:
                yield v.diag(
                    "dimension-also-aggregate",
                    t,
                    ("analysisRule", "policy", "dimensionColumns", i),
                    f'column "{col}" of table "{t.name}" is both a dimension column and '
                    f"{' and '.join(roles)} column",
                    detail="aggregate and join columns cannot also be dimension columns",
                    hint=f'remove "{col}" from dimensionColumns',
                )
        for i, oc in enumerate(p.outputConstraints):
            if oc.columnName not in aggregated:
                yield v.diag(
                    "output-constraint-not-aggregate",
                    t,
                    ("analysisRule", "policy", "outputConstraints", i, "columnName"),
                    f'output constraint column "{oc.columnName}" of table "{t.name}" is not an aggregate '
                    "column",
                    detail="an output constraint counts distinct values of an aggregated column in each "
                    "output row",
                    hint=f"add {{columnNames: [{oc.columnName}], function: COUNT_DISTINCT}} to "
                    "aggregateColumns",
                )


def check_list_rule(stack: Stack) -> Iterator[Diagnostic]:
    """A list rule's join columns are never listed.

    Codes:
        list-join-column-listed (error): a column that is both a join column and a list column (AWS refuses
            it).
            Fix: remove it from ``listColumns``.
    """
    v = view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, ListRuleSpec):
            continue
        join = set(rule.policy.joinColumns)
        for i, col in enumerate(rule.policy.listColumns):
            if col in join:
                yield v.diag(
                    "list-join-column-listed",
                    t,
                    ("analysisRule", "policy", "listColumns", i),
                    f'column "{col}" of table "{t.name}" is both a join column and a list column',
                    detail="a list rule's join columns can be used only to join, never listed",
                    hint=f'remove "{col}" from listColumns',
                )


def check_custom_rule(stack: Stack) -> Iterator[Diagnostic]:
    """A custom rule approves templates or providers, consistently with its other controls.

    Codes:
        providers-required (error): ``allowedAnalyses: [ANY_QUERY]`` without ``allowedAnalysisProviders``; the
            API requires it and no direct query could run.
            Fix: list the member keys allowed to query directly in ``allowedAnalysisProviders``.
        templates-and-providers (error): a rule that lists both analysis templates and analysis providers; an
            owner allows either templates or accounts.
            Fix: keep the templates, or replace them with ANY_QUERY and the providers.
        controls-with-jobs-only (error): aggregation thresholds or comparison controls when
            ``allowedAnalyses`` allows only jobs (ANY_JOB).
            Fix: remove the controls, or allow queries.
        threshold-identity-literal (error): the aggregation-threshold identity column is in
            ``allowedLiteralComparisonColumns`` (the API refuses it: it would single people out).
            Fix: remove the identity column from ``allowedLiteralComparisonColumns``.
        output-threshold-invalid (error): an output-column threshold of 1, or a column overridden twice (only
            0, to exempt, or 2 to 100,000 are meaningful).
            Fix: use 0 or at least 2, once per column.
    """
    v = view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, CustomRuleSpec):
            continue
        p = rule.policy
        base = ("analysisRule", "policy")
        templates = [e for e in p.allowedAnalyses if is_template_name(e) or ARN.match(e)]
        if ANY_QUERY in p.allowedAnalyses and p.allowedAnalysisProviders is None:
            yield v.diag(
                "providers-required",
                t,
                (*base, "allowedAnalyses", p.allowedAnalyses.index(ANY_QUERY)),
                f'table "{t.name}" allows ANY_QUERY but names no allowedAnalysisProviders',
                detail="the API requires allowedAnalysisProviders with ANY_QUERY; without it no direct "
                "query can run",
                hint="add allowedAnalysisProviders: [<member key of the querier>]",
            )
        if templates and p.allowedAnalysisProviders:
            yield v.diag(
                "templates-and-providers",
                t,
                (*base, "allowedAnalysisProviders"),
                f'table "{t.name}" allows both analysis templates and analysis providers',
                detail="a custom rule allows either specific analysis templates or analysis providers, not "
                "both",
                hint="keep the templates and remove allowedAnalysisProviders, or use ANY_QUERY with "
                "providers",
            )
        controls = [f for f in ("aggregationThresholds", "comparisonControls") if getattr(p, f)]
        if controls and p.allowedAnalyses and set(p.allowedAnalyses) <= {ANY_JOB}:
            yield v.diag(
                "controls-with-jobs-only",
                t,
                (*base, controls[0]),
                f'table "{t.name}" sets {" and ".join(controls)} but allows only jobs (ANY_JOB)',
                detail="these controls apply to queries; the API refuses them when only jobs are allowed",
                hint="remove them, or allow queries",
            )
        identities = {col for th in p.aggregationThresholds or () for col in th.identityColumns}
        if p.comparisonControls is not None:
            for i, col in enumerate(p.comparisonControls.allowedLiteralComparisonColumns):
                if col in identities:
                    yield v.diag(
                        "threshold-identity-literal",
                        t,
                        (*base, "comparisonControls", "allowedLiteralComparisonColumns", i),
                        f'identity column "{col}" of table "{t.name}" may not be compared with literals',
                        detail="comparing the identity column with a literal singles people out; the API "
                        "refuses it",
                        hint=f'remove "{col}" from allowedLiteralComparisonColumns',
                    )
        for ti, th in enumerate(p.aggregationThresholds or ()):
            seen: set[str] = set()
            for oi, oct_ in enumerate(th.outputColumnThresholds or ()):
                path = (*base, "aggregationThresholds", ti, "outputColumnThresholds", oi)
                if oct_.minimumIdentityCount == 1:
                    yield v.diag(
                        "output-threshold-invalid",
                        t,
                        (*path, "minimumIdentityCount"),
                        f'output column "{oct_.outputColumnName}" has a threshold of 1, which protects '
                        "nobody",
                        hint="use 0 to exempt the column, or at least 2",
                    )
                if oct_.outputColumnName in seen:
                    yield v.diag(
                        "output-threshold-invalid",
                        t,
                        (*path, "outputColumnName"),
                        f'output column "{oct_.outputColumnName}" has more than one threshold',
                        hint="keep one threshold per output column",
                    )
                seen.add(oct_.outputColumnName)


def check_differential_privacy(stack: Stack) -> Iterator[Diagnostic]:
    """Differential privacy is configured the way AWS requires in every collaboration that uses it.

    Codes:
        dp-with-controls (error): differential privacy together with aggregation thresholds or comparison
            controls (the API refuses the combination).
            Fix: use either differential privacy or the threshold controls.
        dp-budget-missing (error): a table with differential privacy is associated to a collaboration without
            a DIFFERENTIAL_PRIVACY privacy budget template, so it can never be queried.
            Fix: add a PrivacyBudgetTemplate with ``privacyBudgetType: DIFFERENTIAL_PRIVACY`` to the
                collaboration.
        dp-columns-differ (error): two tables of one collaboration protect different user identifier columns.
            Fix: use the same user identifier column in every differential-privacy rule of the collaboration.
        dp-on-receiver-table (error): the member who can receive results turned differential privacy on for
            its own table (AWS does not allow it).
            Fix: remove differential privacy from that table, or the member's CAN_RECEIVE_RESULTS.
        dp-on-spark (warning): differential privacy in a SPARK collaboration; AWS documents it for the
            CLEAN_ROOMS_SQL engine only.
            Fix: check that AWS supports it for your collaboration; the local engine allows it.
    """
    v = view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, CustomRuleSpec) or rule.policy.differentialPrivacy is None:
            continue
        dp_path = ("analysisRule", "policy", "differentialPrivacy")
        controls = [f for f in ("aggregationThresholds", "comparisonControls") if getattr(rule.policy, f)]
        if controls:
            yield v.diag(
                "dp-with-controls",
                t,
                dp_path,
                f'table "{t.name}" combines differential privacy with {" and ".join(controls)}',
                detail="AWS does not allow aggregation thresholds or comparison controls with differential "
                "privacy",
                hint=f"remove {' and '.join(controls)}, or differential privacy",
            )
        for _i, a in enumerate(t.associations):
            c = v.collab.get(a.collaboration)
            if c is None:
                continue
            if not any(
                b.collaboration == c.key and b.privacyBudgetType == "DIFFERENTIAL_PRIVACY" for b in v.budgets
            ):
                yield v.diag(
                    "dp-budget-missing",
                    t,
                    dp_path,
                    f'collaboration "{c.name}" has no differential-privacy budget, so table "{t.name}" can '
                    "never be queried",
                    detail="tables with differential privacy need a DIFFERENTIAL_PRIVACY privacy budget "
                    "template",
                    hint="add a PrivacyBudgetTemplate with privacyBudgetType: DIFFERENTIAL_PRIVACY to the "
                    "collaboration",
                )
            owner = c.members.get(t.owner)
            if owner is not None and "CAN_RECEIVE_RESULTS" in owner.abilities:
                yield v.diag(
                    "dp-on-receiver-table",
                    t,
                    dp_path,
                    f'"{t.owner}" can receive results in "{c.name}", so it cannot turn on differential '
                    f'privacy for its table "{t.name}"',
                    detail="differential privacy protects a table from the members who receive results, "
                    "not from its owner",
                    hint="remove differential privacy from this table",
                )
            if (c.analyticsEngine or "SPARK") == "SPARK":
                yield v.diag(
                    "dp-on-spark",
                    t,
                    dp_path,
                    f'table "{t.name}" uses differential privacy in the SPARK collaboration "{c.name}"',
                    severity=WARNING,
                    detail="AWS documents differential privacy for the CLEAN_ROOMS_SQL engine only; "
                    "the local engine allows it on both",
                    hint="check that AWS supports it for this collaboration before relying on it",
                )
    for collab, placed in sorted(v.placed.items()):
        dp = [
            (p, rule.policy.differentialPrivacy.columns[0].name)
            for p in placed
            for rule in [p.table.analysisRule]
            if isinstance(rule, CustomRuleSpec)
            and rule.policy.differentialPrivacy
            and rule.policy.differentialPrivacy.columns
        ]
        for p, column in dp[1:]:
            if column != dp[0][1]:
                yield v.diag(
                    "dp-columns-differ",
                    p.table,
                    ("analysisRule", "policy", "differentialPrivacy", "columns", 0, "name"),
                    f'table "{p.table.name}" protects "{column}" but table "{dp[0][0].table.name}" protects '
                    f'"{dp[0][1]}" in collaboration "{collab}"',
                    detail="all differential-privacy tables of a collaboration must use the same user "
                    "identifier column",
                    hint=f'use "{dp[0][1]}"',
                )


def check_rule_engine(stack: Stack) -> Iterator[Diagnostic]:
    """AGGREGATION and LIST rules in SPARK collaborations get a warning (one per collaboration).

    Codes:
        rule-type-engine (warning): AGGREGATION or LIST tables associated to a SPARK collaboration; AWS
            documents these rule types for the CLEAN_ROOMS_SQL engine.
            Fix: use CUSTOM rules with aggregation thresholds and comparison controls on SPARK.
    """
    v = view(stack)
    for collab_name, placed in sorted(v.placed.items()):
        c = v.collab.get(collab_name)
        if c is None or (c.analyticsEngine or "SPARK") != "SPARK":
            continue
        legacy = [f"{p.association.name} ({p.rule_type})" for p in placed if p.rule_type in LEGACY_RULE_TYPES]
        if legacy:
            yield v.diag(
                "rule-type-engine",
                c,
                ("analyticsEngine",),
                f'collaboration "{c.name}" uses the SPARK engine, but {", ".join(legacy)} '
                f"{'has a rule type' if len(legacy) == 1 else 'have rule types'} "
                "AWS documents for the CLEAN_ROOMS_SQL engine",
                severity=WARNING,
                detail="on SPARK, AWS's minimum aggregation thresholds and comparison controls live in the "
                "CUSTOM rule; the local engine enforces AGGREGATION and LIST rules as documented",
                hint="use CUSTOM rules with aggregationThresholds and comparisonControls",
            )


def check_associations(stack: Stack) -> Iterator[Diagnostic]:
    """Every associated table can be queried, and with the tables it is meant to be queried with.

    Codes:
        no-analysis-rule (error): a configured table without an analysis rule is associated to a
            collaboration; AWS refuses every query on it.
            Fix: add an ``analysisRule`` to the table (CUSTOM on SPARK collaborations).
        rule-types-mixed (warning): tables of different rule types in one collaboration can never be queried
            together (AWS refuses a query that mixes rule types).
            Fix: give the tables that are queried together the same rule type.
        join-required-unreachable (error): a table requires a join with the querier's tables (LIST, or
            ``joinRequired: QUERY_RUNNER``), but the member who can query has no table of the same rule type
            in the collaboration, so no query can ever use it.
            Fix: give the querier a table with the same rule type, or change the rule.
        collaboration-rule-missing (warning): an association without a collaboration analysis rule; AWS
            reports the table as not ready for direct analysis (COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED),
            and nothing limits who receives results of queries on it.
            Fix: add ``analysisRule: {allowedResultReceivers: [...]}`` to the association.
        join-column-unmatched (warning): a join column that no other member's table of the same rule type in
            the collaboration can join on.
            Fix: add the column to the other side's join columns, or correct its name.
    """
    v = view(stack)
    for collab_name, placed in sorted(v.placed.items()):
        c = v.collab.get(collab_name)
        if c is None:
            continue
        for p in placed:
            if p.rule_type is None:
                yield v.diag(
                    "no-analysis-rule",
                    p.table,
                    ("associations", p.index),
                    f'table "{p.table.name}" has no analysis rule but is associated to collaboration '
                    f'"{collab_name}"',
                    detail="AWS refuses every query on a configured table without an analysis rule",
                    hint="add an analysisRule to the table (CUSTOM on SPARK collaborations)",
                )
            elif p.association.analysisRule is None:
                yield v.diag(
                    "collaboration-rule-missing",
                    p.table,
                    ("associations", p.index),
                    f'association "{p.association.name}" in collaboration "{collab_name}" has no '
                    "collaboration analysis rule",
                    severity=WARNING,
                    detail="AWS reports such a table as not ready for direct analysis"
                    " "
                    "(COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED); no list limits who receives its results",
                    hint="add analysisRule: {allowedResultReceivers: [<member keys>]} to the association",
                )
        yield from _mixed_rule_types(v, collab_name, placed)
        yield from _joins(v, c, placed)


def _mixed_rule_types(v: View, collab: str, placed: list[Placed]) -> Iterator[Diagnostic]:
    """One warning per table whose rule type is not the collaboration's most common one."""
    names: dict[str, list[str]] = defaultdict(list)  # rule type -> association names, in file order
    for p in placed:
        if p.rule_type is not None:
            names[p.rule_type].append(p.association.name)
    if len(names) < 2:
        return
    order = list(names)
    main = max(order, key=lambda k: (len(names[k]), -order.index(k)))
    for p in placed:
        if p.rule_type is None or p.rule_type == main:
            continue
        others = sorted(n for kind, found in names.items() if kind != p.rule_type for n in found)
        yield v.diag(
            "rule-types-mixed",
            p.table,
            ("associations", p.index),
            f'table "{p.association.name}" ({p.rule_type}) can never be queried together with '
            f"{quoted_names(others)} ({'/'.join(sorted(k for k in names if k != p.rule_type))}) in "
            f'collaboration "{collab}"',
            severity=WARNING,
            detail="AWS refuses a query that references tables with different analysis rule types",
            hint="give the tables that are queried together the same rule type",
        )


def _joins(v: View, c: CollaborationSpec, placed: list[Placed]) -> Iterator[Diagnostic]:
    """Joins a LIST or AGGREGATION table needs: a querier table of its type, a counterpart column."""
    querier = v.querier(c)
    # rule type -> owner -> join columns of that owner's tables of that type
    columns: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for p in placed:
        rule = p.table.analysisRule
        if isinstance(rule, AggregationRuleSpec | ListRuleSpec):
            columns[rule.type][p.table.owner].update(rule.policy.joinColumns)
    for p in placed:
        rule = p.table.analysisRule
        if not isinstance(rule, AggregationRuleSpec | ListRuleSpec):
            continue
        owners = columns[rule.type]
        requires = isinstance(rule, ListRuleSpec) or rule.policy.joinRequired == "QUERY_RUNNER"
        if requires and querier is not None and p.table.owner != querier and querier not in owners:
            yield v.diag(
                "join-required-unreachable",
                p.table,
                ("associations", p.index),
                f'no query can use table "{p.association.name}" in collaboration "{c.name}": its '
                f"{rule.type} rule "
                f'requires a join with a table of "{querier}", who has no {rule.type} table there',
                detail="queries may only combine tables of one rule type, and this rule requires joining "
                "the querier's data",
                hint=f'give "{querier}" a {rule.type} table in the collaboration, or change this rule',
            )
        peers = [owner for owner in owners if owner != p.table.owner]
        if not peers:
            continue
        peer_columns = {col for owner in peers for col in owners[owner]}
        for i, col in enumerate(rule.policy.joinColumns):
            if col not in peer_columns:
                yield v.diag(
                    "join-column-unmatched",
                    p.table,
                    ("analysisRule", "policy", "joinColumns", i),
                    f'join column "{col}" of table "{p.table.name}" has no counterpart in collaboration '
                    f'"{c.name}"',
                    severity=WARNING,
                    detail=f"other members' {rule.type} tables join on {quoted_names(peer_columns)}",
                    hint=suggest(col, peer_columns) or "add it to the other side's joinColumns",
                )
