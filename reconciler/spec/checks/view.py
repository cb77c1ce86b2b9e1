"""What the semantic checks share: the stack indexed for their questions, and the format's constants.

``view(stack)`` indexes a stack once per check (collaborations by name, tables placed in each
collaboration, member keys, template names); ``View.diag`` makes a Diagnostic at a spec node.
``suggest`` makes the "did you mean" hints; ``walk`` follows a field path through a model.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Diagnostic, Severity
from reconciler.spec.models import AssociationSpec, CollaborationSpec, ConfiguredTableSpec
from reconciler.spec.stack import Stack

__all__ = [
    "ANALYSIS_KEYWORDS",
    "ANY_JOB",
    "ANY_QUERY",
    "ARN",
    "ERROR",
    "LEGACY_RULE_TYPES",
    "PAYMENTS",
    "RULE_COLUMN_FIELDS",
    "WARNING",
    "Placed",
    "View",
    "is_template_name",
    "quoted_names",
    "suggest",
    "view",
    "walk",
]

ERROR = Severity.ERROR
WARNING = Severity.WARNING

#: The ``allowedAnalyses`` keywords of a custom rule; anything else names an analysis template.
ANY_QUERY = "ANY_QUERY"
ANY_JOB = "ANY_JOB"
ANALYSIS_KEYWORDS = frozenset({ANY_QUERY, ANY_JOB})

#: Where each rule type names columns of its table, as field paths inside ``policy``
#: (``*`` walks every item of a list). Every one of them must be in ``allowedColumns``.
RULE_COLUMN_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AGGREGATION": (
        ("aggregateColumns", "*", "columnNames", "*"),
        ("joinColumns", "*"),
        ("dimensionColumns", "*"),
        ("outputConstraints", "*", "columnName"),
    ),
    "LIST": (("joinColumns", "*"), ("listColumns", "*")),
    "CUSTOM": (
        ("disallowedOutputColumns", "*"),
        ("differentialPrivacy", "columns", "*", "name"),
        ("aggregationThresholds", "*", "identityColumns", "*"),
        ("aggregationThresholds", "*", "outputColumnThresholds", "*", "outputColumnName"),
        ("comparisonControls", "allowedLiteralComparisonColumns", "*"),
        ("comparisonControls", "allowedColumnComparisonColumns", "*"),
    ),
}

#: Payment responsibilities: (field path in paymentConfiguration, words, ability of the default payer).
#: The service model documents each: "If the collaboration creator hasn't specified anyone as the
#: member paying ..., then the member who can query is the default payer."
PAYMENTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("queryCompute",), "query compute", "CAN_QUERY"),
    (("jobCompute",), "job compute", "CAN_RUN_JOB"),
    (("machineLearning", "modelTraining"), "model training", "CAN_QUERY"),
    (("machineLearning", "modelInference"), "model inference", "CAN_QUERY"),
    (("machineLearning", "syntheticDataGeneration"), "synthetic data generation", "CAN_QUERY"),
)

#: Rule types AWS documents for the CLEAN_ROOMS_SQL engine only.
LEGACY_RULE_TYPES = frozenset({"AGGREGATION", "LIST"})

ARN = re.compile(r"^arn:aws[\w-]*:")


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A 'did you mean' hint for a misspelt name, or "" when nothing is close.

    Args:
        name: what the user wrote.
        candidates: the names in scope.

    Returns:
        ``did you mean "x"?`` or an empty string.
    """
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else ""


def quoted_names(names: Iterable[str]) -> str:
    ordered = sorted(set(names))
    return ", ".join(f'"{n}"' for n in ordered) if ordered else "none"


def walk(
    obj: Any, pattern: Sequence[str], prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (path, value) that ``pattern`` reaches in a model; ``*`` walks list items."""
    if not pattern:
        yield prefix, obj
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        for i, item in enumerate(obj or ()):
            yield from walk(item, rest, (*prefix, i))
        return
    value = getattr(obj, head, None)
    if value is not None:
        yield from walk(value, rest, (*prefix, head))


@dataclass(frozen=True)
class Placed:
    """A configured table associated to a collaboration of the stack."""

    table: ConfiguredTableSpec
    index: int  # position in table.associations
    association: AssociationSpec

    @property
    def rule_type(self) -> str | None:
        return self.table.analysisRule.type if self.table.analysisRule else None


class View:
    """The stack indexed the way the checks ask questions of it (built once per check run)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.collaborations = stack.collaborations
        self.tables = stack.configured_tables
        self.templates = stack.analysis_templates
        self.budgets = stack.privacy_budget_templates
        self.collab: dict[str, CollaborationSpec] = {}
        for c in self.collaborations:
            self.collab.setdefault(c.key, c)
        self.placed: dict[str, list[Placed]] = defaultdict(list)
        for t in self.tables:
            for i, a in enumerate(t.associations):
                self.placed[a.collaboration].append(Placed(t, i, a))
        self.member_keys = {key for c in self.collaborations for key in c.members}
        self.template_names: dict[str, set[str]] = defaultdict(set)
        for tpl in self.templates:
            self.template_names[tpl.collaboration].add(tpl.name)

    def diag(
        self,
        code: str,
        node: Any,
        path: Sequence[str | int],
        summary: str,
        *,
        severity: Severity = ERROR,
        detail: str = "",
        hint: str = "",
    ) -> Diagnostic:
        return Diagnostic(
            summary=summary,
            location=self.stack.locate(node, *path),
            severity=severity,
            detail=detail,
            hint=hint,
            code=code,
        )

    def querier(self, collab: CollaborationSpec) -> str | None:
        """The (first) member who can query."""
        return next((k for k, m in collab.members.items() if "CAN_QUERY" in m.abilities), None)


def view(stack: Stack) -> View:
    """The stack indexed for the checks (cheap: one pass over its documents)."""
    return View(stack)


def is_template_name(entry: str) -> bool:
    return entry not in ANALYSIS_KEYWORDS and not ARN.match(entry)
