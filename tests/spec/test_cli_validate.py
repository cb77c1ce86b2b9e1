"""``reconciler validate``: messages, exit codes, JSON structure, default stacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_helpers import COLLABORATION, write

from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_valid_stack_exits_0_and_shows_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write(tmp_path / "s", {"c.yaml": COLLABORATION})
    assert main(["validate", str(stack)]) == 0
    out = capsys.readouterr().out
    assert "valid (1 documents)" in out
    assert out.rstrip().endswith("No errors or warnings.")


def test_invalid_stack_exits_1_with_path_line_col_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = write(tmp_path / "s", {"c.yaml": COLLABORATION.replace("creator:", "creater:")})
    assert main(["validate", str(stack)]) == 1
    out = capsys.readouterr().out
    assert f'{stack / "c.yaml"}:3:1: error: unknown field "creater"' in out
    assert '  hint: did you mean "creator"?' in out
    assert "Found 1 error " in out  # the misspelt key; its did-you-mean stands for the missing creator


def test_paths_are_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "s", {"c.yaml": "kind: Colaboration\n"})
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "s"]) == 1
    assert 's/c.yaml:1:7: error: unknown kind "Colaboration"' in capsys.readouterr().out


def test_json_output_is_the_documented_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good", {"c.yaml": COLLABORATION})
    bad = write(tmp_path / "bad", {"c.yaml": COLLABORATION.replace('"987654321098"', '"98765"')})
    assert main(["validate", "--format", "json", str(good), str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["format_version"], report["valid"], report["errors"]) == (1, False, 1)
    assert [(s["valid"], s["documents"]) for s in report["stacks"]] == [(True, 1), (False, 1)]
    (diag,) = report["stacks"][1]["diagnostics"]
    assert diag["code"] == "aws-length"
    assert (diag["line"], diag["column"], diag["severity"]) == (18, 16, "error")
    assert diag["path"].endswith("bad/c.yaml")


def test_missing_and_empty_stack_dirs_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "nope"), str(tmp_path / "empty")]) == 1
    out = capsys.readouterr().out
    assert "no such stack directory or file" in out
    assert "the stack has no YAML files" in out


def test_default_is_every_stack_under_specs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    code = main(["validate"])
    out = capsys.readouterr().out
    for stack in (
        "specs/retail-adtech",
        "specs/retail-adtech-classic",
        "specs/org-a-org-b",
        "specs/amc-multiparty",
    ):
        assert f"{stack}: valid" in out
    assert code == 0
