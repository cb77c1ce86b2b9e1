"""Shell completion (click's): stacks, member keys, addresses, plan files; the scripts for bash, zsh, fish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT, run
from e2e_helpers import copy_stack

from reconciler.cli import main


def complete(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: str) -> list[str]:
    """What bash would offer for ``line`` (the last word is the one being completed)."""
    words = line.split(" ")
    monkeypatch.setenv("_RECONCILER_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 0
    return [
        item.split(",", 1)[1] for item in capsys.readouterr().out.splitlines() if item.startswith("plain,")
    ]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    copy_stack("retail-adtech", tmp_path)
    copy_stack("org-a-org-b", tmp_path)
    return tmp_path


def test_stacks_complete_from_specs_and_the_shipped_examples(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert complete(monkeypatch, capsys, "reconciler plan retail") == [
        "retail-adtech",
        "retail-adtech-classic",
    ]
    assert complete(monkeypatch, capsys, "reconciler drift org") == ["org-a-org-b"]


def test_member_keys_complete_for_the_stack_on_the_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert complete(monkeypatch, capsys, "reconciler plan retail-adtech --as ") == ["adtech", "retailer"]
    assert complete(monkeypatch, capsys, "reconciler query org-a-org-b --as org_") == ["org_a", "org_b"]


def test_plan_files_and_addresses_complete(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "plan", "specs/retail-adtech", "--out", "plans/r.json")[0] == 0
    assert complete(monkeypatch, capsys, "reconciler show ") == ["plans/r.json"]
    assert complete(monkeypatch, capsys, "reconciler apply plans/") == ["plans/r.json"]
    assert complete(monkeypatch, capsys, "reconciler apply plans/r.json --as ") == ["adtech", "retailer"]
    monkeypatch.chdir(workdir / "specs" / "retail-adtech")  # a stack found as commands find it
    offered = complete(monkeypatch, capsys, "reconciler import association.")
    assert offered == [
        "association.retail-ad-campaign-analysis.adtech.ad_impressions",
        "association.retail-ad-campaign-analysis.retailer.purchases",
    ]


def test_a_stack_that_does_not_load_completes_to_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.yaml").write_text("kind: [\n")
    assert complete(monkeypatch, capsys, "reconciler plan broken --as ") == []


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --no-files --command reconciler")],
)
def test_each_shell_gets_its_script(shell: str, marker: str) -> None:
    env = {**os.environ, "_RECONCILER_COMPLETE": f"{shell}_source", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "from reconciler.cli import run; run()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and marker in done.stdout and "_RECONCILER_COMPLETE" in done.stdout
