"""Privacy policy as code: limits a stack must respect, checked by validate, plan and review.

A policy is an optional ``policy.yaml`` beside a stack's spec files (the spec loader skips it),
or a file named by ``--policy FILE`` (``review``) or the ``RECONCILER_POLICY`` environment
variable (every command that loads a stack): an organisation-wide policy that a pull request
cannot loosen by editing the stack. Every field is optional; an absent field checks nothing::

    kind: PrivacyPolicy
    minimumAggregationThreshold: 50      # aggregation thresholds and output-constraint minimums
    forbiddenColumns:                    # may not be shared at all (allowedColumns)
      names: [email, phone_number]
      patterns: ['(?i)^ip(_?addr(ess)?)?$']
    forbiddenOutputColumns:              # may not appear in results (list / dimension / output)
      patterns: ['(?i)e-?mail', '(?i)phone']
    maximumEpsilon: 5
    minimumUsersNoisePerQuery: 10
    allowedResultReceivers: [retailer]   # member keys
    allowedAnalyticsEngines: [SPARK]
    allowedRuleTypes: [AGGREGATION, CUSTOM]
    allowAnyQuery: false                 # CUSTOM rules may only allow approved templates
    requireQueryLogging: true
    severity: error                      # or warning: report without failing

The policy file is read with the spec's position-keeping loader, so its own mistakes are
Diagnostics at ``policy.yaml:line:col``; each violation is a Diagnostic (code ``policy-<limit>``)
at the spec node that breaks the limit, naming the policy line that set it. ``POLICY_LIMITS`` is
the table of limits; ``CHECKS`` is what the spec pipeline runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from reconciler.errors import Diagnostic, Severity, SourceLocation
from reconciler.spec.load import RawDocument, display_path, load_file
from reconciler.spec.models import (
    AggregationRuleSpec,
    CustomRuleSpec,
    ListRuleSpec,
    SpecModel,
)
from reconciler.spec.shape import validate_as
from reconciler.spec.stack import Check, Stack

__all__ = [
    "CHECKS",
    "ColumnPatterns",
    "ENVIRONMENT_VARIABLE",
    "POLICY_FILES",
    "POLICY_LIMITS",
    "PolicyFile",
    "PrivacyPolicy",
    "check",
    "load_policy",
    "check_files",
]

#: File names of a stack's own policy (the spec loader does not read them as spec documents).
POLICY_FILES = ("policy.yaml", "policy.yml")
#: Environment variable naming a policy file applied to every stack (on top of the stack's own).
ENVIRONMENT_VARIABLE = "RECONCILER_POLICY"


class ColumnPatterns(SpecModel):
    """Column names matched exactly (case-insensitive) or by regular expression (``re.search``)."""

    names: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)


class PrivacyPolicy(SpecModel):
    """The privacy policy of a stack or an organisation (every field optional)."""

    kind: Literal["PrivacyPolicy"] = "PrivacyPolicy"
    minimumAggregationThreshold: int | None = None
    """Lowest minimumIdentityCount / outputConstraints minimum any rule may have."""
    forbiddenColumns: ColumnPatterns | None = None
    """Columns no configured table may share (its allowedColumns)."""
    forbiddenOutputColumns: ColumnPatterns | None = None
    """Columns that may never appear in query results."""
    maximumEpsilon: int | None = None
    minimumUsersNoisePerQuery: int | None = None
    allowedResultReceivers: list[str] | None = None
    """Member keys that may receive results (CAN_RECEIVE_RESULTS, allowedResultReceivers)."""
    allowedAnalyticsEngines: list[str] | None = None
    allowedRuleTypes: list[str] | None = None
    allowAnyQuery: bool | None = None
    """False: CUSTOM rules may not allow ANY_QUERY / ANY_JOB (only approved templates)."""
    requireQueryLogging: bool | None = None
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True)
class PolicyFile:
    """A Policy with the file it came from, so a violation can say which line set the limit."""

    policy: PrivacyPolicy
    document: RawDocument

    def where(self, field: str) -> SourceLocation:
        return self.document.locate((field,))


def load_policy(path: Path) -> tuple[PolicyFile | None, list[Diagnostic]]:
    """Read one policy file with positions.

    Args:
        path: the YAML file (one document).

    Returns:
        The policy (None when unusable) and every problem with it, at ``file:line:col``.
    """
    documents, problems = load_file(path)
    if problems or not documents:
        return None, problems or [
            Diagnostic("the policy file is empty", SourceLocation(display_path(path)), code="policy-file")
        ]
    if len(documents) > 1:
        return None, [
            Diagnostic("a policy file holds one document", documents[1].locate(()), code="policy-file")
        ]
    doc = documents[0]
    policy, problems = validate_as(doc, PrivacyPolicy)
    if policy is None:
        return None, problems
    loaded = PolicyFile(policy, doc)
    bad = list(_bad_patterns(loaded))
    return (None, bad) if bad else (loaded, [])


def _bad_patterns(loaded: PolicyFile) -> Iterator[Diagnostic]:
    for field in ("forbiddenColumns", "forbiddenOutputColumns"):
        columns = getattr(loaded.policy, field)
        for i, pattern in enumerate(columns.patterns if columns else []):
            try:
                re.compile(pattern)
            except re.error as exc:
                yield Diagnostic(
                    f"{field}.patterns[{i}]: not a regular expression: {exc}",
                    loaded.document.locate((field, "patterns", i)),
                    hint="use Python regular-expression syntax, e.g. '(?i)e-?mail'",
                    code="policy-file",
                )


# --------------------------------------------------------------------------- limits

#: One violation: (spec node, path below it, summary, hint).
Violation = tuple[BaseModel, tuple[str | int, ...], str, str]
LimitCheck = Callable[[PrivacyPolicy, Stack], Iterator[Violation]]


def _matches(columns: ColumnPatterns, name: str) -> str:
    """The name or pattern of ``columns`` that ``name`` matches ("" when none)."""
    lowered = name.lower()
    for exact in columns.names:
        if exact.lower() == lowered:
            return f'"{exact}"'
    for pattern in columns.patterns:
        if re.search(pattern, name):
            return f"/{pattern}/"
    return ""


def _thresholds(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    floor = policy.minimumAggregationThreshold
    if floor is None:
        return
    hint = f"raise it to at least {floor}, or change the policy"
    for table in stack.configured_tables:
        rule = table.analysisRule
        if isinstance(rule, AggregationRuleSpec):
            for i, oc in enumerate(rule.policy.outputConstraints):
                if oc.minimum < floor:
                    yield (
                        rule,
                        ("policy", "outputConstraints", i, "minimum"),
                        f"output constraint minimum {oc.minimum} on {oc.columnName} of table {table.name}"
                        f" is below the policy minimum {floor}",
                        hint,
                    )
        elif isinstance(rule, CustomRuleSpec):
            for i, at in enumerate(rule.policy.aggregationThresholds or []):
                path: tuple[str | int, ...] = ("policy", "aggregationThresholds", i)
                if at.minimumIdentityCount < floor:
                    yield (
                        rule,
                        (*path, "minimumIdentityCount"),
                        f"aggregation threshold {at.minimumIdentityCount} on table {table.name}"
                        f" is below the policy minimum {floor}",
                        hint,
                    )
                for j, oct_ in enumerate(at.outputColumnThresholds or []):
                    if oct_.minimumIdentityCount < floor:
                        yield (
                            rule,
                            (*path, "outputColumnThresholds", j, "minimumIdentityCount"),
                            f"output column threshold {oct_.minimumIdentityCount} on"
                            f" {oct_.outputColumnName} of table {table.name} is below the policy"
                            f" minimum {floor}",
                            hint,
                        )


def _forbidden_columns(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    columns = policy.forbiddenColumns
    if columns is None:
        return
    for table in stack.configured_tables:
        for i, name in enumerate(table.allowedColumns):
            if match := _matches(columns, name):
                yield (
                    table,
                    ("allowedColumns", i),
                    f"column {name} of table {table.name} is forbidden by the policy ({match})",
                    "remove it from allowedColumns (share a hashed or coarser column instead)",
                )


def _output_columns(table_rule: BaseModel, allowed: list[str]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, column) of every column a rule lets into query results."""
    if isinstance(table_rule, ListRuleSpec):
        yield from ((("policy", "listColumns", i), c) for i, c in enumerate(table_rule.policy.listColumns))
    elif isinstance(table_rule, AggregationRuleSpec):
        yield from (
            (("policy", "dimensionColumns", i), c) for i, c in enumerate(table_rule.policy.dimensionColumns)
        )
    elif isinstance(table_rule, CustomRuleSpec):
        hidden = set(table_rule.policy.disallowedOutputColumns or [])
        yield from ((("allowedColumns", i), c) for i, c in enumerate(allowed) if c not in hidden)


def _forbidden_output(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    columns = policy.forbiddenOutputColumns
    if columns is None:
        return
    for table in stack.configured_tables:
        rule = table.analysisRule
        if rule is None:
            continue
        for path, name in _output_columns(rule, table.allowedColumns):
            if not (match := _matches(columns, name)):
                continue
            node: BaseModel = table if path[0] == "allowedColumns" else rule
            fix = (
                "add it to disallowedOutputColumns"
                if isinstance(rule, CustomRuleSpec)
                else f"remove it from {path[1]}"
            )
            yield (
                node,
                path,
                f"column {name} of table {table.name} can appear in query results, which the policy"
                f" forbids ({match})",
                fix,
            )


def _dp_budgets(stack: Stack) -> Iterator[tuple[BaseModel, tuple[str, str], str, int, int]]:
    for budget in stack.privacy_budget_templates:
        dp = budget.parameters.differentialPrivacy
        if dp is not None:
            yield (
                budget,
                ("parameters", "differentialPrivacy"),
                budget.collaboration,
                dp.epsilon,
                dp.usersNoisePerQuery,
            )


def _epsilon(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    ceiling = policy.maximumEpsilon
    if ceiling is None:
        return
    for budget, path, collab, epsilon, _ in _dp_budgets(stack):
        if epsilon > ceiling:
            yield (
                budget,
                (*path, "epsilon"),
                f"epsilon {epsilon} of the privacy budget of {collab} is above the policy maximum {ceiling}",
                f"lower it to at most {ceiling}",
            )


def _noise(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    floor = policy.minimumUsersNoisePerQuery
    if floor is None:
        return
    for budget, path, collab, _, noise in _dp_budgets(stack):
        if noise < floor:
            yield (
                budget,
                (*path, "usersNoisePerQuery"),
                f"usersNoisePerQuery {noise} of the privacy budget of {collab} is below the policy"
                f" minimum {floor}",
                f"raise it to at least {floor}",
            )


def _receivers(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    allowed = policy.allowedResultReceivers
    if allowed is None:
        return
    hint = f"the policy allows only: {', '.join(allowed) or 'nobody'}"
    for collab in stack.collaborations:
        for key, member in collab.members.items():
            if "CAN_RECEIVE_RESULTS" in member.abilities and key not in allowed:
                i = member.abilities.index("CAN_RECEIVE_RESULTS")
                yield (
                    member,
                    ("abilities", i),
                    f"member {key} of {collab.name} can receive results, which the policy does not allow",
                    hint,
                )
    for table in stack.configured_tables:
        if isinstance(table.analysisRule, CustomRuleSpec):
            for i, key in enumerate(table.analysisRule.policy.allowedResultReceivers or []):
                if key not in allowed:
                    yield (
                        table.analysisRule,
                        ("policy", "allowedResultReceivers", i),
                        f"table {table.name} lets {key} receive results, which the policy does not allow",
                        hint,
                    )
        for assoc in table.associations:
            for i, key in enumerate(
                assoc.analysisRule.allowedResultReceivers or [] if assoc.analysisRule else []
            ):
                if key not in allowed:
                    yield (
                        assoc,
                        ("analysisRule", "allowedResultReceivers", i),
                        f"association {assoc.name} in {assoc.collaboration} lets {key} receive results,"
                        " which the policy does not allow",
                        hint,
                    )


def _engines(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    allowed = policy.allowedAnalyticsEngines
    if allowed is None:
        return
    for collab in stack.collaborations:
        if collab.analyticsEngine not in allowed:
            engine = collab.analyticsEngine or "not set"
            yield (
                collab,
                ("analyticsEngine",),
                f"analytics engine of {collab.name} is {engine}; the policy allows {', '.join(allowed)}",
                f"set analyticsEngine: {allowed[0]}" if allowed else "",
            )


def _rule_types(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    allowed = policy.allowedRuleTypes
    if allowed is None:
        return
    for table in stack.configured_tables:
        rule = table.analysisRule
        if rule is not None and rule.type not in allowed:
            yield (
                rule,
                ("type",),
                f"table {table.name} has a {rule.type} rule; the policy allows {', '.join(allowed)}",
                "use an allowed analysis rule type",
            )


def _any_query(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    if policy.allowAnyQuery is not False:
        return
    for table in stack.configured_tables:
        rule = table.analysisRule
        if isinstance(rule, CustomRuleSpec):
            for i, name in enumerate(rule.policy.allowedAnalyses):
                if name in ("ANY_QUERY", "ANY_JOB"):
                    yield (
                        rule,
                        ("policy", "allowedAnalyses", i),
                        f"table {table.name} allows {name}; the policy allows only approved templates",
                        "list the analysis templates that may run instead",
                    )


def _logging(policy: PrivacyPolicy, stack: Stack) -> Iterator[Violation]:
    if not policy.requireQueryLogging:
        return
    hint = "set queryLogStatus: ENABLED"
    for collab in stack.collaborations:
        if collab.queryLogStatus != "ENABLED":
            yield (
                collab,
                ("queryLogStatus",),
                f"query logging of {collab.name} is {collab.queryLogStatus}; the policy requires it",
                hint,
            )
        for key, member in collab.members.items():
            if member.membership is not None and member.membership.queryLogStatus != "ENABLED":
                yield (
                    member.membership,
                    ("queryLogStatus",),
                    f"query logging of {key}'s membership is {member.membership.queryLogStatus};"
                    " the policy requires it",
                    hint,
                )


@dataclass(frozen=True)
class PolicyLimit:
    """One limit of the policy: the field that sets it and the check that applies it."""

    field: str
    code: str
    check: LimitCheck


#: The limits, in the order their violations are reported.
POLICY_LIMITS: tuple[PolicyLimit, ...] = (
    PolicyLimit("minimumAggregationThreshold", "policy-minimum-threshold", _thresholds),
    PolicyLimit("forbiddenColumns", "policy-forbidden-column", _forbidden_columns),
    PolicyLimit("forbiddenOutputColumns", "policy-forbidden-output-column", _forbidden_output),
    PolicyLimit("maximumEpsilon", "policy-epsilon", _epsilon),
    PolicyLimit("minimumUsersNoisePerQuery", "policy-noise", _noise),
    PolicyLimit("allowedResultReceivers", "policy-result-receiver", _receivers),
    PolicyLimit("allowedAnalyticsEngines", "policy-analytics-engine", _engines),
    PolicyLimit("allowedRuleTypes", "policy-rule-type", _rule_types),
    PolicyLimit("allowAnyQuery", "policy-any-query", _any_query),
    PolicyLimit("requireQueryLogging", "policy-query-logging", _logging),
)


def check(stack: Stack, loaded: PolicyFile) -> list[Diagnostic]:
    """Every violation of one policy by one stack.

    Args:
        stack: a loaded stack (its models and positions).
        loaded: the policy.

    Returns:
        Diagnostics at the violating spec nodes (severity from the policy), sorted.
    """
    severity = Severity(loaded.policy.severity)
    out: list[Diagnostic] = []
    for limit in POLICY_LIMITS:
        for node, path, summary, hint in limit.check(loaded.policy, stack):
            out.append(
                Diagnostic(
                    summary,
                    stack.locate(node, *path),
                    severity=severity,
                    detail=f"policy: {limit.field} set at {loaded.where(limit.field)}",
                    hint=hint,
                    code=limit.code,
                )
            )
    return sorted(out, key=Diagnostic.sort_key)


def _policy_files(stack: Stack) -> list[Path]:
    root = stack.root if stack.root.is_dir() else stack.root.parent
    files = [root / name for name in POLICY_FILES if (root / name).is_file()]
    extra = os.environ.get(ENVIRONMENT_VARIABLE)
    if extra:
        files.append(Path(extra))
    return files


def check_files(stack: Stack, paths: Iterable[Path]) -> list[Diagnostic]:
    """Check a stack against policy files (each read once).

    Args:
        stack: the stack.
        paths: policy files (a stack's ``policy.yaml``, ``--policy`` files).

    Returns:
        Problems with the policy files and every violation, as Diagnostics.
    """
    out: list[Diagnostic] = []
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        if not path.is_file():
            out.append(
                Diagnostic(
                    "no such policy file",
                    SourceLocation(display_path(path)),
                    hint=f"check --policy or ${ENVIRONMENT_VARIABLE}",
                    code="policy-file",
                )
            )
            continue
        loaded, problems = load_policy(path)
        out.extend(problems)
        if loaded is not None:
            out.extend(check(stack, loaded))
    return out


def _stack_policy_check(stack: Stack) -> Iterable[Diagnostic]:
    """The spec pipeline's hook: the stack's own policy and ``$RECONCILER_POLICY``."""
    return check_files(stack, _policy_files(stack))


#: Run by ``reconciler.spec.pipeline`` after the semantic checks (``SEMANTIC_CHECKS`` there).
CHECKS: tuple[Check, ...] = (_stack_policy_check,)
