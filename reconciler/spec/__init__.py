"""The spec: YAML stacks -> validated pydantic models, with ``file:line:col`` for every problem.

Public API (what the planner and the checks use); ``load_stack`` raises ``SpecError`` with every
Diagnostic, sorted:

>>> from reconciler.workflow.stacks import EXAMPLES
>>> stack = load_stack(EXAMPLES / "retail-adtech")
>>> [c.name for c in stack.collaborations]          # list[CollaborationSpec], file order
['retail-ad-campaign-analysis']
>>> sorted(t.name for t in stack.configured_tables)  # rule and associations inside
['ad_impressions', 'purchases']
>>> table = stack.configured_tables[0]
>>> str(stack.locate(table, "analysisRule", "type")).endswith("ad_impressions.yaml:12:9")
True

Also: ``stack.analysis_templates``, ``stack.privacy_budget_templates``, ``stack.warnings``
(Diagnostics of severity warning), ``stack.root``, ``stack.documents`` (every document model, in
file order), ``stack.collaboration(name)``, ``stack.locate(node, "tags", "team", key=True)`` (the
key rather than the value), ``stack.file_of(node)``, ``stack.resolve_path(table,
table.localData)`` and ``stack.template_sql(template)``.

A ``Check`` is ``Callable[[Stack], Iterable[Diagnostic]]``; the pipeline runs
``reconciler.spec.checks.CHECKS``, ``reconciler.spec.sql_checks.CHECKS`` and the privacy
policy's ``reconciler.spec.policy.CHECKS`` after layers 1 (shape, ``shape.py``) and 2 (AWS
limits from botocore, ``limits.py``), and only when every document has a valid shape.
``validate_stack`` returns ``(Stack, diagnostics)`` without raising, for ``reconciler validate``.

Modules: ``models`` (the format), ``load`` (YAML with positions, hostile-input limits),
``shape`` (layer 1), ``limits`` (layer 2), ``checks`` (layer 3) and ``sql_checks`` (layer 4),
``policy`` (privacy policy as code), ``stack`` (Stack, Check), ``pipeline`` (the layers in
order), ``catalog`` (every code, and the README's table of them), ``schema`` (JSON Schema
generation).
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
