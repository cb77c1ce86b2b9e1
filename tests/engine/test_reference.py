"""The README's allow-list section is the allow-list the engine enforces (engine/reference.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from reconciler.engine.reference import markdown

README = Path(__file__).parents[2] / "README.md"
SECTION = re.compile(r"(<!-- section: allow-list -->\n)(.*?)(<!-- end section: allow-list -->)", re.DOTALL)


def test_readme_documents_the_allow_list_the_engine_enforces() -> None:
    text = README.read_text(encoding="utf-8")
    match = SECTION.search(text)
    assert match is not None, "README has no allow-list section"
    if os.environ.get("UPDATE_EXPECTED"):
        README.write_text(text[: match.start(2)] + markdown() + text[match.end(2) :], encoding="utf-8")
        return
    assert match.group(2) == markdown(), "README allow-list is stale: run with UPDATE_EXPECTED=1"


def test_every_documented_function_is_named_once() -> None:
    text = markdown()
    assert "| COUNT | yes | yes | yes | counts |" in text
    assert "| EXTRACT |" in text and "Spark fields:" in text
