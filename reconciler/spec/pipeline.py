"""The validation pipeline: files -> YAML -> models -> AWS limits -> semantic checks -> Stack.

Layers, each reporting every problem it finds (nothing stops at the first):

0. YAML: encoding, syntax, duplicate keys, hostile input (``reconciler.spec.load``);
1. shape and types, per document (``reconciler.spec.shape``);
2. AWS's own limits from botocore's service model (``reconciler.spec.limits``);
3/4. the semantic and SQL checks: ``reconciler.spec.checks.CHECKS`` and
   ``reconciler.spec.sql_checks.CHECKS``, then the privacy policy's (``reconciler.spec.policy``);
   together ``SEMANTIC_CHECKS``.

Checks run only when every document has a valid shape: on a partial stack they would report
references to documents that merely failed to parse. A warning says so when they are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import Diagnostic, Severity, SourceLocation, SpecError
from reconciler.spec import artifacts, checks, limits, policy, sql_checks
from reconciler.spec.load import RawDocument, discover, display_path, load_file
from reconciler.spec.models import AnalysisTemplateSpec
from reconciler.spec.shape import salvage, to_model
from reconciler.spec.stack import Check, Stack

__all__ = ["CODES", "SEMANTIC_CHECKS", "load_stack", "load_stacks", "validate_stack"]

#: The Diagnostic codes the pipeline itself makes (layer 1): (code, severity, what it catches,
#: the fix), listed in the README's table of checks (``spec.catalog``).
CODES: tuple[tuple[str, str, str, str], ...] = (
    (
        "template-source",
        "error",
        "a template `source` without exactly one of `text` / `file`, or an unreadable SQL file",
        "give one of them; `file` is relative to the YAML file",
    ),
    *artifacts.CODES,
    (
        "checks-skipped",
        "warning",
        "layers 3 and 4 did not run because a document has the wrong shape",
        "fix the shape errors and validate again",
    ),
)

#: What runs after layers 1 and 2, in order: the semantic checks, the template SQL checks, and
#: the privacy policy's checks.
SEMANTIC_CHECKS: tuple[Check, ...] = (*checks.CHECKS, *sql_checks.CHECKS, *policy.CHECKS)


def validate_stack(path: Path | str, *, local_data: bool = True) -> tuple[Stack, list[Diagnostic]]:
    """Run every layer on one stack and return the Stack built and every Diagnostic (sorted).

    Args:
        path: a stack directory, or a single YAML file.
        local_data: whether ``localData`` files must exist (``review`` reviews specs, and a Git
            revision often lacks the sample data, which is ignored or generated).

    Returns:
        The Stack (holding the documents that have a valid shape) and all Diagnostics, errors and
        warnings, sorted by file and line. The stack is valid when no Diagnostic is an error.
    """
    root = Path(path)
    stack = Stack(root=root, needs_local_data=local_data)
    diagnostics: list[Diagnostic] = []
    if not root.exists():
        diagnostics.append(Diagnostic("no such stack directory or file", SourceLocation(display_path(root))))
        return stack, diagnostics
    files = discover(root)
    if not files:
        diagnostics.append(
            Diagnostic(
                "the stack has no YAML files",
                SourceLocation(display_path(root)),
                hint="a stack is a directory of *.yaml files, each holding documents with `kind:`",
            )
        )
        return stack, diagnostics
    shapes_ok = True
    for file in files:
        documents, problems = load_file(file)
        diagnostics.extend(problems)
        for doc in documents:
            model, problems = to_model(doc)
            diagnostics.extend(problems)
            if model is None:
                model = salvage(doc)  # errors only in fields no check reads: later layers still run
            if model is None:
                shapes_ok = False
                continue
            stack.add(model, doc)
            diagnostics.extend(limits.check(model, doc))
            if isinstance(model, AnalysisTemplateSpec):
                diagnostics.extend(_read_template_sql(stack, model, doc))
    if shapes_ok:
        for check in SEMANTIC_CHECKS:
            diagnostics.extend(check(stack))
    else:
        diagnostics.append(
            Diagnostic(
                "semantic checks were skipped because some documents have the wrong shape",
                SourceLocation(display_path(root)),
                severity=Severity.WARNING,
                hint="fix the errors above and validate again",
                code="checks-skipped",
            )
        )
    diagnostics.sort(key=Diagnostic.sort_key)
    stack.warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
    return stack, diagnostics


def load_stack(path: Path | str) -> Stack:
    """Load and validate a stack; the Stack returned is valid (it may carry warnings).

    Args:
        path: a stack directory (its ``*.yaml`` / ``*.yml`` files), or a single YAML file.

    Returns:
        The Stack.

    Raises:
        SpecError: with every Diagnostic (errors and warnings), sorted by file and line.
    """
    stack, diagnostics = validate_stack(path)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise SpecError(diagnostics)
    return stack


def load_stacks(paths: Sequence[Path | str]) -> list[Stack]:
    """``load_stack`` for several stacks, raising one SpecError with the Diagnostics of all."""
    stacks: list[Stack] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        stack, found = validate_stack(path)
        stacks.append(stack)
        diagnostics.extend(found)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise SpecError(diagnostics)
    return stacks


def _read_template_sql(stack: Stack, template: AnalysisTemplateSpec, doc: RawDocument) -> list[Diagnostic]:
    """Fill ``stack.template_sql`` from ``source.text`` or ``source.file``, or hash ``source.artifacts``."""
    source = template.source
    where = doc.locate(("source",))
    hashes, problems = artifacts.read_artifacts(template, doc)
    if hashes is not None:
        stack._artifacts[id(template)] = hashes
    if source.artifacts is not None:
        if source.text is not None or source.file is not None:
            problems.append(
                Diagnostic(
                    "source needs exactly one of `text`, `file` or `artifacts`", where, code="template-source"
                )
            )
        return problems
    if problems:
        return problems
    if (source.text is None) == (source.file is None):
        return [Diagnostic("source needs exactly one of `text` or `file`", where, code="template-source")]
    if source.text is not None:
        stack._sql[id(template)] = source.text
        return []
    assert source.file is not None
    file = doc.path.parent / source.file
    try:
        stack._sql[id(template)] = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [
            Diagnostic(
                f'cannot read the template SQL file "{source.file}": {reason}',
                doc.locate(("source", "file")),
                hint="the path is relative to this YAML file",
                code="template-source",
            )
        ]
    return []
