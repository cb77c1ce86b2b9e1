"""Errors and diagnostics: the one place that says how things go wrong.

Every failure a user can cause becomes a ``ReconcilerError``; ``reconciler.cli`` turns it into
text and an exit code, so no traceback ever reaches a user for bad input. Anything else that
escapes is a bug and is reported as one.

::

    ReconcilerError
     ├── SpecError              the YAML is wrong (carries every Diagnostic, sorted)
     ├── GraphError             the resources depend on each other in a cycle
     ├── PlanError              a saved plan is unreadable, stale, or for another stack
     ├── StateError             the state file or lock cannot be used
     │    ├── LockHeld          another apply holds the stack lock (execution.lock)
     │    ├── RemoteStateError  the remote state's bucket or table is missing or denied (execution.remote)
     │    └── StateConflict     another runner wrote the remote state since it was read (execution.remote)
     ├── BackendError           a call to Clean Rooms failed
     │    ├── RetryableBackendError   throttling, 5xx, IAM propagation delay
     │    └── TerminalBackendError    validation, access denied, conflicts that retrying cannot fix
     ├── LocalBackendError      the local backend cannot run (emulator.errors)
     │    ├── LocalBackendLockedError another process keeps its database busy (also a StateError)
     │    └── LocalFaultsError        RECONCILER_LOCAL_FAULTS is invalid
     ├── QueryRejected          a protected query broke an analysis rule (carries the Verdict)
     │    └── BudgetExhausted   the privacy budget has no room for it (dp.accountant)
     ├── PolicyError            an analysis-rule policy AWS would refuse (engine.rules)
     ├── DataError              a table's local data is missing or wrong, or the query failed (engine.run)
     ├── BudgetUpdateRefused    a privacy budget update the service refuses (dp.accountant)
     └── ReviewError            a revision or directory to compare cannot be read (gitops.review)

Classes named with a module are defined there, next to what raises them; the rest are here.
A test keeps this tree complete.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BackendError",
    "Diagnostic",
    "GraphError",
    "PlanError",
    "QueryRejected",
    "ReconcilerError",
    "RetryableBackendError",
    "Severity",
    "SourceLocation",
    "SpecError",
    "StateError",
    "TerminalBackendError",
    "format_diagnostics",
    "why_unusable",
]


@dataclass(frozen=True, order=True)
class SourceLocation:
    """A position in a user's file: 1-based line and column, as editors show them.

    >>> str(SourceLocation("specs/retail/purchases.yaml", 14, 7))
    'specs/retail/purchases.yaml:14:7'
    """

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.column}"


class Severity(enum.StrEnum):
    """How bad a Diagnostic is; only errors make ``validate`` fail."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec, with where it is and how to fix it.

    Args:
        summary: a short sentence saying what is wrong.
        location: where in the YAML (never where in Python).
        severity: error or warning.
        detail: optional longer explanation.
        hint: optional fix ("did you mean ...", "use EXTRACT(YEAR FROM ...)").
        code: a stable identifier of the check that made it (for JSON output and docs).
    """

    summary: str
    location: SourceLocation | None = None
    severity: Severity = Severity.ERROR
    detail: str = ""
    hint: str = ""
    code: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location or SourceLocation("")
        return (loc.path, loc.line, loc.column, self.summary)

    def to_text(self) -> str:
        where = f"{self.location}: " if self.location else ""
        lines = [f"{where}{self.severity.value}: {self.summary}"]
        if self.detail:
            lines.append(f"  {self.detail}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        loc = self.location
        return {
            "severity": self.severity.value,
            "code": self.code,
            "summary": self.summary,
            "detail": self.detail,
            "hint": self.hint,
            "path": loc.path if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
        }


def format_diagnostics(diagnostics: Iterable[Diagnostic], *, limit: int | None = None) -> str:
    """Render diagnostics sorted by file and line, with a closing count line.

    >>> where = SourceLocation("specs/retail.yaml", 14, 7)
    >>> hint = 'did you mean "retail-collab"?'
    >>> unknown = Diagnostic('Unknown collaboration "retail-colab"', where, hint=hint)
    >>> print(format_diagnostics([unknown]))
    specs/retail.yaml:14:7: error: Unknown collaboration "retail-colab"
      hint: did you mean "retail-collab"?
    Found 1 error and 0 warnings in 1 file.
    """
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    shown = ordered if limit is None else ordered[:limit]
    parts = [d.to_text() for d in shown]
    if limit is not None and len(ordered) > limit:
        parts.append(f"... and {len(ordered) - limit} more")
    if not ordered:
        parts.append("No errors or warnings.")
        return "\n".join(parts)
    errors = sum(1 for d in ordered if d.severity is Severity.ERROR)
    warnings = len(ordered) - errors
    files = len({d.location.path for d in ordered if d.location})
    parts.append(
        f"Found {errors} error{'s' if errors != 1 else ''}"
        f" and {warnings} warning{'s' if warnings != 1 else ''}"
        f" in {files} file{'s' if files != 1 else ''}."
    )
    return "\n".join(parts)


def why_unusable(path: Path, exc: OSError) -> str:
    """Why ``path`` could not be opened or created: "x is a file, not a directory", else the OS's words."""
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    return f"{blocking} is a file, not a directory" if blocking else (exc.strerror or str(exc))


class ReconcilerError(Exception):
    """Root of every error a user can cause; the CLI prints it without a traceback (exit 1)."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_text(self) -> str:
        return f"error: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")


class SpecError(ReconcilerError):
    """The spec is invalid; ``diagnostics`` holds every problem found, not just the first."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        super().__init__(f"the spec has {len(errors)} error{'s' if len(errors) != 1 else ''}")

    def to_text(self) -> str:
        return format_diagnostics(self.diagnostics)


class GraphError(ReconcilerError):
    """The resources form a dependency cycle (the message shows ``a -> b -> a``)."""


class PlanError(ReconcilerError):
    """A saved plan cannot be applied: unreadable, for another stack or backend, or stale."""


class StateError(ReconcilerError):
    """The state file or the stack lock cannot be used."""


class BackendError(ReconcilerError):
    """A Clean Rooms call failed; ``code`` is AWS's error code and ``operation`` the API name."""

    def __init__(self, message: str, *, code: str = "", operation: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.operation = operation


class RetryableBackendError(BackendError):
    """A transient failure: throttling, a 5xx, IAM propagation delay. Retrying may succeed."""


class TerminalBackendError(BackendError):
    """A failure retrying cannot fix: validation, access denied, a conflict in the plan's order."""


class QueryRejected(ReconcilerError):
    """A protected query was refused before any data was read; ``verdict`` says why."""

    def __init__(self, message: str, *, verdict: Any = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.verdict = verdict
