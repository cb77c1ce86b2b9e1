"""The spec: YAML stacks -> validated pydantic models, with ``file:line:col`` for every problem.

Public API (what the planner and the checks use)::

    from reconciler.spec import load_stack, Stack, Check

    stack = load_stack("specs/retail-adtech")   # raises SpecError with every Diagnostic, sorted
    stack.collaborations        # list[Collaboration]       (file order)
    stack.configured_tables     # list[ConfiguredTable]     (rule + associations inside)
    stack.analysis_templates    # list[AnalysisTemplate]
    stack.privacy_budget_templates  # list[PrivacyBudgetTemplate]
    stack.warnings              # list[Diagnostic] of severity warning
    stack.root                  # the stack directory
    stack.documents             # every document model, in file order
    stack.collaboration(name)   # Collaboration | None
    stack.locate(node, "analysisRule", "policy", "aggregationThresholds", 0)  # -> SourceLocation
    stack.locate(node, "tags", "team", key=True)   # the key rather than the value
    stack.file_of(node)         # the YAML file declaring node (any model, nested ones too)
    stack.resolve_path(table, table.localData)     # a path written in the YAML, made absolute-ish
    stack.template_sql(template)                   # source.text, or the contents of source.file

A ``Check`` is ``Callable[[Stack], Iterable[Diagnostic]]``; the pipeline runs
``reconciler.spec.checks.CHECKS`` and ``reconciler.spec.sql_checks.CHECKS`` (tuples of Checks)
after layers 1 (shape, ``shape.py``) and 2 (AWS limits from botocore, ``limits.py``), and only
when every document has a valid shape. ``validate_stack`` returns ``(Stack, diagnostics)``
without raising, for ``reconciler validate``.

Modules: ``models`` (the format), ``load`` (YAML with positions, hostile-input limits),
``shape`` (layer 1), ``limits`` (layer 2), ``stack`` (Stack, Check), ``pipeline`` (the layers in
order), ``schema`` (JSON Schema generation).
"""

from __future__ import annotations

from reconciler.errors import Diagnostic, Severity, SourceLocation, SpecError
from reconciler.spec.models import (
    AnalysisTemplateSpec,
    AssociationSpec,
    CollaborationSpec,
    ConfiguredTableSpec,
    MembershipSpec,
    MemberSpec,
    PrivacyBudgetTemplateSpec,
)
from reconciler.spec.pipeline import load_stack, load_stacks, validate_stack
from reconciler.spec.stack import Check, Stack

__all__ = [
    "AnalysisTemplateSpec",
    "AssociationSpec",
    "Check",
    "CollaborationSpec",
    "ConfiguredTableSpec",
    "Diagnostic",
    "MemberSpec",
    "MembershipSpec",
    "PrivacyBudgetTemplateSpec",
    "Severity",
    "SourceLocation",
    "SpecError",
    "Stack",
    "load_stack",
    "load_stacks",
    "validate_stack",
]
