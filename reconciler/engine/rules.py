"""Analysis rules as data: the three rule types, their policies, and what each lets a query use.

A policy arrives API-shaped (the ``analysisRulePolicy.v1`` dicts of
``CreateConfiguredTableAnalysisRule``) and is turned into a frozen value here, checked once at
load time (a bad policy is a configuration error, never a query error). The tables at the bottom
(the aggregation rule's scalar function names) are what the checks read; the functions a query may
call are in ``functions``. Nothing in this module looks at SQL.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ReconcilerError

__all__ = [
    "AGGREGATION_SCALAR_FUNCTIONS",
    "AggregationRule",
    "AggregationThreshold",
    "ComparisonControls",
    "CustomRule",
    "ListRule",
    "PolicyError",
    "Reason",
    "Rule",
    "RuleType",
    "parse_policy",
]


class PolicyError(ReconcilerError):
    """An analysis-rule policy that AWS would refuse at configuration time."""


class RuleType(enum.StrEnum):
    """``ConfiguredTableAnalysisRuleType`` (ID_MAPPING_TABLE is AWS-managed and out of scope)."""

    AGGREGATION = "AGGREGATION"
    LIST = "LIST"
    CUSTOM = "CUSTOM"


class Reason(enum.StrEnum):
    """Why a query was refused (ANALYSIS_RULES.md section 4); the first failing stage decides."""

    PARSE_ERROR = "parse_error"
    MULTI_STATEMENT = "multi_statement"
    FILE_OR_SYSTEM_ACCESS = "file_or_system_access"
    DISALLOWED_CONSTRUCT = "disallowed_construct"
    DISALLOWED_FUNCTION = "disallowed_function"
    DISALLOWED_COLUMN = "disallowed_column"
    DISALLOWED_JOIN_COLUMN = "disallowed_join_column"
    DISALLOWED_JOIN_OPERATOR = "disallowed_join_operator"
    MISSING_REQUIRED_JOIN = "missing_required_join"
    NON_AGGREGATE_OUTPUT = "non_aggregate_output"
    DIMENSION_VIOLATION = "dimension_violation"
    TEMPLATE_NOT_ALLOWED = "template_not_allowed"
    OUTPUT_COLUMN_DISALLOWED = "output_column_disallowed"
    COMPARISON_NOT_ALLOWED = "comparison_not_allowed"
    AGGREGATE_EXPRESSION_NOT_ALLOWED = "aggregate_expression_not_allowed"
    OTHER = "other"


@dataclass(frozen=True)
class AggregationRule:
    """``AnalysisRuleAggregation``: aggregate-only queries with dimensions and output constraints."""

    aggregate_columns: frozenset[tuple[str, str]]  # (FUNCTION, column), e.g. ("COUNT_DISTINCT", "user_id")
    join_columns: frozenset[str]
    dimension_columns: frozenset[str]
    scalar_functions: frozenset[str]
    output_constraints: tuple[tuple[str, int], ...]  # (column, minimum), all COUNT_DISTINCT
    join_required: bool = False
    join_operators: frozenset[str] = frozenset({"AND"})
    additional_analyses: str = ""
    type: RuleType = RuleType.AGGREGATION

    @property
    def listed_columns(self) -> frozenset[str]:
        """Every column the rule mentions in some role (A5: anything else is disallowed)."""
        return self.join_columns | self.dimension_columns | {c for _, c in self.aggregate_columns}


@dataclass(frozen=True)
class ListRule:
    """``AnalysisRuleList``: SELECT DISTINCT of list columns, joined to the querier's table."""

    join_columns: frozenset[str]
    list_columns: frozenset[str]
    join_operators: frozenset[str] = frozenset({"AND"})
    additional_analyses: str = ""
    type: RuleType = RuleType.LIST


@dataclass(frozen=True)
class AggregationThreshold:
    """The custom rule's minimum aggregation threshold (8.6.1): N distinct identities per row."""

    identity_column: str
    minimum: int
    columns_only: bool
    overrides: Mapping[str, int] = field(default_factory=dict)

    def minimum_for(self, column: str) -> int:
        """The override for ``column`` if any (0 exempts it), else the table-wide minimum."""
        return self.overrides.get(column, self.minimum)


@dataclass(frozen=True)
class ComparisonControls:
    """Columns a query may compare with a literal, and with another column (8.6.5)."""

    literal: frozenset[str]
    column: frozenset[str]


@dataclass(frozen=True)
class CustomRule:
    """``AnalysisRuleCustom``: approved templates or providers, plus the Spark-era controls."""

    allowed_analyses: frozenset[str]
    allowed_providers: frozenset[str]
    disallowed_output_columns: frozenset[str] = frozenset()
    differential_privacy_column: str = ""
    threshold: AggregationThreshold | None = None
    comparison: ComparisonControls | None = None
    allowed_result_receivers: frozenset[str] | None = None
    additional_analyses: str = ""
    type: RuleType = RuleType.CUSTOM

    @property
    def has_controls(self) -> bool:
        """True when 8.6's narrower SQL surface applies to any query touching this table."""
        return self.threshold is not None or self.comparison is not None


Rule = AggregationRule | ListRule | CustomRule


def _names(values: Sequence[str] | None) -> frozenset[str]:
    return frozenset(v.lower() for v in values or ())


def _operators(policy: Mapping[str, Any]) -> frozenset[str]:
    # The API: "Default is AND"; an explicit [] allows neither operator.
    if "allowedJoinOperators" not in policy:
        return frozenset({"AND"})
    return frozenset(policy["allowedJoinOperators"])


def _require(policy: Mapping[str, Any], kind: str, *keys: str) -> None:
    missing = [k for k in keys if k not in policy]
    if missing:
        raise PolicyError(f"{kind} analysis rule policy is missing {', '.join(missing)}")


def _aggregation(p: Mapping[str, Any], columns: frozenset[str] | None) -> AggregationRule:
    _require(p, "aggregation", "aggregateColumns", "joinColumns", "dimensionColumns", "scalarFunctions")
    _require(p, "aggregation", "outputConstraints")
    pairs = frozenset(
        (a["function"], c.lower()) for a in p["aggregateColumns"] for c in a.get("columnNames", ())
    )
    rule = AggregationRule(
        aggregate_columns=pairs,
        join_columns=_names(p["joinColumns"]),
        dimension_columns=_names(p["dimensionColumns"]),
        scalar_functions=frozenset(p["scalarFunctions"]),
        output_constraints=tuple(
            (o["columnName"].lower(), int(o["minimum"])) for o in p["outputConstraints"]
        ),
        join_required=p.get("joinRequired") == "QUERY_RUNNER",
        join_operators=_operators(p),
        additional_analyses=p.get("additionalAnalyses", ""),
    )
    if not rule.aggregate_columns or not rule.output_constraints:
        raise PolicyError(
            "aggregation analysis rule needs at least one aggregate column and output constraint"
        )
    both = (rule.join_columns | {c for _, c in pairs}) & rule.dimension_columns
    if both:
        raise PolicyError(f"columns {sorted(both)} cannot be both dimension and aggregate/join columns")
    unknown = sorted(set(rule.scalar_functions) - AGGREGATION_SCALAR_FUNCTIONS)
    if unknown:
        raise PolicyError(f"scalar functions {unknown} are not AWS scalar functions")
    _known(rule.listed_columns | {c for c, _ in rule.output_constraints}, columns)
    return rule


def _list(p: Mapping[str, Any], columns: frozenset[str] | None) -> ListRule:
    _require(p, "list", "joinColumns", "listColumns")
    rule = ListRule(
        join_columns=_names(p["joinColumns"]),
        list_columns=_names(p["listColumns"]),
        join_operators=_operators(p),
        additional_analyses=p.get("additionalAnalyses", ""),
    )
    if not rule.join_columns:
        raise PolicyError("list analysis rule needs at least one join column")
    if rule.join_columns & rule.list_columns:
        raise PolicyError(
            f"columns {sorted(rule.join_columns & rule.list_columns)} cannot be join and list columns"
        )
    _known(rule.join_columns | rule.list_columns, columns)
    return rule


def _custom(p: Mapping[str, Any], columns: frozenset[str] | None) -> CustomRule:
    _require(p, "custom", "allowedAnalyses")
    dp = p.get("differentialPrivacy") or {}
    threshold = None
    if p.get("aggregationThresholds"):
        items = p["aggregationThresholds"]
        if len(items) != 1 or len(items[0].get("identityColumns", ())) != 1:
            raise PolicyError(
                "aggregationThresholds takes exactly one threshold with exactly one identity column"
            )
        t = items[0]
        _require(t, "aggregation threshold", "minimumIdentityCount", "allowedAggregateExpressionType")
        overrides: dict[str, int] = {}
        for o in t.get("outputColumnThresholds", ()):
            name, minimum = o["outputColumnName"].lower(), int(o["minimumIdentityCount"])
            if name in overrides or minimum == 1:
                raise PolicyError(
                    f"output column threshold for {name!r} is repeated or 1 (use 0 or 2..100000)"
                )
            overrides[name] = minimum
        threshold = AggregationThreshold(
            identity_column=t["identityColumns"][0].lower(),
            minimum=int(t["minimumIdentityCount"]),
            columns_only=t["allowedAggregateExpressionType"] == "COLUMNS_ONLY",
            overrides=overrides,
        )
        _known({threshold.identity_column, *overrides}, columns)
    comparison = None
    if "comparisonControls" in p:
        c = p["comparisonControls"]
        _require(c, "comparisonControls", "allowedLiteralComparisonColumns", "allowedColumnComparisonColumns")
        comparison = ComparisonControls(
            _names(c["allowedLiteralComparisonColumns"]), _names(c["allowedColumnComparisonColumns"])
        )
        _known(comparison.literal | comparison.column, columns)
        if threshold and threshold.identity_column in comparison.literal:
            raise PolicyError("allowedLiteralComparisonColumns may not contain the identity column")
    receivers = p.get("allowedResultReceivers")
    rule = CustomRule(
        allowed_analyses=frozenset(p["allowedAnalyses"]),
        allowed_providers=frozenset(p.get("allowedAnalysisProviders") or ()),
        disallowed_output_columns=_names(p.get("disallowedOutputColumns")),
        differential_privacy_column=(dp.get("columns") or [{}])[0].get("name", "").lower(),
        threshold=threshold,
        comparison=comparison,
        allowed_result_receivers=None if receivers is None else frozenset(receivers),
        additional_analyses=p.get("additionalAnalyses", ""),
    )
    if rule.differential_privacy_column and rule.has_controls:
        raise PolicyError(
            "differentialPrivacy cannot be combined with aggregationThresholds or comparisonControls"
        )
    if rule.has_controls and rule.allowed_analyses == {"ANY_JOB"}:
        raise PolicyError("aggregation thresholds and comparison controls need a rule that allows queries")
    return rule


def _known(names: set[str] | frozenset[str], columns: frozenset[str] | None) -> None:
    if columns is None:
        return
    unknown = sorted(set(names) - columns)
    if unknown:
        raise PolicyError(f"analysis rule names columns {unknown} that the configured table does not have")


_PARSERS: dict[str, Callable[[Mapping[str, Any], frozenset[str] | None], Rule]] = {
    "aggregation": _aggregation,
    "list": _list,
    "custom": _custom,
}


def parse_policy(policy: Mapping[str, Any], *, columns: Sequence[str] | None = None) -> Rule:
    """Turn an API-shaped policy into a Rule, refusing what AWS refuses at configuration time.

    Args:
        policy: ``{"v1": {"aggregation": {...}}}`` (as the API returns it) or ``{"aggregation": {...}}``.
        columns: the configured table's columns, to check that the rule names only real ones.

    Returns:
        An ``AggregationRule``, ``ListRule`` or ``CustomRule``.

    Raises:
        PolicyError: the policy is malformed or breaks a documented constraint.
    """
    body = policy.get("v1", policy)
    kinds = [k for k in body if k in _PARSERS]
    if len(kinds) != 1:
        raise PolicyError("an analysis rule policy holds exactly one of aggregation, list or custom")
    known = None if columns is None else frozenset(c.lower() for c in columns)
    return _PARSERS[kinds[0]](body[kinds[0]], known)


#: The ``ScalarFunctions`` enum of the aggregation rule (API model).
AGGREGATION_SCALAR_FUNCTIONS = frozenset(
    "ABS CAST CEILING COALESCE CONVERT CURRENT_DATE DATEADD EXTRACT FLOOR GETDATE LN LOG LOWER ROUND RTRIM "
    "SQRT SUBSTRING TO_CHAR TO_DATE TO_NUMBER TO_TIMESTAMP TRIM TRUNC UPPER".split()
)
