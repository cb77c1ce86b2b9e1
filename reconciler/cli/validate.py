"""``reconciler validate``: check stacks without calling any API; exit 0 valid, 1 invalid.

With no STACK_DIR, every directory under ``./specs`` holding YAML files is validated (or the
current directory when there is no ``specs/``). JSON output (``--format json``) is::

    {"format_version": 1, "valid": bool, "errors": int, "warnings": int,
     "stacks": [{"path": str, "valid": bool, "errors": int, "warnings": int, "documents": int,
                 "diagnostics": [{"severity", "code", "summary", "detail", "hint",
                                  "path", "line", "column"}, ...]}]}
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.errors import Diagnostic, Severity, format_diagnostics
from reconciler.spec import validate_stack
from reconciler.spec.load import display_path

JSON_FORMAT_VERSION = 1


def default_stacks(cwd: Path) -> list[Path]:
    """Every stack directory under ``specs/`` (a directory holding YAML files), else ``cwd``."""
    specs = cwd / "specs"
    if specs.is_dir():
        found = sorted(d for d in specs.iterdir() if d.is_dir() and any(d.glob("*.y*ml")))
        if found:
            return [d.relative_to(cwd) for d in found]
    return [Path(".")]


@click.command("validate")
@click.argument("stacks", nargs=-1, type=click.Path(path_type=Path), metavar="[STACK_DIR ...]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def command(stacks: tuple[Path, ...], fmt: str) -> int:
    """Validate stacks: YAML, shape, AWS limits and semantic checks, as path:line:col messages.

    With no STACK_DIR, validates every stack directory under ./specs (or the current directory).
    Exit code 0 when valid (warnings allowed), 1 when any error is found.
    """
    paths = list(stacks) or default_stacks(Path.cwd())
    results = [(path, *validate_stack(path)) for path in paths]
    reports: list[dict[str, object]] = []
    all_diagnostics: list[Diagnostic] = []
    for path, stack, diagnostics in results:
        errors = sum(d.severity is Severity.ERROR for d in diagnostics)
        reports.append(
            {
                "path": display_path(path),
                "valid": errors == 0,
                "errors": errors,
                "warnings": len(diagnostics) - errors,
                "documents": len(stack.documents),
                "diagnostics": [d.to_json() for d in diagnostics],
            }
        )
        all_diagnostics.extend(diagnostics)
    errors = sum(d.severity is Severity.ERROR for d in all_diagnostics)
    if fmt == "json":
        document = {
            "format_version": JSON_FORMAT_VERSION,
            "valid": errors == 0,
            "errors": errors,
            "warnings": len(all_diagnostics) - errors,
            "stacks": reports,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        for report in reports:
            if report["valid"]:
                click.echo(f"{report['path']}: valid ({report['documents']} documents)")
        click.echo(format_diagnostics(all_diagnostics))
    return 1 if errors else 0
