"""Every broken fixture gives exactly its expected diagnostics, at the right positions, in one run.

Each folder under ``tests/spec/broken/`` is a stack with mistakes and an ``expected.txt``: the
diagnostics ``validate`` must report, one per entry, as
``file:line:col: severity: summary [code]`` (paths relative to the fixture) followed by an
indented ``hint:`` line when the diagnostic has a hint. Regenerate after a deliberate change
with ``UPDATE_EXPECTED=1 python3 -m pytest tests/spec/test_checks.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from reconciler.errors import Diagnostic
from reconciler.spec import catalog, checks, sql_checks, validate_stack
from reconciler.spec.load import display_path

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(p for p in BROKEN.iterdir() if p.is_dir())
README = Path(__file__).parents[2] / "README.md"
SECTION = re.compile(
    r"(<!-- section: validation-checks -->\n)(.*?)(<!-- end section: validation-checks -->)", re.DOTALL
)


def render(case: Path, diagnostics: list[Diagnostic]) -> str:
    """The diagnostics as expected.txt writes them (paths relative to the fixture)."""
    prefix = display_path(case) + os.sep
    lines = []
    for d in diagnostics:
        loc = d.location
        where = ""
        if loc is not None:
            path = Path(loc.path).resolve()
            rel = path.relative_to(case.resolve()) if path.is_relative_to(case.resolve()) else path
            where = f"{rel.as_posix()}:{loc.line}:{loc.column}: " if loc.line else f"{rel.as_posix()}: "
        lines.append(f"{where}{d.severity.value}: {d.summary} [{d.code}]")
        if d.hint:
            lines.append(f"  hint: {d.hint.replace(prefix, '')}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_fixture_reports_exactly_what_is_expected(case: Path) -> None:
    _, diagnostics = validate_stack(case)
    got = render(case, diagnostics)
    expected_file = case / "expected.txt"
    if os.environ.get("UPDATE_EXPECTED"):
        expected_file.write_text(got, encoding="utf-8")
    assert got == expected_file.read_text(encoding="utf-8")


def _documented_codes() -> set[str]:
    return {d.code for d in catalog.describe(checks.CHECKS, 3) + catalog.describe(sql_checks.CHECKS, 4)}


def _fixture_codes() -> set[str]:
    found: set[str] = set()
    for case in CASES:
        found |= set(re.findall(r" \[([a-z0-9-]+)\]$", (case / "expected.txt").read_text(), re.MULTILINE))
    return found


def test_every_documented_check_has_a_broken_fixture() -> None:
    missing = _documented_codes() - _fixture_codes()
    assert not missing, f"no broken fixture exercises {sorted(missing)}"


def test_every_code_a_fixture_reports_is_documented() -> None:
    documented = _documented_codes() | {d.code for d in catalog.foundation_docs()}
    undocumented = _fixture_codes() - documented
    assert not undocumented, f"codes missing from the docstrings / README table: {sorted(undocumented)}"


def test_every_check_code_documents_a_fix() -> None:
    for doc in catalog.describe(checks.CHECKS, 3) + catalog.describe(sql_checks.CHECKS, 4):
        assert doc.catches and doc.fix, doc


def test_readme_table_of_checks_is_current() -> None:
    table = catalog.checks_table(catalog.all_check_docs())
    text = README.read_text(encoding="utf-8")
    match = SECTION.search(text)
    assert match is not None, "README has no validation-checks section"
    if os.environ.get("UPDATE_EXPECTED"):
        body = catalog.readme_section(table)
        README.write_text(text[: match.start(2)] + body + text[match.end(2) :], encoding="utf-8")
        text = README.read_text(encoding="utf-8")
        match = SECTION.search(text)
        assert match is not None
    assert table in match.group(2), "README table of checks is stale: run with UPDATE_EXPECTED=1"
    assert match.group(2) == catalog.readme_section(table), (
        "README checks section is stale: run with UPDATE_EXPECTED=1"
    )
