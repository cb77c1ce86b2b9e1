"""The catalogue of validation codes, and the README's table of checks generated from it.

Every Diagnostic a validation layer makes carries a stable ``code``. Layers 0 to 2 (``load``,
``shape``, ``limits``) and the pipeline declare theirs in a ``CODES`` table next to the code that
makes them; the checks of layers 3 and 4 document theirs in their docstrings' ``Codes:``
sections, read here by ``describe``. ``checks_table`` and ``readme_section`` turn them into the
README's "Validation checks" section, which a test keeps current.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.spec import checks, limits, load, pipeline, shape, sql_checks
from reconciler.spec.stack import Check

__all__ = ["CodeDoc", "all_check_docs", "checks_table", "describe", "foundation_docs", "readme_section"]


@dataclass(frozen=True)
class CodeDoc:
    """One code of one check, as its docstring documents it."""

    code: str
    severity: str
    catches: str
    fix: str
    check: str
    layer: int


_CODE_LINE = re.compile(r"^ {8}(?P<code>[a-z0-9-]+) \((?P<severity>error|warning)\): (?P<text>.*)$")
_FIX_LINE = re.compile(r"^ {12}Fix: (?P<fix>.*)$")
_MORE_TEXT = re.compile(r"^ {12}(?!Fix: )(?P<more>\S.*)$")
_MORE_FIX = re.compile(r"^ {16}(?P<more>\S.*)$")


def describe(functions: Iterable[Check], layer: int) -> list[CodeDoc]:
    """Read the ``Codes:`` sections of the checks' docstrings.

    Each code is one entry: ``code (severity): what it catches`` at 8 spaces, continued at 12;
    then ``Fix: how to fix it`` at 12 spaces, continued at 16.

    Args:
        functions: check functions (``checks.CHECKS`` or ``sql_checks.CHECKS``).
        layer: the validation layer they belong to, for the table.

    Returns:
        One CodeDoc per documented code, in pipeline order.
    """
    docs: list[CodeDoc] = []
    for check in functions:
        entries: list[dict[str, str]] = []
        for line in (check.__doc__ or "").splitlines():
            entry = entries[-1] if entries else None
            if (code := _CODE_LINE.match(line)) is not None:
                entries.append({**code.groupdict(), "fix": ""})
            elif entry is None:
                continue
            elif (fix := _FIX_LINE.match(line)) is not None:
                entry["fix"] = fix["fix"]
            elif not entry["fix"] and (more := _MORE_TEXT.match(line)) is not None:
                entry["text"] += " " + more["more"]
            elif entry["fix"] and (more := _MORE_FIX.match(line)) is not None:
                entry["fix"] += " " + more["more"]
        docs += [
            CodeDoc(e["code"], e["severity"], e["text"], e["fix"], check.__name__, layer) for e in entries
        ]
    return docs


def checks_table(docs: Sequence[CodeDoc]) -> str:
    """The README's Markdown table of checks.

    Args:
        docs: the documented codes, e.g. ``describe(CHECKS, 3) + describe(sql_checks.CHECKS, 4)``.

    Returns:
        Markdown, one row per code.
    """
    rows = ["| code | what it catches | layer | severity | example fix |", "|---|---|---|---|---|"]
    for d in docs:
        rows.append(f"| `{d.code}` | {d.catches} | {d.layer} | {d.severity} | {d.fix} |")
    return "\n".join(rows)


def foundation_docs() -> list[CodeDoc]:
    """The codes of layers 0 to 2, as their modules declare them (``CODES``), layer by layer."""
    layers = ((load, "load", 0), (shape, "shape", 1), (pipeline, "pipeline", 1), (limits, "limits", 2))
    return [
        CodeDoc(code, severity, catches, fix, name, layer)
        for module, name, layer in layers
        for code, severity, catches, fix in module.CODES
    ]


def all_check_docs() -> list[CodeDoc]:
    """Every check of every layer, in the order the README lists them."""
    return [*foundation_docs(), *describe(checks.CHECKS, 3), *describe(sql_checks.CHECKS, 4)]


def readme_section(table: str) -> str:
    """The README's ``validation-checks`` section around the generated table."""
    return (
        "## Validation checks\n\n"
        "`reconciler validate [STACK_DIR ...] [--format text|json]` checks stacks before any API call\n"
        "(no argument: every stack directory under `./specs`, or the current directory when there is\n"
        "none). It reports every problem at once, sorted by file and line, as\n"
        "`path:line:col: severity: message` with a `hint:` where a fix is obvious (paths relative to\n"
        "the current directory). Only errors make it exit 1; warnings are shown and kept on the Stack.\n"
        "`--format json` prints `{format_version: 1, valid, errors, warnings, stacks: [{path, valid,\n"
        "errors, warnings, documents, diagnostics: [{severity, code, summary, detail, hint, path, line,\n"
        "column}]}]}`. A `policy.yaml` adds its own checks\n"
        "(see [Privacy policy as code](#privacy-policy-as-code)).\n\n"
        "The layers run in order:\n\n"
        "0. **YAML**: UTF-8 only; duplicate keys (both positions shown); nesting deeper than 64 levels,\n"
        "   aliases expanding to more than 100,000 nodes, files over 64 MiB, unknown tags and non-mapping\n"
        "   documents are refused with a message, never a traceback. Anchors, aliases and `<<` merge keys\n"
        "   work.\n"
        "1. **Shape and types** (the pydantic models in `reconciler/spec/models.py`): unknown keys,\n"
        "   missing fields, wrong types, unknown `kind:` / rule `type:`.\n"
        "2. **AWS's limits**, read from botocore's service model at run time (`reconciler/spec/limits.py`\n"
        "   maps each model to the API shape it feeds): lengths, patterns, enum values, list sizes,\n"
        '   numeric ranges, "exactly one of" unions.\n'
        "3. **Semantic checks** (`reconciler/spec/checks/`) and 4. **template SQL checks**\n"
        "   (`reconciler/spec/sql_checks.py`). They run when every document has a valid shape (errors\n"
        "   confined to fields no check reads, such as `dataEncryptionMetadata`, do not stop them);\n"
        "   otherwise the `checks-skipped` warning says so.\n\n"
        "There is no cycle check: references in this format only point one way (tables and templates\n"
        "to collaborations and members, rules to templates), so a spec cannot express a dependency\n"
        "cycle; the planner's graph would still raise `GraphError` if one appeared.\n\n"
        "This table is generated from the checks' docstrings (`spec.catalog`); a test fails\n"
        "when it is stale. Every code has a broken fixture in `tests/spec/broken/`.\n\n"
        f"{table}\n"
    )
